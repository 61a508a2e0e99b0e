"""Which words of a final answer are claims: the model's own prose, not data, code or echoed prompts."""

from __future__ import annotations

from pytest_specbench import DEFAULT_SYSTEM_PROMPT
from pytest_specbench.verdicts.claims import Claims, Count, PathClaim, read_claims

DRAFT = '{"features": [{"title": "Complete task"", "id": "F-0007", "requirements": 12}]}'


def test_json_in_the_answer_is_data_not_claims() -> None:
    answer = f"Here is the plan:\n{DRAFT}\nI could not call the tools."

    assert read_claims(answer) == Claims()


def test_json_cut_off_by_the_token_limit_runs_to_the_end() -> None:
    assert read_claims('Plan: [{"title": "Done", "file": "specs/a.md", "n": "3 features') == Claims()


def test_code_blocks_are_not_claims_even_unclosed() -> None:
    answer = '```json\n{"title": "x"}\n```\nsee:\n```\nspecs/SPEC.md created with 30 features'

    assert read_claims(answer) == Claims()


def test_an_echoed_prompt_is_not_a_claim() -> None:
    start = DEFAULT_SYSTEM_PROMPT.index("Use get_spec_tree")
    echo = DEFAULT_SYSTEM_PROMPT[start : start + 95]  # "Use get_spec_tree to review what you have written..."

    assert read_claims(f"{echo}\n{DEFAULT_SYSTEM_PROMPT[-120:]}", [DEFAULT_SYSTEM_PROMPT]) == Claims()
    assert read_claims(echo).done == "you have written"  # without the prompt to compare


def test_prose_around_data_and_echoes_still_counts() -> None:
    answer = f"{DEFAULT_SYSTEM_PROMPT[-105:]}\nI created 2 features (F-0001, F-0002), see README.md.\n{DRAFT}"

    claims = read_claims(answer, [DEFAULT_SYSTEM_PROMPT])

    assert claims == Claims(
        paths=(PathClaim("README.md", "see README.md"),),
        ids=("F-0001", "F-0002"),
        counts=(Count(2, "feature"),),
        done="I created 2 features",
    )


def test_a_few_words_shared_with_the_prompt_are_still_prose() -> None:
    # The system prompt says "When the specification is complete, stop calling tools ..."
    claims = read_claims("The specification is complete.", [DEFAULT_SYSTEM_PROMPT])

    assert claims.done == "specification is complete"


def test_a_title_quoted_in_prose_is_read_and_quoted_cleanly() -> None:
    claims = read_claims('**Done**: created "Tick off tasks" (F-0001) with 1 requirement.')

    assert (claims.done, claims.ids, claims.counts) == (
        "Done: created Tick off",
        ("F-0001",),
        (Count(1, "requirement"),),
    )
