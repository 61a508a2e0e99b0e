"""CI: the GitHub Actions step summary, and the JUnit XML properties of each run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from pytest_specbench.testing import FakeProvider

TEST = "def test_spec(spec_run):\n    spec_run.verify()\n"


def test_step_summary_and_junit_properties(
    suite,
    provider: FakeProvider,
    pytester: pytest.Pytester,
    writing,
    monkeypatch: pytest.MonkeyPatch,
    xdist_args: list[str],
) -> None:
    prices = {"price_input_per_mtok": 1000, "price_output_per_mtok": 1000}
    provider.script(suite.model("steady", **prices), writing(1, 4, 100, 20))
    provider.script(suite.model("slipping", baseline_model="steady", **prices), writing(1, 2, 100, 20))
    suite.brief("notes")
    suite.write(TEST)
    summary = pytester.path / "step-summary.md"
    summary.write_text("earlier steps' summary\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    result = pytester.runpytest("--junitxml=junit.xml", *xdist_args)

    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the baseline_model pair regressed
    text = summary.read_text()
    head = "earlier steps' summary\n## specbench\n\n| test | outcome | source | feat | reqs |"
    assert text.startswith(head)
    assert "| test_spec[steady-notes] | PASSED | live | 1 | 4 |" in text
    assert (
        "### Regressions\n\n- `test_spec[slipping-notes]`: baseline_model: "
        "requirements 4 → 2 (−50 % > 10 %, tolerance rule, 1 v 1): regressed" in text
    )
    cases = {
        case.get("name"): case for case in ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    }
    properties = {p.get("name"): p.get("value") for p in cases["test_spec[steady-notes]"].iter("property")}
    assert properties == {
        "features": "1",
        "requirements": "4",
        "turns": "2",
        "tokens": "135",  # 100 + 20, then 10 + 5 for the final answer
        "cost": "0.135",
        "pass_rate": "1.0",
        "source": "live",
        "gate_verdict": "not compared",  # no --specbench-baseline in this run
    }


def test_no_step_summary_without_the_variable(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    provider.script(suite.model("steady"), writing(1, 1))
    suite.brief("notes")
    suite.write(TEST)

    pytester.runpytest("--specbench-report=out").assert_outcomes(passed=1)

    assert sorted(p.name for p in pytester.path.iterdir() if p.suffix == ".md") == []
    assert json.loads((pytester.path / "out" / "results.json").read_text())[0]["pass_rate"] == 1.0
