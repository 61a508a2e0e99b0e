"""`python -m pytest_specbench`: the `specbench` command."""

from __future__ import annotations

import sys

from pytest_specbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
