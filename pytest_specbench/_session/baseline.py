"""The accepted results a session gates against (`--specbench-baseline`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_specbench._record import Record
from pytest_specbench.report.results import Results, read_results

__all__ = ["Baseline"]


@dataclass(frozen=True, slots=True)
class Baseline:
    """The baseline's records, read once when the session starts, or none."""

    path: Path | None
    records: Results

    @classmethod
    def read(cls, path: Path | None) -> Baseline:
        """Read `path` now, so a missing or unreadable baseline stops the session before any run.

        Raises:
            ResultsFileError: the file is missing or not a results.json.
        """
        return cls(path, read_results(path) if path is not None else {})

    def record_for(self, nodeid: str, test_id: str) -> Record | None:
        """The test's record in the baseline, by node id, else by test id."""
        found = self.records.get(nodeid)
        return found or next((r for r in self.records.values() if r["test_id"] == test_id), None)
