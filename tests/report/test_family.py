"""`[gate] family = "session"`: the workers record the p-values, the controller adjusts them together."""

from __future__ import annotations

import json
from typing import Any

from pytest_specbench.config.gate import GateFamily, GateTolerances
from pytest_specbench.report.family import session_family
from pytest_specbench.report.paired import paired_verdicts
from pytest_specbench.verdicts.regression import judge
from pytest_specbench.verdicts.significance import Verdict

SESSION = GateTolerances(family=GateFamily.SESSION)
TEST = GateTolerances()


def sampled(*values: float) -> dict[str, Any]:
    return {"per_sample": [{"requirements": v, "checks": []} for v in values], "checks": []}


def gated(name: str, old: list[float], new: list[float], gate: GateTolerances = SESSION) -> dict[str, Any]:
    """A record as a worker writes it: the test's ids and the gate's `regression` field."""
    result = judge(sampled(*new), sampled(*old), gate, "baseline.json")
    record = {"test_id": f"test_spec[{name}]", "nodeid": f"t.py::test_spec[{name}]", "checks": []}
    return json.loads(json.dumps({**record, **result.fields()}))


STEADY = ([100, 120, 140], [130, 100, 120])


def test_a_worker_only_records_and_the_controller_decides_by_bh_over_the_session() -> None:
    worker = judge(sampled(110, 125, 125), sampled(170, 178, 174), SESSION, "baseline.json")
    records = [gated("drop", [170, 178, 174], [110, 125, 125])] + [gated(f"s{i}", *STEADY) for i in range(3)]

    decided = session_family(records)

    assert worker.check().passed and worker.check().detail.startswith("decided at session end")
    assert set(decided) == {f"t.py::test_spec[{n}]" for n in ("drop", "s0", "s1", "s2")}
    drop = decided["t.py::test_spec[drop]"]
    assert drop.verdict is Verdict.REGRESSED and not drop.check().passed
    (metric,) = drop.judgments
    assert metric.adjustment == "BH" and metric.p_adjusted is not None and metric.p is not None
    assert metric.p_adjusted > metric.p  # four tests, the smallest p of them: q = 4 p / 1
    assert "one-sided BH q = 0.016, Welch/log, 3 v 3): regressed" in drop.check().detail
    assert drop.fields()["regression"]["family"] == "session" and drop.fields()["regression"]["decided"]


def test_a_change_significant_alone_is_not_among_many_tests() -> None:
    alone = judge(sampled(150, 160, 140), sampled(170, 178, 174), TEST, "baseline.json")
    records = [gated("drop", [170, 178, 174], [150, 160, 140])] + [gated(f"s{i}", *STEADY) for i in range(12)]

    decided = session_family(records)["t.py::test_spec[drop]"]

    assert alone.verdict is Verdict.REGRESSED
    assert decided.verdict is Verdict.INCONCLUSIVE


def test_records_of_the_test_family_and_not_compared_ones_are_left_alone() -> None:
    records = [
        gated("own", *STEADY, gate=TEST),
        {"test_id": "x", "regression": {"verdict": "not compared"}},
    ]

    assert session_family(records) == {}


def test_a_baseline_model_pair_under_a_session_family_is_judged_on_its_own() -> None:
    def run(model: str, requirements: list[float]) -> dict[str, Any]:
        record = {"test_id": "t", "nodeid": f"t.py::test_spec[{model}-b]", "model": model, "brief": "b"}
        return record | sampled(*requirements) | {"outcome": "passed", "gate": SESSION.fields()}

    (pair,) = paired_verdicts([run("new", [110, 125, 125]), run("old", [170, 178, 174])], {"new": "old"})

    assert not pair.verdict.passed and pair.verdict.detail.startswith("requirements 174 → 120")
