"""Cost: model prices give every run a cost_usd, and max_cost_usd stops a run like any limit."""

from __future__ import annotations

import json

import pytest

from pytest_specbench.testing import FakeProvider, Reply


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_prices_give_cost_and_max_cost_usd_stops_the_run(
    suite, provider: FakeProvider, pytester: pytest.Pytester, protocol: str, xdist_args: list[str]
) -> None:
    prices = {"price_input_per_mtok": 1000, "price_output_per_mtok": 2000}
    provider.script(suite.model("thrifty", protocol, **prices), [Reply.tool("list_files"), Reply.final("ok")])
    spender = suite.model("spender", protocol, max_cost_usd=0.05, **prices)
    provider.script(spender, [Reply.tool("list_files")] * 9)
    suite.brief("notes")
    suite.write("def test_spec(spec_run):\n    spec_run.verify()\n")

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*terminated: max_cost_usd=0.05 reached ($0.0600)*"])
    result.stdout.fnmatch_lines(["*cost $*", "test_spec[[]thrifty-notes[]]*PASSED*0.0400*"])
    records = {r["model"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}
    # 10 tokens in and 5 out per turn at $1000 and $2000 per million: $0.02 a turn
    assert records["thrifty"]["cost_usd"] == 0.04 and records["thrifty"]["turns"] == 2
    assert records["spender"]["cost_usd"] == 0.06 and records["spender"]["stop_reason"] == "max_cost_usd"
