"""The example suite: one test per model × brief in specbench.toml."""

from pytest_specbench import SpecRun


def test_spec(spec_run: SpecRun, snapshot) -> None:
    spec_run.verify()  # termination, files, thresholds: one message listing every failed check
    assert spec_run.tree == snapshot  # the generated spec tree, as a readable Markdown snapshot
