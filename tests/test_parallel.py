"""Runs in parallel share nothing: each run's files live under its own tmp_path, whatever the worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

MODELS = 4
BRIEFS = ("notes", "todo")
TEST = """
import json, os
from pathlib import Path

def test_spec(spec_run, specbench_paths, tmp_path):
    assert spec_run.transcript.stop.reason == "final_answer"
    workspace = specbench_paths.workspace
    files = sorted(str(p) for p in workspace.rglob("*") if p.is_file())
    seen = {{"tmp_path": str(tmp_path), "workspace": str(workspace), "files": files, "pid": os.getpid()}}
    Path({seen!r}, spec_run.test_id + ".json").write_text(json.dumps(seen))
"""


def _script(model: int) -> list[Reply]:
    features = [call("create_feature", title=f"Feature {model}.{i}", description="d") for i in range(3)]
    return [Reply(tool_calls=features), Reply.final("Done.")]


def test_parallel_runs_never_share_a_file(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    seen = pytester.path / "seen"
    seen.mkdir()
    for model in range(MODELS):
        provider.script(suite.model(f"m{model}"), _script(model))
    for brief in BRIEFS:
        suite.brief(brief)
    suite.write(TEST.format(seen=str(seen)))

    result = pytester.runpytest("-n", "3", "--specbench-transport=memory", "--specbench-report=out")

    runs = MODELS * len(BRIEFS)
    result.assert_outcomes(passed=runs)
    views = [json.loads(path.read_text()) for path in sorted(seen.iterdir())]
    assert len(views) == runs
    assert len({view["pid"] for view in views}) > 1  # really in several workers
    owners: dict[str, str] = {}
    for view in views:
        workspace = Path(view["workspace"])
        assert workspace.parent == Path(view["tmp_path"])
        assert len(view["files"]) == 4  # three features and the server log
        for file in view["files"]:
            assert Path(file).is_relative_to(workspace)
            assert owners.setdefault(file, view["workspace"]) == view["workspace"]
    records = json.loads((pytester.path / "out" / "results.json").read_text())
    assert sorted(r["test_id"] for r in records) == sorted(p.stem for p in seen.iterdir())
    assert len(list((pytester.path / "out" / "transcripts").iterdir())) == runs
    assert list((pytester.path / "out").glob(".results.json.*")) == []


def test_results_json_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    from pytest_specbench.report.summary import write_json_atomic

    target = tmp_path / "results.json"
    write_json_atomic(target, [{"test_id": "a", "error": "a lone \ud800 from a model"}])
    with pytest.raises(TypeError):
        write_json_atomic(target, [{"test_id": "b", "oops": object()}])  # fails halfway through

    assert json.loads(target.read_text(encoding="utf-8")) == [
        {"test_id": "a", "error": "a lone \ud800 from a model"}
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
