"""Per-process state of a pytest-specbench session and the run → record path built on it.

Internal: the plugin module wires these into pytest's hooks and fixtures.
"""
