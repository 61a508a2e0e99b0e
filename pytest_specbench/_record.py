"""The results.json record as a type, and the one check that a record read back is one.

The writer builds these types (`_run.result.SpecRun.record`, `_run.record`), the runner adds
`gate` and `regression` (`_session.runner.Runner.gated`), the collector `nodeid`, `outcome`,
`error` and `skip_reason`, the report `vs_baseline_model` and the `*_vs_bare` effect; mypy
checks the writer and the readers against the same definition. Every reader
(`specbench compare|merge|html`, a baseline) goes through `validate_record` once, so a
file that is JSON but not a record is one line naming the file, the record and the field,
never a traceback deep in a report. Fields it does not know are kept as they are: a
newer writer may add some.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, NotRequired, Required, TypedDict, cast

from pytest_specbench.errors import ResultsFileError

__all__ = [
    "GATE_TOLERANCES",
    "CheckRecord",
    "ContextFields",
    "FeatureRecord",
    "GateFields",
    "PassFields",
    "PerSampleRecord",
    "Provenance",
    "Record",
    "RegressionFields",
    "RegressionRecord",
    "RequirementRecord",
    "SampleRecord",
    "Source",
    "Spread",
    "StatsFields",
    "Timing",
    "validate_record",
]

Outcome = Literal["passed", "failed", "skipped", "error", "xfailed", "xpassed"]
Source = Literal["live", "recorded", "replayed"]


class CheckRecord(TypedDict):
    """One check's verdict (`run.check_fields`)."""

    name: str
    passed: bool
    detail: str
    known: NotRequired[bool]
    """Present, and true, only for a known failure."""


class RequirementRecord(TypedDict):
    """A requirement of the tree (`tree.feature_data`)."""

    id: str
    title: str
    description: str
    criteria: list[str]


class FeatureRecord(TypedDict):
    """A feature of the tree with its requirements and children; top-level ones carry `reference`."""

    id: str
    title: str
    description: str
    requirements: list[RequirementRecord]
    children: list[FeatureRecord]
    reference: NotRequired[str | None]


class Spread(TypedDict):
    """A metric over the samples of a run with repeats (`run.spread`)."""

    mean: float
    stdev: float
    min: float
    max: float


class StatsFields(TypedDict, total=False):
    """`RunStats` as record fields (`_run.record.stats_fields`); with repeats, the counts the
    record sums up over its samples (`SAMPLED_METRICS`) are means, or None when a sample lacks one."""

    turns: float | None
    tool_calls: float | None
    tool_errors: int
    tool_errors_by_kind: dict[str, int]
    input_tokens: float | None
    output_tokens: float | None
    seconds: float | None
    retries: int
    max_identical_streak: int
    scaffold_calls: int
    truncated_turns: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    reasoning_tokens: int
    reasoning_turns: int


class ContextFields(TypedDict, total=False):
    """How full the window got (`agent.stats.context_fields`)."""

    context_window: int | None
    peak_context_tokens: int
    end_context_tokens: int
    peak_context_fraction: float | None
    end_context_fraction: float | None
    summary_turns: int
    masked_results: int


class PassFields(TypedDict, total=False):
    """How many samples passed (`_run.record.pass_fields`); a run without repeats is one sample."""

    samples: int
    passes: int
    min_passes: int
    pass_rate: float
    pass_hat_k: dict[str, float]


class Timing(TypedDict, total=False):
    """A sample's wall-clock start and end (epoch seconds), kept in `per_sample` entries."""

    started_at: float | None
    ended_at: float | None


class Provenance(TypedDict):
    """Where a run's model turns came from (`replay.provenance`)."""

    source: Source
    recorded_seconds: float | None


class RegressionFields(TypedDict):
    """The gate's verdict as a record keeps it (`verdicts.regression.GateResult.fields`)."""

    verdict: str
    alpha: float
    family: str
    decided: bool
    reason: str | None
    metrics: list[dict[str, Any]]
    """One `Judgment.fields()` per metric and check compared."""


class RegressionRecord(TypedDict):
    """`{"regression": ...}`, the record field that keeps the gate's numbers."""

    regression: RegressionFields


class SampleRecord(StatsFields, ContextFields, PassFields, Timing, total=False):
    """The fields of one run (a sample of a run with repeats has exactly these, `per_sample`)."""

    checks: list[CheckRecord]
    features: float | None
    total_features: float | None
    requirements: float | None
    feature_recall: float | None
    total_tokens: float | None
    stop_reason: str | None
    context: str
    """The context strategy's id."""
    tree: list[FeatureRecord] | None
    cost_usd: float | None


class PerSampleRecord(SampleRecord, total=False):
    """One entry of a record's `per_sample`: a sample's fields and where its turns came from."""

    source: Source


GATE_TOLERANCES = (
    "max_requirements_drop",
    "max_features_drop",
    "max_recall_drop",
    "max_tokens_increase",
    "max_cost_increase",
)
"""The tolerances of a record's `gate`, in its order (the fields of `config.gate.GateTolerances`)."""


class GateFields(TypedDict, total=False):
    """A record's `gate` (`config.gate.GateTolerances.fields`): every tolerance (None: not
    gated), `alpha` and `family` only when the config sets them."""

    max_requirements_drop: float | None
    max_features_drop: float | None
    max_recall_drop: float | None
    max_tokens_increase: float | None
    max_cost_increase: float | None
    alpha: float
    family: str


class Record(SampleRecord, total=False):
    """One test of a results.json: who ran what, the run's fields, and what the session added."""

    version: Required[int]
    test_id: Required[str]
    model: str
    brief: str
    scaffold: str
    provider: str
    model_name: str
    nodeid: str
    outcome: Outcome
    error: str | None
    skip_reason: str
    metrics: dict[str, Spread | None]
    per_sample: list[PerSampleRecord]
    gate: GateFields
    source: Source
    regression: RegressionFields
    recorded_seconds: float | None
    deterministic: bool
    snapshot_diff: str
    vs_baseline_model: dict[str, Any]
    features_vs_bare: float | None
    features_ratio_vs_bare: float | None
    requirements_vs_bare: float | None
    requirements_ratio_vs_bare: float | None


class _Bad(Exception):
    """A field that is not what a record holds: its path inside the record and the problem."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field, problem)
        self.field, self.problem = field, problem


_Check = Callable[[Any, str], None]
_FIX = "pass a results.json written by --specbench-report (or fix the field)"


def validate_record(data: object, where: str | Path, index: int | None = None) -> Record:
    """`data` as a `Record`, once its every known field has the type the writer gives it.

    Args:
        data: one element of a results.json list.
        where: the file it came from, for the message.
        index: its position in the file, named when it has no usable test id.

    Raises:
        ResultsFileError: one line naming the file, the record and the field.
    """
    name = _record_name(data, index)
    try:
        _record(data, "")
    except _Bad as bad:
        field = f"field {bad.field}" if bad.field else "the record"
        raise ResultsFileError(str(where), f"record {name}: {field} {bad.problem}", _FIX) from None
    return cast(Record, data)


def _record_name(data: object, index: int | None) -> str:
    test_id = data.get("test_id") if isinstance(data, dict) else None
    number = f"#{index + 1}" if index is not None else ""
    if isinstance(test_id, str) and test_id:
        shown = test_id if len(test_id) <= 80 else test_id[:79] + "…"
        return f"{shown} ({number})" if number else shown
    return number or "?"


def _shown(value: object, width: int = 40) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= width else text[: width - 1] + "…"


# --- value checks: each raises _Bad with the path of the offending field ----------------------


def _at(path: str, key: str | int) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else key


def _fail(path: str, value: object, expected: str) -> _Bad:
    return _Bad(path, f"must be {expected}, got {_shown(value)}")


MAX_COUNT = 1e15
"""The largest count, token total, number of seconds or dollars a record may hold."""


def _string(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise _fail(path, value, "a string")


def _boolean(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        raise _fail(path, value, "true or false")


def _number(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise _fail(path, value, "a finite number")


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond any float: `float()` of it would raise later
        return False


def _count(value: Any, path: str) -> None:
    """A non-negative number: a count, a mean of counts, seconds, dollars."""
    _number(value, path)
    if value < 0:
        raise _fail(path, value, "0 or more")
    if value > MAX_COUNT:  # no run counts, spends or takes this much: a broken file, not a result
        raise _fail(path, value, f"at most {MAX_COUNT:.0e}")


def _whole(value: Any, path: str) -> None:
    _count(value, path)
    if not isinstance(value, int):
        raise _fail(path, value, "a whole number")


def _fraction(value: Any, path: str) -> None:
    _count(value, path)
    if value > 1:
        raise _fail(path, value, "a fraction between 0 and 1")


def _optional(check: _Check) -> _Check:
    def optional(value: Any, path: str) -> None:
        if value is not None:
            check(value, path)

    return optional


def _one_of(*choices: str) -> _Check:
    def one_of(value: Any, path: str) -> None:
        if value not in choices:
            raise _fail(path, value, "one of " + ", ".join(choices))

    return one_of


def _list_of(check: _Check) -> _Check:
    def list_of(value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise _fail(path, value, "a list")
        for number, item in enumerate(value):
            check(item, _at(path, number))

    return list_of


def _dict_of(check: _Check) -> _Check:
    def dict_of(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _fail(path, value, "an object")
        for key, item in value.items():
            check(item, _at(path, key))

    return dict_of


def _fields(table: Mapping[str, _Check], required: tuple[str, ...] = ()) -> _Check:
    """An object whose `required` keys are present and whose known keys pass their checks."""

    def fields(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _fail(path, value, "an object")
        for key in required:
            if key not in value:
                raise _Bad(_at(path, key), "is missing")
        for key, check in table.items():
            if key in value:
                check(value[key], _at(path, key))

    return fields


def _feature(value: Any, path: str) -> None:
    _FEATURE(value, path)  # a name for the recursion: children are features too


_CHECK = _fields(
    {"name": _string, "passed": _boolean, "detail": _string, "known": _boolean}, ("name", "passed")
)
_REQUIREMENT = _fields(
    {"id": _string, "title": _string, "description": _string, "criteria": _list_of(_string)}, ("id", "title")
)
_FEATURE = _fields(
    {
        "id": _string,
        "title": _string,
        "description": _string,
        "requirements": _list_of(_REQUIREMENT),
        "children": _list_of(_feature),
        "reference": _optional(_string),
    },
    ("id", "title", "requirements"),
)
_SPREAD = _fields({k: _number for k in ("mean", "stdev", "min", "max")}, ("mean", "stdev", "min", "max"))
_COUNT, _WHOLE = _optional(_count), _optional(_whole)

SAMPLE_FIELDS: dict[str, _Check] = {
    "checks": _list_of(_CHECK),
    **dict.fromkeys(("features", "total_features", "requirements", "total_tokens", "turns"), _COUNT),
    **dict.fromkeys(("tool_calls", "input_tokens", "output_tokens", "seconds", "cost_usd"), _COUNT),
    "feature_recall": _optional(_fraction),
    "stop_reason": _optional(_string),
    **dict.fromkeys(("tool_errors", "retries", "max_identical_streak", "scaffold_calls"), _WHOLE),
    **dict.fromkeys(("truncated_turns", "cache_read_input_tokens", "cache_creation_input_tokens"), _WHOLE),
    "tool_errors_by_kind": _dict_of(_whole),
    "tree": _optional(_list_of(_FEATURE)),
    **dict.fromkeys(("samples", "passes", "min_passes"), _whole),
    "pass_rate": _fraction,
    "pass_hat_k": _dict_of(_fraction),
    **dict.fromkeys(("started_at", "ended_at"), _optional(_number)),
    **dict.fromkeys(("reasoning_tokens", "reasoning_turns", "summary_turns", "masked_results"), _WHOLE),
    **dict.fromkeys(("context_window", "peak_context_tokens", "end_context_tokens"), _WHOLE),
    **dict.fromkeys(("peak_context_fraction", "end_context_fraction"), _COUNT),
    "context": _optional(_string),
    "source": _optional(_one_of("live", "recorded", "replayed")),
}
"""What one run's fields must be: checked in a record and in each of its `per_sample`."""

RECORD_FIELDS: dict[str, _Check] = {
    **SAMPLE_FIELDS,
    "version": _whole,
    **dict.fromkeys(("test_id", "model", "brief", "scaffold", "provider", "model_name", "nodeid"), _string),
    "outcome": _optional(_one_of("passed", "failed", "skipped", "error", "xfailed", "xpassed")),
    "error": _optional(_string),
    "skip_reason": _optional(_string),
    "metrics": _dict_of(_optional(_SPREAD)),
    "per_sample": _list_of(_fields(SAMPLE_FIELDS)),
    "gate": _fields(
        {**dict.fromkeys(GATE_TOLERANCES, _COUNT), "alpha": _count, "family": _one_of("test", "session")}
    ),
    "recorded_seconds": _COUNT,
    "deterministic": _boolean,
    "snapshot_diff": _string,
    "regression": _fields(
        {
            **dict.fromkeys(("verdict", "family"), _string),
            "alpha": _count,
            "decided": _boolean,
            "reason": _optional(_string),
            "metrics": _list_of(_fields({})),
        },
        ("verdict", "metrics"),
    ),
    "vs_baseline_model": _fields({"baseline_model": _string, "passed": _boolean, "detail": _string}),
    **{f"{name}_vs_bare": _optional(_number) for name in ("features", "requirements")},
    **{f"{name}_ratio_vs_bare": _COUNT for name in ("features", "requirements")},
}

_record = _fields(RECORD_FIELDS, ("test_id",))
