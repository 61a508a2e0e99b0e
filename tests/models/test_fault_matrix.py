"""Both adapters against every provider fault, as JSON and as a stream, at the `generate()` level.

test_openai.py and test_anthropic.py cover each adapter's own wording; this matrix checks
that the two behave alike for every fault: retried within `max_retries`, the retries
counted on the turn, then one ProviderError line naming the cause.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from pytest_specbench.config.settings import ModelConfig, Provider, RunSettings
from pytest_specbench.errors import ProviderError
from pytest_specbench.models import AssistantTurn, UserMessage, open_client
from pytest_specbench.testing import FakeProvider, Fault, Reply

ONE_RETRY = RunSettings(request_timeout_s=2.0, max_retries=1)
STATUSES = (429, 500, 502, 503, 529)
BROKEN_OFF = {
    "drop": Fault(kind="drop"),
    "cut": Fault(kind="cut_stream"),
}


@pytest.fixture(params=list(Provider)[:2], ids=str)
def protocol(request: pytest.FixtureRequest) -> Provider:
    """OpenAI's Chat Completions or Anthropic's Messages API."""
    return Provider(request.param)


@pytest.fixture(params=[False, True], ids=["json", "sse"])
def stream(request: pytest.FixtureRequest) -> bool:
    """Whether the client streams its answers."""
    return bool(request.param)


def model_for(provider: FakeProvider, protocol: Provider, stream: bool) -> ModelConfig:
    base_url = provider.openai_base_url if protocol is Provider.OPENAI else provider.anthropic_base_url
    return ModelConfig(
        "m", protocol, "scripted", base_url=base_url, api_key_env="SPECBENCH_NONE", stream=stream
    )


def generate(model: ModelConfig, settings: RunSettings = ONE_RETRY) -> AssistantTurn:
    async def main() -> AssistantTurn:
        async with open_client(model, settings, "sk-test") as client:
            return await client.generate("", [UserMessage("Specify it.")], [])

    return anyio.run(main)


def failure(model: ModelConfig, settings: RunSettings = ONE_RETRY) -> str:
    with pytest.raises(ProviderError) as raised:
        generate(model, settings)
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("status", STATUSES)
def test_status_faults_are_retried_then_reported(
    provider: FakeProvider, protocol: Provider, stream: bool, status: int
) -> None:
    model = model_for(provider, protocol, stream)
    provider.script("scripted", [Reply(text="Recovered.", faults=[Fault(status=status)])])
    turn = generate(model)
    assert (turn.text, turn.retries) == ("Recovered.", 1)

    provider.script("scripted", [Reply(faults=[Fault(status=status, message="busy")] * 2)])
    assert failure(model) == f"model 'm': HTTP {status} after 1 retry: busy"


@pytest.mark.parametrize("name", sorted(BROKEN_OFF))
def test_broken_off_answers_are_retried_then_reported(
    provider: FakeProvider, protocol: Provider, stream: bool, name: str
) -> None:
    model = model_for(provider, protocol, stream)
    provider.script("scripted", [Reply(text="Whole.", faults=[BROKEN_OFF[name]])])
    turn = generate(model)
    assert (turn.text, turn.retries) == ("Whole.", 1)

    provider.script("scripted", [Reply(text="Never whole.", faults=[BROKEN_OFF[name]] * 2)])
    assert "broke off the connection before a complete answer after 1 retry" in failure(model)


def test_retry_after_in_seconds_is_honoured(provider: FakeProvider, protocol: Provider) -> None:
    arrivals: list[float] = []

    def answer(body: dict[str, Any]) -> Reply:
        arrivals.append(time.monotonic())
        return Reply(text="Later.", faults=[Fault(status=429, headers={"retry-after": "0.3"})])

    provider.script("scripted", [answer])
    turn = generate(model_for(provider, protocol, False))

    assert (turn.text, turn.retries) == ("Later.", 1)
    assert arrivals[1] - arrivals[0] >= 0.3


def test_an_error_event_inside_a_stream_is_resent(provider: FakeProvider, protocol: Provider) -> None:
    overloaded = Fault(status=529, kind="error_event", message="Overloaded")
    provider.script("scripted", [Reply(text="Recovered.", faults=[overloaded])])
    turn = generate(model_for(provider, protocol, True))
    assert (turn.text, turn.retries) == ("Recovered.", 1)


def test_a_refusal_inside_a_stream_is_not_resent(provider: FakeProvider, protocol: Provider) -> None:
    refused = Fault(status=400, kind="error_event", message="prompt is too long")
    provider.script("scripted", [Reply(text="Never.", faults=[refused])])

    message = failure(model_for(provider, protocol, True))

    assert message == "model 'm': the server reported an error inside its answer: prompt is too long"
    assert len(provider.requests) == 1


def test_a_slow_answer_times_out_after_each_retry(provider: FakeProvider, protocol: Provider) -> None:
    provider.script("scripted", [Reply(faults=[Fault(kind="delay", seconds=1.0)] * 2)])

    message = failure(model_for(provider, protocol, False), RunSettings(request_timeout_s=0.2, max_retries=1))

    assert message.startswith("model 'm': request timed out after 0.2s (request_timeout_s) after 1 retry")


def test_an_answer_that_is_not_json_is_not_retried(
    provider: FakeProvider, protocol: Provider, stream: bool
) -> None:
    provider.script("scripted", [Reply(faults=[Fault(kind="not_json")])])

    assert "cannot read the answer from http://127.0.0.1:" in failure(model_for(provider, protocol, stream))
    assert len(provider.requests) == 1
