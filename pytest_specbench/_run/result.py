"""What a test gets: its run, made of one sample or of `repeats` samples, with the verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from pytest_specbench._record import Record, SampleRecord, Source, Timing
from pytest_specbench._run.record import (
    REGRESSION,
    SAMPLED_METRICS,
    base_record,
    check_fields,
    pass_fields,
    spread,
    stats_fields,
    tree_fields,
)
from pytest_specbench.agent.stats import RunStats, context_fields
from pytest_specbench.agent.tools import RunPaths
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import (
    BARE,
    FULL_CONTEXT,
    BriefConfig,
    ContextConfig,
    ModelConfig,
    ScaffoldConfig,
    cost_usd,
)
from pytest_specbench.tree import SpecTree
from pytest_specbench.verdicts.checks import Check, feature_recall
from pytest_specbench.verdicts.regression import warn_inconclusive

__all__ = ["Sample", "Source", "SpecRun", "failed_checks"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One model × brief × scaffold run from start to verdicts: the tree it wrote, how, the checks."""

    test_id: str
    model: ModelConfig
    brief: BriefConfig
    paths: RunPaths
    tree: SpecTree
    """The spec tree as read back from disk."""
    transcript: Transcript
    stats: RunStats
    checks: tuple[Check, ...]
    scaffold: ScaffoldConfig = BARE
    """What the harness gave the model besides the spec server's tools."""
    source: Source = "live"
    recorded_seconds: float | None = None
    """The model's time as the cassette recorded it (a replay's own time is near zero)."""
    started_at: float | None = None
    """Wall-clock start and end (epoch seconds)."""
    ended_at: float | None = None
    context: ContextConfig = FULL_CONTEXT
    """The context strategy the sample ran under."""

    @property
    def cost_usd(self) -> float | None:
        """What the sample's tokens cost at the model's prices; None when it has none."""
        return cost_usd(self.model.prices, self.stats.input_tokens, self.stats.output_tokens)

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        """The checks that did not pass, in report order, except the model's known failures."""
        return failed_checks(self.checks)

    @property
    def passed(self) -> bool:
        """Every check of the sample passed (the baseline gate judges a test, not a sample)."""
        return all(c.passed or c.known for c in self.checks if c.name != REGRESSION)

    def record(self) -> Record:
        """The sample's results.json record (plain data, safe to send through xdist)."""
        return {**base_record(self.test_id, self.model, self.brief, self.scaffold), **self.fields()}

    def fields(self, *, timed: bool = False) -> SampleRecord:
        """The sample's own fields: a record's without `base_record`'s, as `per_sample` keeps them."""
        fields: SampleRecord = {
            "checks": [check_fields(c) for c in self.checks],
            "features": self.tree.feature_count,
            "total_features": self.tree.total_feature_count,
            "requirements": self.tree.requirement_count,
            "feature_recall": feature_recall(self.tree, self.brief),
            "total_tokens": self.stats.input_tokens + self.stats.output_tokens,
            "stop_reason": self.transcript.stop.reason if self.transcript.stop else None,
            **stats_fields(self.stats),
            "context": self.context.id,
            **context_fields(self.stats),
            "tree": tree_fields(self.tree, self.brief),
            "cost_usd": self.cost_usd,
            **pass_fields(int(self.passed), 1, 1),
            **(Timing(started_at=self.started_at, ended_at=self.ended_at) if timed else Timing()),
        }
        return fields


@dataclass(frozen=True, slots=True)
class SpecRun:
    """The finished run of one test: its samples (one, or `repeats`) and the checks over them.

    `tree`, `transcript`, `stats` and `paths` are sample 1's, so a snapshot of `tree` stays
    the same under replay; `checks` sum up the samples, one line per check, passed when
    `min_passes` samples pass it.
    """

    samples: tuple[Sample, ...]
    min_passes: int = 1
    checks: tuple[Check, ...] = ()
    tree: SpecTree = field(init=False)
    """Sample 1's tree: the one snapshotted, the same under replay."""
    transcript: Transcript = field(init=False)
    stats: RunStats = field(init=False)
    paths: RunPaths = field(init=False)
    test_id: str = field(init=False)
    model: ModelConfig = field(init=False)
    brief: BriefConfig = field(init=False)
    scaffold: ScaffoldConfig = field(init=False)

    def __post_init__(self) -> None:
        first = self.samples[0]
        for name in ("tree", "transcript", "stats", "paths", "test_id", "model", "brief", "scaffold"):
            object.__setattr__(self, name, getattr(first, name))
        if not self.checks:
            object.__setattr__(self, "checks", _summed_checks(self.samples, self.min_passes))

    def judged(self, *extra: Check, known: tuple[Check, ...] | None = None) -> SpecRun:
        """The same run with its checks replaced by `known` (if given) and `extra` appended."""
        return SpecRun(self.samples, self.min_passes, (*(self.checks if known is None else known), *extra))

    @property
    def cost_usd(self) -> float | None:
        """What the run's tokens cost at the model's prices (sample 1's); None when it has none."""
        return self.samples[0].cost_usd

    @property
    def source(self) -> Source:
        """Where the model's turns came from: `live`, `recorded` or `replayed` (sample 1's)."""
        return self.samples[0].source

    @property
    def deterministic(self) -> bool:
        """Its tree is the same wherever it runs: a replay, or a model declared `deterministic`.

        Its snapshot is then exact; a live run's tree is gated by its checks and the baseline, and
        a difference from its snapshot is reported, not failed (`--specbench-strict-snapshots`).
        """
        return all(s.source == "replayed" for s in self.samples) or self.model.deterministic

    @property
    def passes(self) -> int:
        """Samples that passed every check."""
        return sum(sample.passed for sample in self.samples)

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        """The checks that did not pass, in report order, except the model's known failures."""
        return failed_checks(self.checks)

    @property
    def known_failures(self) -> tuple[Check, ...]:
        """The checks that failed as the model's `known_failures` says they would."""
        return tuple(c for c in self.checks if c.known)

    def verify(self) -> None:
        """Raise one AssertionError that lists every failed check (with repeats: every failing sample's)."""
        __tracebackhide__ = True
        if len(self.samples) == 1:
            self._verify_one()
        else:
            self._verify_samples()
        warn_inconclusive(self.checks, self.test_id)

    def _verify_one(self) -> None:
        __tracebackhide__ = True
        failed = self.failed_checks
        if failed:
            lines = [f"  {check}" for check in failed]
            lines += [f"  {check} (a known failure, not counted)" for check in self.known_failures]
            head = f"{self.model.id} on {self.brief.id}: {len(failed)} of {len(self.checks)} checks failed"
            raise AssertionError("\n".join([head, *lines]))

    def _verify_samples(self) -> None:
        __tracebackhide__ = True
        # Judged on the test, not per sample: the baseline gate and a known failure that passed.
        judged_here = {REGRESSION, *self.model.known_failures}
        gate = [c for c in failed_checks(self.checks) if c.name in judged_here]
        if self.passes >= self.min_passes and not gate:
            return
        head = (
            f"{self.model.id} on {self.brief.id}: {self.passes} of {len(self.samples)} samples passed "
            f"every check, {self.min_passes} needed"
        )
        lines = [f"  {check}" for check in gate]
        for number, sample in enumerate(self.samples, 1):
            failed = [c for c in sample.failed_checks if c.name != REGRESSION]
            lines += [f"  sample {number}: {'; '.join(str(c) for c in failed)}"] if failed else []
        lines += [f"  {check} (a known failure, not counted)" for check in self.checks if check.known]
        raise AssertionError("\n".join([head, *lines]))

    def record(self) -> Record:
        """The test's record: a sample's fields, or with repeats the means, their spread and each sample."""
        first = self.samples[0]
        checks = [check_fields(c) for c in self.checks]
        source, recorded, deterministic = self.source, first.recorded_seconds, self.deterministic
        if len(self.samples) == 1:
            return {
                **first.record(),
                "checks": checks,
                "source": source,
                "recorded_seconds": recorded,
                "deterministic": deterministic,
            }
        fields = [sample.fields(timed=True) for sample in self.samples]
        metrics = {name: spread([f.get(name) for f in fields]) for name in SAMPLED_METRICS}
        record: Record = {
            **base_record(first.test_id, first.model, first.brief, first.scaffold),
            **fields[0],
            "checks": checks,
            **pass_fields(self.passes, len(self.samples), self.min_passes),
            "metrics": metrics,
            "per_sample": [{**f, "source": s.source} for f, s in zip(fields, self.samples, strict=True)],
            "source": source,
            "recorded_seconds": recorded,
            "deterministic": deterministic,
        }
        # The means in the places of sample 1's numbers (the keys are there: the order stays).
        cast(dict[str, Any], record).update({name: m["mean"] if m else None for name, m in metrics.items()})
        return record


def _summed_checks(samples: tuple[Sample, ...], min_passes: int) -> tuple[Check, ...]:
    """Each check over the samples: passed when `min_passes` samples pass it; the failing samples named.

    One sample's checks are its own, unchanged.
    """
    if len(samples) == 1:
        return samples[0].checks
    summed = []
    for index, check in enumerate(samples[0].checks):
        results = [sample.checks[index] for sample in samples]
        failing = [f"sample {n}: {c.detail}" for n, c in enumerate(results, 1) if not c.passed]
        passed = len(results) - len(failing)
        detail = "; ".join([f"{passed}/{len(results)} samples pass", *failing])
        known = passed < min_passes and all(c.known for c in results if not c.passed)
        applies = any(c.applies for c in results)
        summed.append(Check(check.name, passed >= min_passes, detail, known=known, applies=applies))
    return tuple(summed)


def failed_checks(checks: tuple[Check, ...]) -> tuple[Check, ...]:
    """The checks that did not pass, in report order, except known failures."""
    return tuple(c for c in checks if not c.passed and not c.known)
