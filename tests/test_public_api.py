"""The package's public names and its promise of a cheap, side-effect-free import."""

from __future__ import annotations

import subprocess
import sys

import pytest_specbench


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(pytest_specbench) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(pytest_specbench, name)).__name__ == "module"}
    assert sorted(pytest_specbench.__all__) == sorted(public - modules - {"annotations"})


def test_import_loads_no_model_or_mcp_sdk() -> None:
    code = (
        "import sys, pytest_specbench, pytest_specbench.plugin; "
        "print(sorted(m for m in ('openai', 'anthropic', 'mcp', 'llama_cpp') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
