"""Reading results.json back, and merging the results of CI shards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.errors import ResultsFileError
from pytest_specbench.report.results import merge_results, read_results


def write(path: Path, records: Any) -> Path:
    path.write_text(json.dumps(records))
    return path


def rec(test_id: str, version: int = 1) -> dict[str, Any]:
    return {"version": version, "test_id": test_id, "nodeid": f"t.py::{test_id}"}


def test_records_are_read_by_node_id_and_shards_merge(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", [rec("test_spec[m-a]")])
    b = write(tmp_path / "b.json", [rec("test_spec[m-b]"), rec("test_spec[n-b]")])

    assert list(read_results(a)) == ["t.py::test_spec[m-a]"]
    merged = merge_results([a, b])
    assert [r["test_id"] for r in merged] == ["test_spec[m-a]", "test_spec[m-b]", "test_spec[n-b]"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("{not json", "not JSON"),
        ('{"version": 1}', "not a list of results records"),
        (json.dumps([rec("x", version=99)]), "record x has results version 99, this plugin reads 1"),
        (json.dumps([rec("x"), rec("x")]), "t.py::x appears twice"),
    ],
)
def test_an_unusable_file_is_an_error_naming_it(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(ResultsFileError) as info:
        read_results(path)

    assert str(info.value).startswith(f"{path}: {problem}")


def test_a_test_in_two_shards_is_an_error(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", [rec("x")])
    b = write(tmp_path / "b.json", [rec("x")])

    with pytest.raises(ResultsFileError, match=r"b.json: t.py::x is also in .*a.json"):
        merge_results([a, b])
