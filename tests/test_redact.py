"""Redactor: configured key values and key shapes go, ids, slugs, paths and names stay."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_specbench.agent.loop import ToolOutcome
from pytest_specbench.config.settings import BriefConfig, Config, ModelConfig, Provider, ServerConfig
from pytest_specbench.models.types import AssistantTurn, Message, ToolCall, ToolSpec
from pytest_specbench.redact import REDACTED, RedactingClient, RedactingTools, Redactor

FAKE_KEY = "sk-specbench-FAKE-0123456789abcdef"

SECRETS = [
    FAKE_KEY,
    "sk-ant-api03-Abc123_def456-GHI789jkl",
    "sk-proj-abcdefghijklmnop1234",
    "AIzaSyA1234567890abcdefghijklmnopqrstu",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
    "xoxb-1234567890-abcdefghij",
    "hf_abcdefghijklmnopqrstuvwxyz0123",
    "AKIAIOSFODNN7EXAMPLE",
    "3f786850e387550fdab836ed7e6dc881de23001b",
    "x9Fq2LmZ8rT4vB7nK1pW6sY3hJ5gD0cX2aQ8eR7tU4",
]
KEPT = [
    "F-0001",
    "R-0042 and F-12345",
    "specs/features/F-0001-canvas/requirements/R-0001-draw-shapes.md",
    "specs/features/F-0003-an-unusually-long-feature-title-for-a-slug/F-0003.md",
    "123e4567-e89b-12d3-a456-426614174000",
    "src/components/ButtonGroupItem2/LabelWithIcon3/index.tsx",
    "AbstractSingletonProxyFactoryBean2FactoryBuilder",
    "HTTPResponseHandlerFactoryForJSONAPIv2Endpoints",
    "TheQuickBrownFoxJumpsOverTheLazyDog1234567890",
    "call_0_1 toolu_3_0 chatcmpl-7 msg_2",
    "password: str",
    "token = get_token_from_env()",
    'api_key="not-needed"',
    "sk-short",
    "deadbeef" * 3,
    "A" * 60,
    "Bearer",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_key_shapes_are_redacted_wherever_they_stand(secret: str) -> None:
    redact = Redactor()
    for text in (secret, f"key={secret}", f'"{secret}"', f"({secret}).", f"a\n{secret}\nb"):
        assert secret not in redact(text)
        assert REDACTED in redact(text)


@pytest.mark.parametrize("text", KEPT)
def test_ids_slugs_paths_and_names_are_kept(text: str) -> None:
    assert Redactor()(text) == text


def test_bearer_and_assignments_keep_their_names() -> None:
    redact = Redactor()
    assert redact("Authorization: Bearer abc.def-ghi_jkl") == f"Authorization: Bearer {REDACTED}"
    assert redact("OPENAI_API_KEY=abc123def456ghi789") == f"OPENAI_API_KEY={REDACTED}"
    assert redact('"auth_token": "Zx81kq0Lw2mPq9"') == f'"auth_token": "{REDACTED}"'


def test_configured_values_of_any_shape_are_redacted() -> None:
    redact = Redactor(["plain-words-secret", "abc"])
    assert redact("use plain-words-secret now") == f"use {REDACTED} now"
    assert redact("abc stays: too short to redact safely") == "abc stays: too short to redact safely"


def test_random_base64_keys_are_mostly_caught() -> None:
    keys = [base64.b64encode(secrets.token_bytes(36)).decode() for _ in range(300)]
    caught = sum(Redactor()(key) == REDACTED for key in keys)
    assert caught >= 270  # the heuristic spares word-like tokens, so a few random ones slip through


def test_from_config_reads_set_key_variables_and_secret_server_env(tmp_path: Path) -> None:
    models = {
        "a": ModelConfig("a", Provider.OPENAI, "m", api_key_env="SPECBENCH_A_KEY"),
        "b": ModelConfig("b", Provider.ANTHROPIC, "m"),
        "c": ModelConfig("c", Provider.OPENAI, "m", api_key_env="SPECBENCH_UNSET"),
    }
    server = ServerConfig(command=("srv",), env={"SERVICE_TOKEN": "tok-value-1", "MODE": "verbose-mode"})
    briefs = {"x": BriefConfig("x", tmp_path, "p", server=server)}
    config = Config(tmp_path / "specbench.toml", models, briefs)
    environ = {"SPECBENCH_A_KEY": "first-secret", "ANTHROPIC_API_KEY": "second-secret"}

    redact = Redactor.from_config(config, environ)

    text = "first-secret second-secret tok-value-1 verbose-mode"
    assert redact(text) == f"{REDACTED} {REDACTED} {REDACTED} verbose-mode"
    assert Redactor.from_config(None, environ)(text) == text


def test_data_redacts_every_string_in_json_like_data() -> None:
    record = {"error": f"HTTP 401 for {FAKE_KEY}", "checks": [{"detail": FAKE_KEY}], "turns": 3, "x": None}
    assert Redactor().data(record) == {
        "error": f"HTTP 401 for {REDACTED}",
        "checks": [{"detail": REDACTED}],
        "turns": 3,
        "x": None,
    }


def test_turns_and_tool_results_are_redacted_at_the_seams() -> None:
    raw = f'{{"title": "{FAKE_KEY}"}}'
    call = ToolCall("c1", "create_feature", {"title": FAKE_KEY}, raw)
    clean = ToolCall("c2", "get_spec_tree", {}, "{}")
    broken = ToolCall("c3", "x", None, f"{{{FAKE_KEY}", parse_error="not JSON")

    class Echo:
        async def generate(
            self, system: str, messages: list[Message], tools: list[ToolSpec]
        ) -> AssistantTurn:
            return AssistantTurn(f"my key is {FAKE_KEY}", (call, clean, broken))

    class Tools:
        async def list_tools(self) -> list[ToolSpec]:
            return []

        async def call_tool(self, name: str, arguments: dict[str, object]) -> ToolOutcome:
            return ToolOutcome(f"OPENAI_API_KEY={FAKE_KEY}", is_error=True)

        marker = "reachable"

    async def main() -> tuple[AssistantTurn, ToolOutcome]:
        turn = await RedactingClient(Echo(), Redactor()).generate("", [], [])
        return turn, await RedactingTools(Tools(), Redactor()).call_tool("read_file", {})

    turn, outcome = anyio.run(main)
    assert turn.text == f"my key is {REDACTED}"
    assert turn.tool_calls[0].arguments == {"title": REDACTED}
    assert turn.tool_calls[0].raw_arguments == f'{{"title": "{REDACTED}"}}'
    assert turn.tool_calls[1] is clean
    assert (turn.tool_calls[2].arguments, turn.tool_calls[2].raw_arguments) == (None, f"{{{REDACTED}")
    assert outcome == ToolOutcome(f"OPENAI_API_KEY={REDACTED}", is_error=True)
    escaped = ToolCall(
        "c4", "create_feature", {"title": FAKE_KEY}, '{"title": "sk\\u002d' + FAKE_KEY[3:] + '"}'
    )
    assert (
        Redactor().turn(AssistantTurn("", (escaped,))).tool_calls[0].raw_arguments
        == f'{{"title": "{REDACTED}"}}'
    )
    assert RedactingTools(Tools(), Redactor()).marker == "reachable"


@given(st.text())
def test_redaction_is_idempotent_and_never_grows_a_secret(text: str) -> None:
    redact = Redactor([FAKE_KEY])
    once = redact(text + FAKE_KEY)
    assert FAKE_KEY not in once
    assert redact(once) == once


def _unhinted(redactor: Redactor, text: str) -> str:
    """The pass as it was before the hints: every pattern over every text."""
    from pytest_specbench import redact

    if redactor._known is not None:
        text = redactor._known.sub(REDACTED, text)
    text = redact._VENDOR.sub(REDACTED, text)
    text = redact._BEARER.sub(rf"\g<1>{REDACTED}", text)
    text = redact._ASSIGNED.sub(redact._assigned, text)
    text = redact._HEX.sub(redact._hex, text)
    return redact._BASE64.sub(redact._base64, text)


_PIECES = st.sampled_from(
    [
        "api_key",
        "API-KEY",
        "Token",
        "\u017fecret",
        "pa\u017f\u017fword",
        "ap\u0130key",
        "to\u212aen",
        "\u0131",
        "bearer",
        "BEARER ",
        "sk-",
        "AIza",
        "ghp_",
        "xoxb-",
        "hf_",
        "AKIA",
        "=",
        ": ",
        '"',
        " ",
        "\n",
        "-",
        "_",
        "abcdef0123456789ABCDEFxyz",
        "Zm9vYmFyYmF6cXV4",
        "é",
        "→",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_hints_never_change_what_is_redacted(text: str) -> None:
    redactor = Redactor(["bench-secret-value"])

    assert redactor(text) == _unhinted(redactor, text)


@pytest.mark.parametrize("text", ["Bearer abcdefgh", "xoxb-0123456789"])
def test_the_shortest_shapes_are_still_redacted(text: str) -> None:
    assert len(text) == 15 and REDACTED in Redactor()(text)
