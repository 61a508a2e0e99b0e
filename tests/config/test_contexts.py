"""`[contexts.<id>]` tables, the built-in strategies, and a model's `context_window`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_specbench.config import load_config
from pytest_specbench.config.settings import BUILTIN_CONTEXTS, Config, ContextConfig, ContextStrategy, run_id
from pytest_specbench.errors import ConfigError

MODEL = '[models.m]\nprovider = "openai"\nmodel = "gpt"\ncontext_window = 128000\n'
BRIEF = '[briefs.b]\ncodebase = "code"\nprompt = "Write specs."\n'


def load(tmp_path: Path, text: str) -> Config:
    (tmp_path / "code").mkdir(exist_ok=True)
    path = tmp_path / "specbench.toml"
    path.write_text(MODEL + BRIEF + text, encoding="utf-8")
    return load_config(path)


def failure(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return str(info.value)


def test_full_mask_and_summary_are_built_in(tmp_path: Path) -> None:
    config = load(tmp_path, "")

    assert config.contexts == BUILTIN_CONTEXTS
    assert [c.strategy for c in config.contexts.values()] == list(ContextStrategy)
    assert config.models["m"].context_window == 128_000


def test_a_context_table_adds_a_strategy_with_its_parameters(tmp_path: Path) -> None:
    text = '[contexts.mask-3]\nstrategy = "mask"\nkeep_last = 3\n[contexts.early]\nstrategy = "summary"\n'
    text += "summary_at = 0.5\n"

    contexts = load(tmp_path, text).contexts

    assert contexts["mask-3"] == ContextConfig("mask-3", ContextStrategy.MASK, keep_last=3)
    assert contexts["early"] == ContextConfig("early", ContextStrategy.SUMMARY, summary_at=0.5)
    assert list(contexts)[:3] == ["full", "mask", "summary"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            '[contexts.full]\nstrategy = "mask"\n',
            '"full" is a built-in context strategy and cannot be redefined',
        ),
        ('[contexts.x]\nstrategy = "forget"\n', "[contexts.x]"),
        ("[contexts.x]\nkeep_last = 2\n", 'add strategy = "mask"'),
        ('[contexts.x]\nstrategy = "summary"\nsummary_at = 1.5\n', "must be between 0 and 1"),
        ('[contexts.x]\nstrategy = "mask"\nkeep_last = 0\n', "keep_last"),
        ('[contexts.x]\nstrategy = "mask"\nkeep = 2\n', "unknown key"),
        (
            '[contexts.x]\nstrategy = "mask"\ntrigger_tokens = 500\n',
            'trigger_tokens: does nothing under strategy = "mask" (which reads: keep_last)',
        ),
        ('[contexts.x]\nstrategy = "full"\nsummary_at = 0.5\n', "(which reads: none)"),
    ],
    ids=[
        "builtin",
        "unknown-strategy",
        "no-strategy",
        "fraction",
        "keep-zero",
        "unknown-key",
        "unread-key",
        "full-reads-none",
    ],
)
def test_a_broken_context_table_says_what_to_fix(tmp_path: Path, text: str, says: str) -> None:
    assert says in failure(tmp_path, text)


def test_an_unknown_strategy_lists_the_valid_ones(tmp_path: Path) -> None:
    message = failure(tmp_path, '[contexts.x]\nstrategy = "forget"\n')

    assert all(name in message for name in ("full", "mask", "summary"))


def test_the_test_id_names_the_strategy_unless_it_is_full() -> None:
    assert run_id("m", "b") == run_id("m", "b", "bare", "full") == "m-b"
    assert run_id("m", "b", "bare", "mask") == "m-b-mask"
    assert run_id("m", "b", "full", "summary") == "m-b-full-summary"


def test_a_strategy_that_would_make_two_runs_share_an_id_is_refused(tmp_path: Path) -> None:
    message = failure(tmp_path, '[briefs.b-mask]\ncodebase = "code"\nprompt = "p"\n')

    assert 'makes test id "m-b-mask" ambiguous' in message
    assert "[contexts.mask]" in message
