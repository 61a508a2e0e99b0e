"""`[contexts.<id>]` tables, the built-in strategies, and a model's `context_window`."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_specbench.config.settings import BUILTIN_CONTEXTS, Config, ContextConfig, ContextStrategy, run_id

MODEL = '[models.m]\nprovider = "openai"\nmodel = "gpt"\ncontext_window = 128000\n'
BRIEF = '[briefs.b]\ncodebase = "code"\nprompt = "Write specs."\n'


def load(toml: Any, text: str) -> Config:
    return toml.load(MODEL + BRIEF + text)


def failure(toml: Any, text: str) -> str:
    return toml.failure(MODEL + BRIEF + text)


def test_full_mask_and_summary_are_built_in(toml: Any) -> None:
    config = load(toml, "")

    assert config.contexts == BUILTIN_CONTEXTS
    assert [c.strategy for c in config.contexts.values()] == list(ContextStrategy)
    assert config.models["m"].context_window == 128_000


def test_a_context_table_adds_a_strategy_with_its_parameters(toml: Any) -> None:
    text = '[contexts.mask-3]\nstrategy = "mask"\nkeep_last = 3\n[contexts.early]\nstrategy = "summary"\n'
    text += "summary_at = 0.5\n"

    contexts = load(toml, text).contexts

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
def test_a_broken_context_table_says_what_to_fix(toml: Any, text: str, says: str) -> None:
    assert says in failure(toml, text)


def test_an_unknown_strategy_lists_the_valid_ones(toml: Any) -> None:
    message = failure(toml, '[contexts.x]\nstrategy = "forget"\n')

    assert all(name in message for name in ("full", "mask", "summary"))


def test_the_test_id_names_the_strategy_unless_it_is_full() -> None:
    assert run_id("m", "b") == run_id("m", "b", "bare", "full") == "m-b"
    assert run_id("m", "b", "bare", "mask") == "m-b-mask"
    assert run_id("m", "b", "full", "summary") == "m-b-full-summary"


def test_a_strategy_that_would_make_two_runs_share_an_id_is_refused(toml: Any) -> None:
    message = failure(toml, '[briefs.b-mask]\ncodebase = "code"\nprompt = "p"\n')

    assert 'makes test id "m-b-mask" ambiguous' in message
    assert "[contexts.mask]" in message
