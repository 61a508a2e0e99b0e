"""`[gate] family = "session"`: Benjamini–Hochberg over every test of the session, at its end.

Holm within a test bounds the chance of one false alarm in that test; over a suite of many
tests × metrics, one somewhere is near certain. With `family = "session"` each worker
records the raw one-sided p-values (`regression` in results.json) and leaves the decision
to the controller, which adjusts every tested p-value of the session together (BH q-values)
and decides each test again, as it does for `baseline_model`:

    requirements 174 → 120 (−31 %, 90 % CI −39 % … −23 %, one-sided BH q = 0.012, Welch/log, 3 v 3): regressed
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pytest_specbench._record import RegressionFields
from pytest_specbench.report.results import record_key
from pytest_specbench.verdicts.regression import FIELD, SESSION, GateResult, overall
from pytest_specbench.verdicts.significance import Judgment, Verdict, decide, screened_out
from pytest_specbench.verdicts.stats import benjamini_hochberg

__all__ = ["session_family"]


def session_family(records: Iterable[Mapping[str, Any]]) -> dict[str, GateResult]:
    """Each record gated with `family = "session"`, by record key, decided again over the session.

    Its `check()` replaces the record's `no_regression` check and its `fields()` the record's
    `regression` field; a `regressed` one fails the session. Records of other families, and
    tests not compared, are left out.
    """
    gated: dict[str, RegressionFields] = {record_key(r): r[FIELD] for r in records if _in_session(r)}
    judged = {key: [Judgment.from_fields(m) for m in field["metrics"]] for key, field in gated.items()}
    alpha = {key: float(field["alpha"]) for key, field in gated.items()}
    family = [
        (key, i)
        for key, judgments in judged.items()
        for i, j in enumerate(judgments)
        if j.tested and not screened_out(j, alpha[key])
    ]
    q = dict(zip(family, benjamini_hochberg([judged[k][i].p or 0.0 for k, i in family]), strict=True))
    results = {}
    for key, judgments in judged.items():
        decided = [
            decide(j, alpha[key], q.get((key, i)), "BH" if (key, i) in q else "")
            for i, j in enumerate(judgments)
        ]
        results[key] = GateResult(overall(decided), tuple(decided), alpha=alpha[key], family=SESSION)
    return results


def _in_session(record: Mapping[str, Any]) -> bool:
    field = record.get(FIELD)
    return (
        isinstance(field, Mapping)
        and field.get("family") == SESSION
        and field.get("verdict") != Verdict.NOT_COMPARED
    )
