"""The record the writer builds, pinned as text: a change to its types must not change the results.json.

`records.json` beside this file was written by the writer before its records were typed; the same
runs must give the same file, byte for byte (fields, values and their order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_specbench._record import validate_record
from pytest_specbench._run.result import Sample, SpecRun
from pytest_specbench.agent.stats import RunStats
from pytest_specbench.agent.tools import RunPaths
from pytest_specbench.agent.transcript import StopEvent, Transcript
from pytest_specbench.config.gate import GateFamily, GateTolerances
from pytest_specbench.config.settings import BriefConfig, ModelConfig, Provider, ScaffoldConfig, ScaffoldTool
from pytest_specbench.tree import Feature, Requirement, SpecTree
from pytest_specbench.verdicts.checks import Check
from pytest_specbench.verdicts.regression import judge

PINNED = Path(__file__).with_name("records.json")
MODEL = ModelConfig("m", Provider.OPENAI, "gpt", price_input_per_mtok=3.0, price_output_per_mtok=15.0)
BRIEF = BriefConfig(
    "b",
    Path("/code"),
    "Specify.",
    extra={"reference_features": ({"name": "notes", "aliases": ("memo",)}, {"name": "undo", "aliases": ()})},
)
SCAFFOLD = ScaffoldConfig("todo", (ScaffoldTool.TODO,), remind=True)


def _tree(requirements: int) -> SpecTree:
    reqs = tuple(
        Requirement(f"R-000{n}", f"Req {n}", "d", ("c",) * n, f"F-0001/R-000{n}.md")
        for n in range(1, requirements + 1)
    )
    return SpecTree(features=(Feature("F-0001", "Notes", "Taking notes.", "F-0001/feature.md", reqs),))


def _sample(number: int, requirements: int, passed: bool) -> Sample:
    stats = RunStats(
        turns=3 + number,
        tool_calls=5 * number,
        tool_errors=1,
        tool_errors_by_kind={"invalid_json": 1},
        input_tokens=1000 * number,
        output_tokens=100 * number,
        seconds=1.5 * number,
        context_window=8192,
        peak_context_tokens=900,
        end_context_tokens=800,
    )
    checks = (
        Check("no_loop", True, "no call repeated"),
        Check("min_requirements", passed, f"{requirements} ≥ 2" if passed else f"{requirements} < 2"),
        Check("tree_quality", False, "1 placeholder > 0", known=True),
    )
    return Sample(
        "test_spec[m-b-todo]",
        MODEL,
        BRIEF,
        RunPaths(Path("/w"), Path("/w/specs"), Path("/w/code")),
        _tree(requirements),
        Transcript([StopEvent("final_answer", f"final answer at turn {3 + number}")]),
        stats,
        checks,
        SCAFFOLD,
        source="replayed",
        recorded_seconds=4.25,
        started_at=1000.0 + number,
        ended_at=1010.0 + number,
    )


def _records() -> dict[str, Any]:
    one = SpecRun((_sample(1, 3, True),))
    repeated = SpecRun((_sample(1, 3, True), _sample(2, 1, False), _sample(3, 2, True)), min_passes=2)
    gate = GateTolerances(max_tokens_increase=0.5, alpha=0.01, family=GateFamily.SESSION)
    result = judge(repeated.record(), one.record(), gate, "baseline.json")
    gated = repeated.judged(result.check())
    return {
        "one": one.record(),
        "repeated": repeated.record(),
        "gated": {**gated.record(), "gate": gate.fields(), **result.fields()},
    }


def _text(records: dict[str, Any]) -> str:
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


def test_the_writer_writes_the_pinned_records() -> None:
    records = _records()

    assert _text(records) == PINNED.read_text(encoding="utf-8")
    for name, record in records.items():
        validate_record(json.loads(json.dumps(record)), PINNED, list(records).index(name))


if __name__ == "__main__":  # regenerate: python tests/test_record_writer.py (review the diff!)
    PINNED.write_text(_text(_records()), encoding="utf-8")
