"""The config keys of thinking models, and the temperature they refuse, checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_specbench.config import load_config
from pytest_specbench.config.settings import Config
from pytest_specbench.errors import ConfigError

BRIEF = '[briefs.b]\ncodebase = "code"\nprompt = "Write specs."\n'
CLAUDE = '[models.claude]\nprovider = "anthropic"\nmodel = "claude-opus-4-5"\n'
GPT = '[models.gpt]\nprovider = "openai"\nmodel = "gpt-5"\n'


def load(tmp_path: Path, text: str) -> Config:
    (tmp_path / "code").mkdir(exist_ok=True)
    path = tmp_path / "specbench.toml"
    path.write_text(text + BRIEF, encoding="utf-8")
    return load_config(path)


def failure(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return str(info.value)


def temperature(config: Config, model: str) -> float | None:
    return config.settings_for(config.models[model], config.briefs["b"]).temperature


def test_claude_with_a_budget_leaves_the_temperature_unsent(tmp_path: Path) -> None:
    config = load(tmp_path, CLAUDE + "max_tokens = 8192\nthinking_budget_tokens = 4096\n")

    model = config.models["claude"]
    assert model.thinking and model.extra.thinking_budget_tokens == 4096
    assert temperature(config, "claude") is None  # the built-in 0.0 would be refused


def test_a_temperature_from_defaults_with_thinking_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    text = "[defaults]\ntemperature = 0.0\n" + CLAUDE + 'thinking = "adaptive"\n'

    message = failure(tmp_path, text)

    assert message.startswith(f"{tmp_path / 'specbench.toml'}: [defaults]: temperature: 0 applies to model")
    assert "Claude with thinking on accepts only its default temperature" in message
    assert 'set temperature = "unset" in [models.claude]' in message


def test_unset_in_the_model_table_wins_over_defaults(tmp_path: Path) -> None:
    text = (
        "[defaults]\ntemperature = 0.0\n"
        + CLAUDE
        + 'thinking = "adaptive"\neffort = "low"\ntemperature = "unset"\n'
    )

    config = load(tmp_path, text)

    assert temperature(config, "claude") is None and config.models["claude"].extra.effort == "low"


def test_unset_works_for_any_model(tmp_path: Path) -> None:
    config = load(tmp_path, "[defaults]\ntemperature = 0.0\n" + GPT + 'temperature = "unset"\n')
    assert temperature(config, "gpt") is None


def test_an_openai_reasoning_model_refuses_a_set_temperature(tmp_path: Path) -> None:
    message = failure(tmp_path, "[defaults]\ntemperature = 0.2\n" + GPT + 'reasoning_effort = "high"\n')
    assert "an OpenAI reasoning model accepts only its default temperature" in message


def test_an_openai_reasoning_model_without_a_set_temperature_sends_none(tmp_path: Path) -> None:
    config = load(tmp_path, GPT + 'reasoning_effort = "low"\n')
    assert temperature(config, "gpt") is None and config.models["gpt"].extra.reasoning_effort == "low"


def test_a_local_server_with_reasoning_effort_keeps_its_temperature(tmp_path: Path) -> None:
    local = GPT + 'base_url = "http://127.0.0.1:1234/v1"\nreasoning_effort = "low"\n'
    assert temperature(load(tmp_path, "[defaults]\ntemperature = 0.0\n" + local), "gpt") == 0.0


@pytest.mark.parametrize(
    ("keys", "fragments"),
    [
        ('thinking = "enabled"\n', ['thinking: "enabled" needs a budget', "add thinking_budget_tokens"]),
        (
            'thinking = "adaptive"\nthinking_budget_tokens = 2048\n',
            ["thinking_budget_tokens: adaptive thinking takes no budget"],
        ),
        ("thinking_budget_tokens = 4096\n", ["4096 is not under max_tokens = 4096", "raise max_tokens"]),
        ("thinking_budget_tokens = 512\n", ["must be at least 1024"]),
        ("interleaved_thinking = true\n", ["interleaved_thinking: applies to thinking with a budget"]),
        ('effort = "huge"\n', ['unknown value "huge"', '"low", "medium", "high", "xhigh", "max"']),
        ('temperature = "Unset"\n', ['expected a number or "unset"']),
    ],
)
def test_bad_thinking_keys(tmp_path: Path, keys: str, fragments: list[str]) -> None:
    message = failure(tmp_path, CLAUDE + keys)
    for fragment in fragments:
        assert fragment in message


def test_thinking_keys_belong_to_their_provider(tmp_path: Path) -> None:
    message = failure(tmp_path, GPT + "thinking_budget_tokens = 2048\n")
    assert 'thinking_budget_tokens: only applies to provider "anthropic"' in message


def test_an_interleaved_budget_may_exceed_max_tokens(tmp_path: Path) -> None:
    config = load(tmp_path, CLAUDE + "thinking_budget_tokens = 16000\ninterleaved_thinking = true\n")
    assert config.models["claude"].extra.interleaved_thinking is True
