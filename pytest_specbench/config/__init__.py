"""specbench.toml: the typed settings (`settings`), the gate's tolerances (`gate`), the checks and
their brief keys, each declared once (`checks`), the key parsers (`keys`), the schema of which key
goes where (`schema`), and finding and loading the file (`load`).

The first stage of the data's way: nothing here imports a later stage.
"""

from __future__ import annotations

from pytest_specbench.config.load import DEFAULT_CONFIG, find_config, load_config

__all__ = ["DEFAULT_CONFIG", "find_config", "load_config"]
