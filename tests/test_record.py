"""The typed results record: every field the plugin writes passes, every wrong type is one line."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench._record import validate_record
from pytest_specbench.config.gate import GateFamily, GateTolerances
from pytest_specbench.errors import ResultsFileError
from pytest_specbench.report.results import read_results
from pytest_specbench.testing import FakeProvider, Reply, call
from pytest_specbench.verdicts.regression import GATE_DEFAULTS

FEATURE = {
    "id": "F-0001",
    "title": "Notes",
    "description": "Taking notes.",
    "requirements": [{"id": "R-0001", "title": "Add", "description": "d", "criteria": ["c"]}],
    "children": [],
    "reference": None,
}
RECORD: dict[str, Any] = {
    "version": 1,
    "test_id": "test_spec[m-b]",
    "nodeid": "t.py::test_spec[m-b]",
    "model": "m",
    "brief": "b",
    "scaffold": "bare",
    "provider": "openai",
    "model_name": "scripted",
    "checks": [{"name": "min_features", "passed": False, "detail": "0 < 1", "known": True}],
    "features": 1,
    "requirements": 1.5,
    "feature_recall": None,
    "tree": [FEATURE],
    "cost_usd": 0.01,
    "samples": 2,
    "passes": 1,
    "pass_hat_k": {"1": 0.5, "2": 0.0},
    "metrics": {"requirements": {"mean": 1.5, "stdev": 0.7, "min": 1.0, "max": 2.0}, "cost_usd": None},
    "per_sample": [{"requirements": 1, "checks": []}, {"requirements": 2, "checks": []}],
    "gate": {"max_requirements_drop": 0.1, "max_cost_increase": None},
    "source": "replayed",
    "outcome": "failed",
    "error": None,
    "requirements_vs_bare": -3,
}


def test_a_full_record_passes_as_it_is() -> None:
    assert validate_record(copy.deepcopy(RECORD), "r.json", 0) == RECORD


@pytest.mark.parametrize(
    ("path", "value", "said"),
    [
        (["checks"], "x", 'field checks must be a list, got "x"'),
        (["checks"], None, "field checks must be a list, got null"),
        (["checks", 0, "passed"], "yes", 'field checks[0].passed must be true or false, got "yes"'),
        (["checks", 0], {"passed": True}, "field checks[0].name is missing"),
        (["features"], [1], "field features must be a finite number, got [1]"),
        (["features"], True, "field features must be a finite number, got true"),
        (["features"], math.nan, "field features must be a finite number, got NaN"),
        (["requirements"], -1, "field requirements must be 0 or more, got -1"),
        (["cost_usd"], "0.01", 'field cost_usd must be a finite number, got "0.01"'),
        (["metrics"], "x", 'field metrics must be an object, got "x"'),
        (["metrics", "requirements", "mean"], None, "field metrics.requirements.mean must be a finite"),
        (["tree", 0, "requirements"], None, "field tree[0].requirements must be a list, got null"),
        (["tree", 0, "children"], [{"id": "F", "title": "t"}], "field tree[0].children[0].requirements is"),
        (["per_sample", 1, "requirements"], "2", 'field per_sample[1].requirements must be a finite number'),
        (["gate", "max_requirements_drop"], "x", 'field gate.max_requirements_drop must be a finite number'),
        (["outcome"], "maybe", 'field outcome must be one of passed, failed'),
        (["feature_recall"], 2, "field feature_recall must be a fraction between 0 and 1, got 2"),
        (["version"], True, "field version must be a finite number, got true"),
        (["test_id"], 7, "field test_id must be a string, got 7"),
        (["context_window"], 1.5, "field context_window must be a whole number, got 1.5"),
        (["deterministic"], "yes", 'field deterministic must be true or false, got "yes"'),
        (["per_sample", 0, "source"], "moon", 'field per_sample[0].source must be one of live, recorded'),
        (["regression"], {"metrics": []}, "field regression.verdict is missing"),
    ],
)  # fmt: skip
def test_a_wrong_field_is_one_line_naming_file_record_and_field(
    path: list[Any], value: Any, said: str
) -> None:
    record = copy.deepcopy(RECORD)
    parent = record
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value

    with pytest.raises(ResultsFileError) as caught:
        validate_record(record, "shard/results.json", 2)

    message = str(caught.value)
    name = "#3" if path == ["test_id"] else "test_spec[m-b] (#3)"
    assert message.startswith(f"shard/results.json: record {name}: {said}"), message
    assert "\n" not in message


def test_the_gate_of_a_session_family_reads_back() -> None:
    """`[gate] family = "session"` puts a word in the record's gate: a baseline made of it must load."""
    gate = GateTolerances(alpha=0.01, family=GateFamily.SESSION).fields()
    record = copy.deepcopy(RECORD) | {"gate": json.loads(json.dumps(gate))}

    assert validate_record(record, "r.json")["gate"] == {**GATE_DEFAULTS, "alpha": 0.01, "family": "session"}
    with pytest.raises(ResultsFileError, match=r"field gate\.family must be one of test, session"):
        validate_record(record | {"gate": {"family": "sometimes"}}, "r.json")


def test_read_results_checks_every_record(tmp_path: Path) -> None:
    bad = copy.deepcopy(RECORD) | {"test_id": "test_spec[m-c]", "nodeid": "t.py::c", "features": {"n": 1}}
    path = tmp_path / "results.json"
    path.write_text(json.dumps([RECORD, bad]))

    with pytest.raises(ResultsFileError, match=r"record test_spec\[m-c\] \(#2\): field features must be"):
        read_results(path)


def test_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "results.json"
    os.mkfifo(fifo)  # opened for reading, it would block until a writer came

    with pytest.raises(ResultsFileError, match="not a regular file"):
        read_results(fifo)


def test_every_record_a_session_writes_is_a_valid_record(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    """The writer and the type agree: a run with repeats and a scaffold, its record read back as is."""
    name = suite.model("writer")
    suite.brief("notes", min_features=1, repeats=2)
    suite.write("def test_spec(spec_run, scaffold):\n    assert spec_run.samples\n")
    feature = call("create_feature", title="Notes", description="Taking notes.")
    provider.script(name, [Reply(tool_calls=[feature]), Reply.final("Done.")])

    result = pytester.runpytest("--specbench-report=out", "--scaffolds=bare,full")

    result.assert_outcomes(passed=2)
    data = json.loads((pytester.path / "out" / "results.json").read_text())
    assert [validate_record(r, "results.json", i)["samples"] for i, r in enumerate(data)] == [2, 2]
    assert {"per_sample", "metrics", "gate", "tree", "checks", "started_at"} <= set(data[0])
