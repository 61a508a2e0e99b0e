"""The gate end to end: a baseline results.json, the no_regression check and its [gate] tolerances."""

from __future__ import annotations

import itertools
import json
import shutil

import pytest

from pytest_specbench.testing import FakeProvider

TEST = "def test_spec(spec_run):\n    spec_run.verify()\n"


# Each protocol once, one of them under xdist: two pytester sessions per case are slow enough.
@pytest.mark.parametrize(("protocol", "xdist_args"), [("openai", []), ("anthropic", ["-n", "2"])])
def test_a_regressed_model_fails_no_regression_and_an_improved_one_passes(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing, protocol: str, xdist_args: list[str]
) -> None:
    for model_id in ("steady", "worse", "better"):
        provider.script(suite.model(model_id, protocol), writing(3, 10))
    suite.brief("notes", gate={"max_requirements_drop": 0.2})
    suite.write(TEST)
    pytester.runpytest("--specbench-report=accepted", *xdist_args).assert_outcomes(passed=3)
    shutil.copy(pytester.path / "accepted" / "results.json", pytester.path / "baseline.json")
    provider.script("scripted-worse", writing(2, 7))
    provider.script("scripted-better", writing(4, 12))

    result = pytester.runpytest("--specbench-baseline=baseline.json", "--specbench-report=out", *xdist_args)

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*worse on notes: 1 of 12 checks failed*",
            "*no_regression: requirements 10 → 7 (−30 % > 20 %, tolerance rule, 1 v 1): regressed; "
            "features 3 → 2 (−33 % > 10 %, tolerance rule, 1 v 1): regressed*",
        ]
    )
    records = {r["model"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}
    better = records["better"]["checks"][-1]
    assert better["passed"] and better["detail"].startswith(
        "requirements 10 → 12 (+20 %, tolerance rule, 1 v 1): no regression; features 3 → 4 (+33 %"
    )
    assert records["steady"]["gate"]["max_requirements_drop"] == 0.2
    assert records["steady"]["gate"]["max_features_drop"] == 0.1


def test_without_a_baseline_every_record_still_has_the_check(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing
) -> None:
    provider.script(suite.model("alone"), writing(1, 1))
    suite.brief("notes")
    suite.write(TEST)
    (pytester.path / "baseline.json").write_text("[]")

    pytester.runpytest("--specbench-report=out").assert_outcomes(passed=1)
    pytester.runpytest("--specbench-report=out2", "--specbench-baseline=baseline.json").assert_outcomes(
        passed=1
    )

    (unset,) = json.loads((pytester.path / "out" / "results.json").read_text())
    (absent,) = json.loads((pytester.path / "out2" / "results.json").read_text())
    assert unset["checks"][-1]["detail"] == "not configured (no --specbench-baseline)"
    assert (
        absent["checks"][-1]["detail"]
        == f"no baseline record for this test in {pytester.path / 'baseline.json'}"
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "no such file"), ("<html>", "not JSON"), ('[{"version": 0, "test_id": "x"}]', "version 0")],
)
def test_an_unusable_baseline_is_a_usage_error_naming_it(
    suite, pytester: pytest.Pytester, content: str | None, problem: str
) -> None:
    suite.model("alone")
    suite.brief("notes")
    suite.write(TEST)
    if content is not None:
        (pytester.path / "baseline.json").write_text(content)

    result = pytester.runpytest("--specbench-baseline=baseline.json")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{pytester.path / 'baseline.json'}: *{problem}*"])


def test_a_bad_gate_tolerance_names_the_table_and_key(suite, pytester: pytest.Pytester) -> None:
    suite.model("alone")
    suite.brief("notes", gate={"max_recall_drop": 5})
    suite.write(TEST)

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*[[]briefs.notes.gate[]]: max_recall_drop: must be between 0 and 1, got 5*"]
    )


def test_baseline_model_pairs_fail_the_session_on_a_regression_with_their_own_section(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing, xdist_args: list[str]
) -> None:
    provider.script(suite.model("incumbent"), writing(3, 10))
    provider.script(suite.model("worse", "anthropic", baseline_model="incumbent"), writing(3, 7))
    provider.script(suite.model("better", baseline_model="incumbent"), writing(3, 12))
    suite.brief("notes")
    suite.write(TEST)

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(passed=3)  # every test passes on its own; the pair fails the session
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*specbench: baseline_model (each run against the incumbent's)*",
            "run  *against  *verdict",
            "test_spec[[]better-notes[]]  *test_spec[[]incumbent-notes[]]  *ok",
            "test_spec[[]worse-notes[]]  *incumbent-notes*  *REGRESSED: requirements 10 → 7 (−30 % > 10 %, *",
            "FAIL: 1 of 2 runs regressed against their baseline_model",
        ]
    )
    records = {r["model"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}
    assert records["worse"]["vs_baseline_model"]["passed"] is False
    assert records["better"]["vs_baseline_model"] == {
        "baseline_model": "incumbent",
        "passed": True,
        "detail": records["better"]["vs_baseline_model"]["detail"],
    }
    assert "vs_baseline_model" not in records["incumbent"]

    alone = pytester.runpytest("--specbench-models", "better", *xdist_args)
    assert alone.ret == pytest.ExitCode.OK
    alone.stdout.fnmatch_lines(["*not compared: incumbent's run of this test did not run*"])


def test_baseline_model_must_name_another_model(suite, pytester: pytest.Pytester) -> None:
    suite.model("incumbent")
    suite.model("challenger", baseline_model="incumbnt")
    suite.brief("notes")
    suite.write(TEST)

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ['*[[]models.challenger[]]: baseline_model: unknown model *incumbnt* — did you mean "incumbent"?*']
    )


def by_brief(writing, counts: dict[str, list[int]]) -> list[object]:
    """A model whose k-th sample of a brief (told by its prompt) writes counts[brief][k] requirements."""
    served = {brief: itertools.count() for brief in counts}

    def first_step(body: dict[str, object]) -> object:
        brief = next(b for b in counts if f"Specify {b}." in json.dumps(body))
        return writing(3, counts[brief][next(served[brief]) % len(counts[brief])])[0]

    return [first_step, *writing(3, 1)[1:]]


def test_baseline_model_over_three_briefs_fails_the_session_where_no_brief_alone_could_tell(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing, xdist_args: list[str], monkeypatch
) -> None:
    # Three samples a brief with a wide spread (CV 30 %): each pair alone is inconclusive, but
    # the candidate wrote about a quarter less on every brief, which the briefs together tell.
    incumbent = {"notes": [20, 26, 14], "todo": [40, 52, 28], "wiki": [30, 39, 21]}
    worse = {"notes": [15, 19, 11], "todo": [29, 38, 21], "wiki": [23, 29, 16]}
    provider.script(suite.model("incumbent"), by_brief(writing, incumbent))
    provider.script(suite.model("worse", baseline_model="incumbent"), by_brief(writing, worse))
    for brief in incumbent:
        suite.brief(brief, prompt=f"Specify {brief}.", repeats=3)
    suite.write(TEST)

    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "summary.md"))

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(passed=6)
    regressions = (pytester.path / "summary.md").read_text().split("### Regressions\n\n")[1]
    assert regressions.startswith(
        "- `worse vs incumbent`: baseline_model over the briefs: requirements −25 % over 3 briefs ("
    )
    assert "no regression" not in regressions.split("\n\n")[0]  # only what gave the verdict
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*test_spec[[]worse-notes[]]*ok*",  # not REGRESSED: no brief alone fails the session
            "*specbench: baseline_model over the briefs (candidate against incumbent)*",
            "worse vs incumbent: requirements −25 % over 3 briefs (90 % CI −27 % … −23 %, "
            "one-sided p < 0.001, sign-flip p = 0.12, paired t/log): regressed",
            "FAIL: regressed over the briefs: worse vs incumbent",
        ]
    )
    assert "runs regressed against their baseline_model" not in result.stdout.str()
    records = {r["test_id"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}
    assert all(r["vs_baseline_model"]["passed"] for r in records.values() if r["model"] == "worse")
    verdict = records["test_spec[worse-todo]"]["vs_baseline_model"]["suite"]
    assert verdict["verdict"] == "regressed" and verdict["briefs"] == 3
    assert verdict["metrics"][0]["metric"] == "requirements" and verdict["metrics"][0]["sign_flip_p"] == 0.125

    two = pytester.runpytest("--specbench-briefs", "notes,todo", *xdist_args)
    two.stdout.fnmatch_lines(["worse vs incumbent: too few briefs (2 < 3): not compared"])
    assert two.ret == pytest.ExitCode.OK
