"""Context overflow in each provider's words: the classifier, and both adapters over FakeProvider."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from pytest_specbench.config.settings import ModelConfig, Provider, RunSettings
from pytest_specbench.errors import ContextOverflow, ProviderError
from pytest_specbench.models import AssistantTurn, ToolSpec, Usage, UserMessage, open_client
from pytest_specbench.models.overflow import (
    Overflow,
    context_window,
    overflow_in_body,
    overflow_in_reply,
    overflow_in_text,
)
from pytest_specbench.testing import FakeProvider, Fault, Reply

# Real bodies, as each server sends them (found in the servers' issue trackers and sources).
OPENAI = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted "
        "in 131072 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
OPENAI_RESPONSES = {
    "error": {
        "message": "Your input exceeds the context window of this model. "
        "Please adjust your input and try again.",
        "type": "invalid_request_error",
        "param": "input",
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
ANTHROPIC_OLD = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "input length and `max_tokens` exceed context limit: 197022 + 21333 > 200000, decrease "
        "input length or `max_tokens` and try again",
    },
}
LLAMA = {
    "error": {
        "code": 400,
        "message": "the request exceeds the available context size, try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 16520,
        "n_ctx": 16384,
    }
}
VLLM = {
    "object": "error",
    "message": "This model's maximum context length is 16384 tokens. However, you requested 122946 tokens "
    "(112946 in the messages, 10000 in the completion). "
    "Please reduce the length of the messages or completion.",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}
VLLM_NEW = {
    "error": {
        "message": "'max_tokens' or 'max_completion_tokens' is too large: 2000. This model's maximum context "
        "length is 4096 tokens and your request has 2104 input tokens (2000 > 4096 - 2104).",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
}
LMSTUDIO = {
    "error": "Trying to keep the first 15857 tokens when context the overflows. However, the model is loaded "
    "with context length of only 4096 tokens, which is not enough. Try to load the model with a larger "
    "context length, or provide a shorter input"
}

BODIES = [
    ("openai", OPENAI, 131072, 128000),
    ("openai-responses", OPENAI_RESPONSES, None, None),
    ("anthropic", ANTHROPIC, 208310, 200000),
    ("anthropic-old", ANTHROPIC_OLD, 197022 + 21333, 200000),
    ("llama-server", LLAMA, 16520, 16384),
    ("vllm", VLLM, 122946, 16384),
    ("vllm-max-tokens", VLLM_NEW, 2104 + 2000, 4096),
    ("lmstudio", LMSTUDIO, 15857, 4096),
]


@pytest.mark.parametrize(("body", "tokens", "window"), [b[1:] for b in BODIES], ids=[b[0] for b in BODIES])
def test_each_providers_body_is_an_overflow_with_its_numbers(
    body: dict[str, Any], tokens: int | None, window: int | None
) -> None:
    found = overflow_in_body(body)

    assert found is not None
    assert (found.tokens, found.window) == (tokens, window)


@pytest.mark.parametrize(
    ("text", "tokens", "window"),
    [
        ("Cannot truncate prompt with n_keep (15028) >= n_ctx (7424)", 15028, 7424),
        ("Input length 6491 exceeds context length 1500", 6491, 1500),
        ("Reached context length of 32000 tokens with model (arch: gpt-oss)", None, 32000),
        ("request (4476 tokens) exceeds the available context size (4096 tokens)", 4476, 4096),
        (
            "This model's maximum context length is 128000 tokens. "
            "However, you requested 65535 output tokens and your prompt contains at least 62466 input "
            "tokens, for a total of at least 128001 tokens.",
            128001,
            128000,
        ),
    ],
)
def test_other_servers_words_are_read_from_the_text(
    text: str, tokens: int | None, window: int | None
) -> None:
    found = overflow_in_text(text)

    assert found is not None and (found.tokens, found.window) == (tokens, window)


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": None}},
        {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "max_tokens: field required"},
        },
        {"error": {"message": "the model is loading", "type": "unavailable_error", "code": 503}},
        "<html>502 Bad Gateway</html>",
    ],
)
def test_other_errors_are_not_overflows(body: object) -> None:
    assert overflow_in_body(body) is None


def test_the_type_decides_before_the_text() -> None:
    # llama-server's numbers are fields; its message has none, and would match only loosely.
    found = overflow_in_body({"error": {"type": "exceed_context_size_error", "message": "no numbers here"}})

    assert found == Overflow(None, None, "no numbers here")


def test_numbers_read_as_the_verdict_shows_them() -> None:
    assert Overflow(131072, 128000).numbers() == "131,072 tokens > 128,000"
    assert Overflow(None, 16384).numbers() == "the window of 16,384 tokens"


def test_a_reply_stopped_by_the_window_is_an_overflow() -> None:
    anthropic = AssistantTurn("", usage=Usage(199_000, 1_000), stop_reason="other",
                              raw_stop_reason="model_context_window_exceeded")  # fmt: skip
    at_window = AssistantTurn(
        "", usage=Usage(16_000, 384), stop_reason="max_tokens", raw_stop_reason="length"
    )
    short = AssistantTurn("", usage=Usage(1_000, 384), stop_reason="max_tokens", raw_stop_reason="length")

    assert overflow_in_reply(anthropic, None) == Overflow(200_000, None, "model_context_window_exceeded")
    found = overflow_in_reply(at_window, 16_384)
    assert found is not None and (found.tokens, found.window) == (16_384, 16_384)
    assert overflow_in_reply(short, 16_384) is None  # max_tokens cut it, not the window
    assert overflow_in_reply(at_window, None) is None  # no window known: not judged


def test_the_window_is_the_configs_or_a_local_models_n_ctx() -> None:
    openai = ModelConfig(id="a", provider=Provider.OPENAI, model="m", context_window=128_000)
    local = ModelConfig(id="b", provider=Provider.LLAMACPP, model="m", extra={"n_ctx": 8192})
    bundled = ModelConfig(id="c", provider=Provider.LLAMACPP, model="m")

    assert context_window(openai) == 128_000
    assert context_window(local) == 8192
    assert context_window(bundled) == 16384
    assert context_window(ModelConfig(id="d", provider=Provider.OPENAI, model="m")) is None


# --- through the adapters, over the wire ------------------------------------------------


@pytest.fixture(params=[False, True], ids=["json", "sse"])
def stream(request: pytest.FixtureRequest) -> bool:
    """Whether the client streams its answers."""
    return bool(request.param)


def _model(provider: FakeProvider, protocol: Provider, stream: bool) -> ModelConfig:
    openai = protocol is Provider.OPENAI
    base_url = provider.openai_base_url if openai else provider.anthropic_base_url
    return ModelConfig(id="m", provider=protocol, model="fake", base_url=base_url, stream=stream)


def _generate(model: ModelConfig) -> AssistantTurn:
    async def main() -> AssistantTurn:
        async with open_client(model, RunSettings(request_timeout_s=5, max_retries=2), "key") as client:
            tool = ToolSpec("read_file", "Read.", {"type": "object"})
            return await client.generate("sys", [UserMessage("Specify it.")], [tool])

    return anyio.run(main)


WIRE = [
    (Provider.OPENAI, OPENAI, "131,072 tokens > 128,000"),
    (Provider.OPENAI, LLAMA, "16,520 tokens > 16,384"),
    (Provider.OPENAI, VLLM, "122,946 tokens > 16,384"),
    (Provider.ANTHROPIC, ANTHROPIC, "208,310 tokens > 200,000"),
    (Provider.ANTHROPIC, LLAMA, "16,520 tokens > 16,384"),  # llama-server's /v1/messages
]


@pytest.mark.parametrize(("protocol", "body", "numbers"), WIRE, ids=["openai", "llama", "vllm", "anthropic",
                                                                     "llama-messages"])  # fmt: skip
def test_an_overflow_answer_is_a_context_overflow_never_retried(
    provider: FakeProvider, stream: bool, protocol: Provider, body: dict[str, Any], numbers: str
) -> None:
    provider.script("fake", [Reply(text="x", faults=[Fault(status=400, error=body)] * 3)])

    with pytest.raises(ContextOverflow) as raised:
        _generate(_model(provider, protocol, stream))

    assert numbers in str(raised.value)
    assert "does not fit the context window" in str(raised.value)
    assert len(provider.requests) == 1  # not retried, though max_retries = 2


def test_a_plain_bad_request_stays_a_provider_error(provider: FakeProvider, stream: bool) -> None:
    provider.script("fake", [Reply(text="x", faults=[Fault(status=400, message="max_tokens: too large")])])

    with pytest.raises(ProviderError) as raised:
        _generate(_model(provider, Provider.OPENAI, stream))

    assert not isinstance(raised.value, ContextOverflow)


def test_anthropics_window_stop_reason_arrives_as_the_raw_stop_reason(
    provider: FakeProvider, stream: bool
) -> None:
    provider.script("fake", [Reply(text="I was", stop_reason="model_context_window_exceeded")])

    turn = _generate(_model(provider, Provider.ANTHROPIC, stream))

    assert turn.raw_stop_reason == "model_context_window_exceeded"
    assert overflow_in_reply(turn, None) is not None
