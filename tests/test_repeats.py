"""Repeats: N concurrent samples per test, passing k of n, with their spread in the record."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

TEST = "def test_spec(spec_run):\n    spec_run.verify()\n    assert len(spec_run.samples) == 3\n"
GOOD = Reply(
    tool_calls=[
        call("create_feature", title="Notes", description="Taking notes."),
        call(
            "create_requirement", feature_id="F-0001", title="Add", description="d", acceptance_criteria=["c"]
        ),
    ]
)


def two_of_three(delay: float = 0.0) -> list[Any]:
    """The first two samples to ask write a feature and a requirement; the third gives up at once."""
    served = itertools.count()

    def first_step(body: dict[str, Any]) -> Reply:
        time.sleep(delay)  # in the provider's request thread: concurrent samples wait side by side
        return GOOD if next(served) < 2 else Reply.final("I cannot.")

    return [first_step, Reply.final("Wrote 1 feature.")]


# Each protocol once, one of them under xdist: a pytester session per case is slow enough.
@pytest.mark.parametrize(("protocol", "xdist_args"), [("openai", []), ("anthropic", ["-n", "2"])])
def test_two_of_three_samples_pass_with_min_passes_2_and_fail_with_3(
    suite, provider: FakeProvider, pytester: pytest.Pytester, protocol: str, xdist_args: list[str]
) -> None:
    name = suite.model("wobbly", protocol)
    suite.brief("notes", min_features=1, repeats=3, min_passes=2)
    suite.write(TEST)
    provider.script(name, two_of_three())

    lenient = pytester.runpytest("--specbench-report=out", *xdist_args)

    lenient.assert_outcomes(passed=1)
    lenient.stdout.fnmatch_lines(["test_spec[[]wobbly-notes[]]*PASSED 2/3*1 ± 1*"])
    (record,) = json.loads((pytester.path / "out" / "results.json").read_text())
    assert (record["samples"], record["passes"], record["min_passes"], record["pass_rate"]) == (
        3,
        2,
        2,
        0.6667,
    )
    assert record["pass_hat_k"] == {"1": 0.6667, "2": 0.3333, "3": 0.0}
    assert record["metrics"]["requirements"] == {"mean": 0.6667, "stdev": 0.5774, "min": 0.0, "max": 1.0}
    assert sorted(s["requirements"] for s in record["per_sample"]) == [0, 1, 1]
    assert record["requirements"] == 0.6667 and len(record["checks"]) == 12
    transcripts = sorted(p.name for p in (pytester.path / "out" / "transcripts").iterdir())
    assert transcripts == [f"test_spec[wobbly-notes]{s}.jsonl" for s in ("", ".sample-2", ".sample-3")]

    strict_toml = (pytester.path / "specbench.toml").read_text().replace("min_passes = 2", "min_passes = 3")
    (pytester.path / "strict.toml").write_text(strict_toml)
    provider.script(name, two_of_three())
    strict = pytester.runpytest("--specbench-config=strict.toml", *xdist_args)

    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(
        [
            "*wobbly on notes: 2 of 3 samples passed every check, 3 needed*",
            "*sample ?: min_features: 0 < 1*",
        ]
    )


def test_samples_overlap_in_time_up_to_max_concurrency(
    suite, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    for model_id, limit in (("parallel", 3), ("serial", 1)):
        provider.script(suite.model(model_id, max_concurrency=limit), two_of_three(delay=0.5))
    suite.brief("notes", repeats=3, min_passes=2)
    suite.write(TEST)

    pytester.runpytest("--specbench-report=out").assert_outcomes(passed=2)

    records = {r["model"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}
    spans = {m: [(s["started_at"], s["ended_at"]) for s in r["per_sample"]] for m, r in records.items()}
    parallel = spans["parallel"]
    assert max(start for start, _ in parallel) < min(end for _, end in parallel)  # all three at once
    serial = sorted(spans["serial"])
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(serial))  # one at a time


def test_min_passes_above_repeats_is_a_usage_error(suite, pytester: pytest.Pytester) -> None:
    suite.model("alone")
    suite.brief("notes", repeats=2, min_passes=3)
    suite.write(TEST)

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*[[]models.alone[]]: min_passes = 3 for brief 'notes' is more than the repeats = 2*"]
    )


def test_a_failing_sample_is_an_error_naming_it_and_a_missing_key_skips_before_any_sample(
    suite, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist_args: list[str]
) -> None:
    monkeypatch.delenv("SPECBENCH_UNSET_KEY", raising=False)
    suite.model("down", base_url="http://127.0.0.1:9/v1", max_retries=0)
    suite.model("remote", base_url="https://api.example.invalid/v1", api_key_env="SPECBENCH_UNSET_KEY")
    suite.brief("notes", repeats=2)
    suite.write(TEST)

    result = pytester.runpytest("-rs", "--specbench-report=out", *xdist_args)

    result.assert_outcomes(errors=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*ProviderError: sample ?: model 'down': cannot connect to http://127.0.0.1:9/v1*"]
    )
    result.stdout.fnmatch_lines(["*SKIPPED*$SPECBENCH_UNSET_KEY is not set*"])
    records = {r["model"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}
    assert records["down"]["outcome"] == "error" and "sample" in records["down"]["error"]
    assert records["remote"]["outcome"] == "skipped"
