"""A run that outgrows the window, end to end: a FAIL naming it with its partial tree judged; the
first request not fitting and a server that cuts the prompt in silence are ERRORs naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Fault, Reply, call

VERIFY = """
def test_spec(spec_run):
    spec_run.verify()
"""
LLAMA = {
    "error": {
        "code": 400,
        "message": "the request exceeds the available context size, try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 16520,
        "n_ctx": 16384,
    }
}
OPENAI = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "131072 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
ANTHROPIC = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "prompt is too long: 208310 tokens > 200000 maximum",
    },
}
FEATURE = call("create_feature", title="Notes", description="Keeps notes.")
READ = call("read_file", path="app.py")


def _overflowing(body: dict[str, Any]) -> list[Reply]:
    return [
        Reply(tool_calls=[FEATURE], input_tokens=1_000),
        Reply(tool_calls=[READ], input_tokens=2_000),
        Reply(text="never", faults=[Fault(status=400, error=body)]),
    ]


ROWS: list[tuple[str, str, dict[str, Any], str]] = [
    ("llama", "openai", LLAMA, "16,520 tokens > 16,384"),
    ("openai", "openai", OPENAI, "131,072 tokens > 128,000"),
    ("anthropic", "anthropic", ANTHROPIC, "208,310 tokens > 200,000"),
]


def _records(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    return {r["model"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_run_that_outgrew_the_window_fails_naming_it_and_its_tree_is_judged(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, stream: bool, xdist_args: list[str]
) -> None:
    for name, protocol, body, _ in ROWS:
        provider.script(suite.model(name, protocol, stream=stream), _overflowing(body))
    provider.script(
        suite.model("stop-reason", "anthropic", stream=stream),
        [
            Reply(tool_calls=[FEATURE], input_tokens=150_000),
            Reply(
                text="I was",
                input_tokens=199_500,
                output_tokens=500,
                stop_reason="model_context_window_exceeded",
            ),
        ],
    )
    suite.brief("notes", min_requirements=0)
    suite.write(VERIFY)

    result = pytester.runpytest("--specbench-transport=memory", "--specbench-report=out", *xdist_args)

    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*terminated*context window exhausted at turn 3: 16,520 tokens > 16,384*"])
    records = _records(pytester)
    expected = {name: f"context window exhausted at turn 3: {numbers}" for name, _, _, numbers in ROWS}
    # No window configured: the reply's own tokens are all there is to name.
    expected["stop-reason"] = "context window exhausted at turn 2: 200,000 tokens"
    for model, detail in expected.items():
        record = records[model]
        checks = {c["name"]: c for c in record["checks"]}
        assert (record["outcome"], record["stop_reason"]) == ("failed", "context_window"), model
        assert checks["terminated"] == {"name": "terminated", "passed": False, "detail": detail}
        assert checks["files_exist"]["passed"] and record["features"] == 1, model  # the partial tree


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_the_first_request_not_fitting_is_an_error_saying_so(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, stream: bool
) -> None:
    provider.script(
        suite.model("too-big", "openai", stream=stream), [Reply(faults=[Fault(status=400, error=LLAMA)])]
    )
    suite.brief("notes")
    suite.write(VERIFY)

    result = pytester.runpytest("--specbench-transport=memory", "--specbench-report=out")

    result.assert_outcomes(errors=1)
    record = _records(pytester)["too-big"]
    assert record["outcome"] == "error"
    assert "16,520 tokens > 16,384" in record["error"]
    assert "the first request already does not fit" in record["error"]


def test_a_server_that_cuts_the_prompt_in_silence_is_an_error_naming_it(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    provider.script(
        suite.model("ollama", "openai", context_window=4096),
        [Reply(tool_calls=[READ], input_tokens=n) for n in (1_200, 1_900, 2_000, 1_400)],
    )
    suite.brief("notes")
    suite.write(VERIFY)

    result = pytester.runpytest("--specbench-transport=memory", "--specbench-report=out")

    result.assert_outcomes(errors=1)
    error = _records(pytester)["ollama"]["error"]
    assert error.startswith(
        "context truncated by the server at turn 4: the prompt was 1,400 tokens after 2,000"
    )


def test_contexts_are_a_fourth_axis_and_each_strategy_is_compared_with_full(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    name = suite.model("alpha")
    suite.brief("notes", min_features=1, min_requirements=0)
    suite.write(VERIFY)
    requirement = call(
        "create_requirement", feature_id="F-0001", title="Add", description="d", acceptance_criteria=["c"]
    )
    provider.script(
        name, [Reply(tool_calls=[FEATURE, requirement]), Reply(tool_calls=[READ]), Reply.final("Wrote 1.")]
    )

    collected = pytester.runpytest("--specbench-contexts=full,mask,summary", "--collect-only", "-q")
    result = pytester.runpytest("--specbench-contexts=full,mask", "--specbench-report=out", *xdist_args)
    unknown = pytester.runpytest("--specbench-contexts=full,tiny")

    collected.stdout.fnmatch_lines(
        [
            "*test_spec[[]alpha-notes[]]",
            "*test_spec[[]alpha-notes-mask[]]",
            "*test_spec[[]alpha-notes-summary[]]",
        ]
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*context strategy effect (change against full)*"])
    records = json.loads((pytester.path / "out" / "results.json").read_text())
    assert sorted(r["context"] for r in records) == ["full", "mask"]
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines(["*--specbench-contexts names unknown id(s) tiny*"])


def test_the_window_a_server_says_is_the_runs_and_its_replay_runs_with_the_recorded_one(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    name = suite.model("vllm", "openai")  # no context_window in the config
    provider.documents["/v1/models"] = {"object": "list", "data": [{"id": name, "max_model_len": 8192}]}
    provider.script(
        name, [Reply(tool_calls=[FEATURE], input_tokens=1_000), Reply(text="Done.", input_tokens=2_048)]
    )
    suite.brief("notes", min_requirements=0, tree_quality=False)
    suite.write(VERIFY)
    once = ["--specbench-transport=memory", "--specbench-record-mode=once"]

    pytester.runpytest(*once, "--specbench-report=out").assert_outcomes(passed=1)
    # The server says another window now: a replay must not ask it (a fresh process, no cache).
    provider.documents["/v1/models"] = {"object": "list", "data": [{"id": name, "max_model_len": 4096}]}
    provider.script(name, [])
    pytester.runpytest_subprocess(*once, "--specbench-report=replay").assert_outcomes(passed=1)

    live = _records(pytester)["vllm"]
    (replayed,) = json.loads((pytester.path / "replay" / "results.json").read_text())
    assert live["context_window"] == replayed["context_window"] == 8192
    assert live["peak_context_fraction"] == replayed["peak_context_fraction"] == 0.25
    assert replayed["source"] == "replayed"
    (cassette,) = (pytester.path / "cassettes").glob("*.jsonl")
    assert json.loads(cassette.read_text().splitlines()[0])["context_window"] == 8192


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_native_context_editing_asks_anthropic_to_clear_old_reads_and_replays_exactly(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, stream: bool
) -> None:
    name = suite.model("claude", "anthropic", stream=stream, context_window=4_000)
    suite.model("gpt", "openai")
    provider.script(
        name,
        [
            Reply(tool_calls=[FEATURE], input_tokens=1_000),
            Reply(tool_calls=[READ], input_tokens=2_000),
            Reply(tool_calls=[READ], input_tokens=3_000),
            # The API cleared the first read before it answered: the prompt fell, by its own doing.
            Reply(text="Done.", input_tokens=1_500, cleared_tool_uses=1, cleared_input_tokens=1_600),
        ],
    )
    suite.brief("notes", min_requirements=0, tree_quality=False)
    suite.write(VERIFY)
    config = pytester.path / "specbench.toml"
    config.write_text(
        config.read_text() + '[contexts.edit]\nstrategy = "native"\nkeep_last = 2\ntrigger_tokens = 500\n'
    )
    once = ["--specbench-transport=memory", "--specbench-contexts=native", "--specbench-record-mode=once"]

    live = pytester.runpytest(*once, "--specbench-report=out", "-rs")
    sent = [body for path, body in provider.requests if path == "/v1/messages"]
    provider.script(name, [])
    replayed = pytester.runpytest(*once, "--specbench-report=replay")

    live.assert_outcomes(passed=1, skipped=1)
    live.stdout.fnmatch_lines(["*test_spec[[]gpt-notes-native[]]*only Anthropic's API has*"])
    live.stdout.fnmatch_lines(["native: the provider's own context editing (Anthropic's API only)*"])
    (edit,) = sent[0]["context_management"]["edits"]
    assert edit["type"] == "clear_tool_uses_20250919" and edit["keep"] == {"type": "tool_uses", "value": 8}
    assert "create_feature" in edit["exclude_tools"] and "read_file" not in edit["exclude_tools"]
    assert all(body["context_management"] == sent[0]["context_management"] for body in sent)
    betas = [h.get("anthropic-beta", "") for h in provider.request_headers]
    assert betas and all("context-management-2025-06-27" in b.split(",") for b in betas)
    replayed.assert_outcomes(passed=1, skipped=1)
    for report in ("out", "replay"):
        events = (pytester.path / report / "transcripts" / "test_spec[claude-notes-native].jsonl").read_text()
        (native,) = [e for line in events.splitlines() if (e := json.loads(line)).get("kind") == "context"]
        assert (native["strategy"], native["turn"]) == ("native", 4)
        assert native["detail"] == "the API cleared 1 tool results (1,600 input tokens)"

    provider.script(name, [Reply(tool_calls=[FEATURE]), Reply(text="Done.")])
    provider.requests.clear()
    edit_once = [*once[:1], "--specbench-contexts=edit", *once[2:]]
    edited = pytester.runpytest(*edit_once, "--specbench-models=claude")
    edited.assert_outcomes(passed=1)
    edited.stdout.fnmatch_lines(["edit: the provider's own context editing (Anthropic's API only)*"])
    (edit,) = provider.requests[0][1]["context_management"]["edits"]
    assert edit["keep"]["value"] == 2 and edit["trigger"] == {"type": "input_tokens", "value": 500}
    # The same id under other parameters: its cassette is another run's.
    config.write_text(config.read_text().replace("keep_last = 2", "keep_last = 3"))
    drifted = pytester.runpytest(*edit_once, "--specbench-models=claude")
    drifted.assert_outcomes(errors=1)
    drifted.stdout.fnmatch_lines(["*cassette drift: header.context_settings is *keep_last*2*"])


def test_a_configured_window_other_than_the_recorded_one_is_drift_and_an_older_cassette_replays(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    name = suite.model("vllm", "openai", context_window=8192)
    provider.script(name, [Reply(tool_calls=[FEATURE], input_tokens=1_000), Reply(text="Done.")])
    suite.brief("notes", min_requirements=0, tree_quality=False)
    suite.write(VERIFY)
    once = ["--specbench-transport=memory", "--specbench-record-mode=once"]
    pytester.runpytest(*once).assert_outcomes(passed=1)
    (cassette,) = (pytester.path / "cassettes").glob("*.jsonl")
    recorded = cassette.read_text()

    config = pytester.path / "specbench.toml"
    config.write_text(config.read_text().replace("context_window = 8192", "context_window = 4096"))
    drifted = pytester.runpytest(*once, "--specbench-report=drift")
    header, *rest = recorded.splitlines()
    older = {k: v for k, v in json.loads(header).items() if k != "context_window"}
    cassette.write_text("\n".join([json.dumps(older), *rest]) + "\n")  # recorded before the field
    replayed = pytester.runpytest(*once)

    drifted.assert_outcomes(errors=1)
    drifted.stdout.fnmatch_lines(["*cassette drift: header.context_window is 8192, this run's is 4096*"])
    replayed.assert_outcomes(passed=1)
