"""The context strategy's effect table: each strategy against the full run of the same group."""

from __future__ import annotations

from typing import Any

from pytest_specbench.report.context_effect import render_context_effect, with_context_effect


def _record(context: str | None, reqs: int | None, tokens: int, **more: Any) -> dict[str, Any]:
    suffix = "" if context in (None, "full") else f"-{context}"
    record: dict[str, Any] = {"test_id": f"test_spec[q-b{suffix}]", "model": "q", "brief": "b"}
    record["outcome"] = "passed"
    record |= {"requirements": reqs, "features": 2, "total_tokens": tokens, "turns": 20, **more}
    return record if context is None else {**record, "context": context}


def test_each_strategy_is_compared_with_the_full_run_of_its_group() -> None:
    records = [
        _record("mask", 31, 390_000),
        _record(None, 12, 400_000, peak_context_fraction=1.0, outcome="failed"),
        _record("summary", 0, 100_000),
    ]

    mask, full, summary = with_context_effect(records)

    assert (mask["requirements_vs_full"], mask["requirements_ratio_vs_full"]) == (19, 2.58)
    assert (mask["total_tokens_vs_full"], mask["total_tokens_ratio_vs_full"]) == (-10_000, 0.97)
    assert summary["requirements_vs_full"] == -12
    assert "requirements_vs_full" not in full


def test_the_table_puts_full_first_and_shows_the_changes() -> None:
    records = [_record("mask", 31, 390_000), _record("full", 12, 400_000, peak_context_fraction=1.0)]

    header, first, second = render_context_effect(records)

    assert header.split()[:3] == ["run", "context", "outcome"]
    assert first.split()[:2] == ["test_spec[q-b]", "full"] and "100%" in first
    assert "+19 (×2.58)" in second and "-10,000 (×0.97)" in second


def test_no_table_when_every_run_is_full_and_no_change_without_a_twin() -> None:
    assert render_context_effect([_record(None, 3, 10)]) == []
    (alone,) = with_context_effect([_record("mask", 3, 10)])
    assert alone["requirements_vs_full"] is None
