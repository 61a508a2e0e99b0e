"""One run of a model on a brief: its plan, its execution, its samples, its result and its record.

Internal: users get `SpecRun` from `pytest_specbench` and the `spec_run` fixture.
"""
