"""Record and replay end to end: pytester runs against the loopback provider, then with it down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

KEY = "sk-test-key"  # what the `suite` fixture exports as SPECBENCH_TEST_KEY
CASSETTE = Path("cassettes") / "test_spec.writer-notes.jsonl"
SAME = (
    "checks",
    "features",
    "requirements",
    "turns",
    "tool_calls",
    "tool_errors",
    "input_tokens",
    "output_tokens",
)


def script(echo: str = "") -> list[Reply]:
    """Two features and three requirements, then a final answer (echoing `echo`, if given)."""
    features = [call("create_feature", title=f"Feature {i}", description=f"Does {i}.") for i in (1, 2)]
    requirements = [
        call(
            "create_requirement",
            feature_id=f"F-000{1 + i % 2}",
            title=f"Requirement {i}",
            description=f"The system shall do {i}.",
            acceptance_criteria=[f"Given {i}, then {i}"],
        )
        for i in (1, 2, 3)
    ]
    return [
        Reply(tool_calls=[call("read_file", path="app.py")], input_tokens=100, output_tokens=10),
        Reply(tool_calls=features, input_tokens=200, output_tokens=20),
        Reply(tool_calls=requirements, input_tokens=300, output_tokens=30),
        Reply.final(f"Wrote 2 features and 3 requirements. {echo}".strip()),
    ]


def records(pytester: pytest.Pytester, directory: str) -> list[dict[str, Any]]:
    return list(json.loads((pytester.path / directory / "results.json").read_text()))


def setup_suite(suite: Any, provider: FakeProvider, protocol: str = "openai", **model: Any) -> str:
    name = suite.model("writer", protocol, api_key_env="SPECBENCH_TEST_KEY", **model)
    provider.script(name, script(echo=f"(my key is {KEY})"))
    suite.brief("notes", min_requirements=3, min_features=2)
    suite.write()
    return name


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_recorded_run_replays_offline_with_the_same_tree_checks_and_stats(
    suite: Any,
    provider: FakeProvider,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    protocol: str,
    stream: bool,
) -> None:
    setup_suite(suite, provider, protocol, stream=stream)

    recorded = pytester.runpytest(
        "--specbench-record-mode=once", "--snapshot-update", "--specbench-report=rec"
    )
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines(["*test_spec[[]writer-notes[]]*PASSED*recorded*2*3*4*"])
    cassette = (pytester.path / CASSETTE).read_text()
    assert KEY not in cassette and "[REDACTED]" in cassette  # echoed, and sent as a header: neither kept
    provider.stop()  # the provider is down: a replay must not need it
    monkeypatch.delenv("SPECBENCH_TEST_KEY")  # nor the key

    replayed = pytester.runpytest("--specbench-record-mode=none", "--specbench-report=rep")

    replayed.assert_outcomes(passed=1)  # the snapshot written live matches the replayed tree
    replayed.stdout.fnmatch_lines(["*test_spec[[]writer-notes[]]*PASSED*replayed*2*3*4*"])
    (live,), (again,) = records(pytester, "rec"), records(pytester, "rep")
    assert {k: live[k] for k in SAME} == {k: again[k] for k in SAME}
    assert (live["source"], again["source"]) == ("recorded", "replayed")
    assert again["recorded_seconds"] == live["recorded_seconds"] and again["output_tokens"] == 65


def test_record_and_replay_under_xdist_match_a_single_process(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    setup_suite(suite, provider)
    pytester.runpytest("--specbench-record-mode=once", "--snapshot-update", *xdist_args).assert_outcomes(
        passed=1
    )
    first = (pytester.path / CASSETTE).read_text().splitlines()
    provider.stop()

    result = pytester.runpytest("--specbench-record-mode=none", "--specbench-report=rep", *xdist_args)

    result.assert_outcomes(passed=1)
    assert records(pytester, "rep")[0]["source"] == "replayed"
    assert (pytester.path / CASSETTE).read_text().splitlines() == first  # a replay writes nothing


def test_none_without_a_cassette_errors_naming_test_and_fix(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    setup_suite(suite, provider)

    result = pytester.runpytest("--specbench-record-mode=none", *xdist_args)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*CassetteError: no cassette for test_spec[[]writer-notes[]] at turn 1*record-mode=once*"]
    )
    assert not provider.requests  # and the model was never asked


def test_drift_is_an_error_naming_turn_and_field(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    setup_suite(suite, provider)
    pytester.runpytest("--specbench-record-mode=once", "--snapshot-update").assert_outcomes(passed=1)
    (pytester.path / "codebases" / "notes" / "app.py").write_text("def add_note(text):\n    return text\n")

    result = pytester.runpytest("--specbench-record-mode=none", "--specbench-report=out", *xdist_args)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*cassette drift at turn 2: messages[[]2[]] (tool result of read_file) differs: recorded*"
         "re-record with --specbench-record-mode=all*"]
    )  # fmt: skip
    (record,) = records(pytester, "out")
    assert record["outcome"] == "error" and record["source"] == "replayed"


def test_all_rerecords_and_once_then_replays_the_new_recording(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    name = setup_suite(suite, provider)
    pytester.runpytest("--specbench-record-mode=once", "--snapshot-update").assert_outcomes(passed=1)
    provider.script(name, [*script()[:3], Reply.final("All written.")])
    asked = len(provider.requests)

    pytester.runpytest("--specbench-record-mode=once").assert_outcomes(passed=1)  # replayed: model not asked
    assert len(provider.requests) == asked
    pytester.runpytest("--specbench-record-mode=all", "--snapshot-update").assert_outcomes(passed=1)
    assert len(provider.requests) == asked + 4 and "All written." in (pytester.path / CASSETTE).read_text()
    provider.stop()
    replayed = pytester.runpytest("--specbench-record-mode=once", "--specbench-report=out")
    replayed.assert_outcomes(passed=1)
    assert records(pytester, "out")[0]["source"] == "replayed"


def test_a_models_own_record_mode_applies_unless_the_command_line_says_otherwise(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    setup_suite(suite, provider, record_mode="none")

    missing = pytester.runpytest()
    missing.assert_outcomes(errors=1)  # the table's none: nothing recorded yet
    pytester.runpytest("--specbench-record-mode=once", "--snapshot-update").assert_outcomes(passed=1)
    provider.stop()
    pytester.runpytest("--specbench-report=out").assert_outcomes(passed=1)
    assert records(pytester, "out")[0]["source"] == "replayed"
    live = pytester.runpytest("--specbench-record-mode=off")
    live.assert_outcomes(errors=1)
    live.stdout.fnmatch_lines(["*ProviderError*cannot connect*"])


def test_an_unknown_record_mode_is_a_usage_error_listing_the_valid_ones(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    setup_suite(suite, provider)
    pytester.makeini("[pytest]\nspecbench_config = specbench.toml\nspecbench_record_mode = sometimes\n")

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*specbench_record_mode: unknown record mode 'sometimes'; valid: off, none, once, all*"]
    )


def test_help_lists_the_record_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")

    result.stdout.fnmatch_lines(
        ["*--specbench-record-mode=*", "*--specbench-cassettes=DIR*", "*specbench_record_mode*"]
    )
