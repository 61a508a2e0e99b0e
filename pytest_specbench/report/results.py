"""Reading results.json back: a baseline to gate against, the inputs of `specbench compare` and `merge`.

A results file is a JSON list of records, each with the `version` this package writes
(`RESULTS_VERSION`). A record is known by its `nodeid` (unique in a session), or by its
`test_id` in a file without node ids.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_specbench._record import Record, validate_record
from pytest_specbench._run.record import RESULTS_VERSION
from pytest_specbench.errors import ResultsFileError

__all__ = ["Results", "merge_results", "read_results", "record_key", "why"]

_FIX = "pass a results.json written by --specbench-report"

Results = dict[str, Record]
"""Records by `record_key`, in file order."""


def why(record: Mapping[str, Any]) -> str:
    """What a reader should see first: the error or skip, else the first failed check, else the
    first known failure (a passing run still names what its model is known to get wrong)."""
    if record.get("outcome") in {"error", "skipped"}:
        return str(record.get("error") or record.get("skip_reason") or "")
    checks = [c for c in record.get("checks") or [] if not c.get("passed")]
    failed = [c for c in checks if not c.get("known")]
    if failed:
        return f"{failed[0]['name']}: {failed[0].get('detail', '')}"
    known = f"known failure {checks[0]['name']}: {checks[0].get('detail', '')}" if checks else ""
    if record.get("snapshot_diff"):
        return "tree differs from its snapshot (diff below)" + (f" · {known}" if known else "")
    return known


def record_key(record: Mapping[str, Any]) -> str:
    """What identifies a record within a session: its node id, else its test id."""
    return str(record.get("nodeid") or record.get("test_id"))


def read_results(path: Path) -> Results:
    """The records of one results.json, by key.

    Raises:
        ResultsFileError: the file is missing, not JSON, not a list of records, of another
            version, or holds one test twice.
    """
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block the read, a directory fail it
            raise ResultsFileError(str(path), "not a regular file", _FIX)
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFileError(str(path), "no such file", _FIX) from None
    except (OSError, UnicodeError) as exc:
        raise ResultsFileError(str(path), f"cannot read it: {exc}", _FIX) from None
    except ValueError as exc:
        raise ResultsFileError(str(path), f"not JSON ({exc})", _FIX) from None
    except RecursionError:
        raise ResultsFileError(str(path), "not JSON a reader can take (nested too deep)", _FIX) from None
    if not isinstance(data, list) or not all(isinstance(r, dict) and "test_id" in r for r in data):
        raise ResultsFileError(str(path), "not a list of results records", _FIX)
    return _index(path, data)


def _index(path: Path, records: Iterable[dict[str, Any]]) -> Results:
    indexed: Results = {}
    for number, data in enumerate(records):
        version = data.get("version")
        if type(version) is not int or version != RESULTS_VERSION:  # `true == 1` in Python
            raise ResultsFileError(
                str(path),
                f"record {data['test_id']} has results version {version!r}, this plugin reads "
                f"{RESULTS_VERSION}",
                "write it again with this version of pytest-specbench",
            )
        record = validate_record(data, path, number)
        key = record_key(record)
        if key in indexed:
            raise ResultsFileError(str(path), f"{key} appears twice", "keep one record per test")
        indexed[key] = record
    return indexed


def merge_results(paths: Iterable[Path]) -> list[Record]:
    """The records of several results files (CI shards) as one list; a test in two of them is an error."""
    merged: Results = {}
    origin: dict[str, Path] = {}
    for path in paths:
        for key, record in read_results(path).items():
            if key in merged:
                raise ResultsFileError(
                    str(path),
                    f"{key} is also in {origin[key]}",
                    "merge the results of shards that ran disjoint tests "
                    "(-k, --specbench-models, --specbench-briefs)",
                )
            merged[key], origin[key] = record, path
    return list(merged.values())
