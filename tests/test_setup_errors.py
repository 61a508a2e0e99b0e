"""What the docs promise one line for is one line: no pytest traceback block at setup, no hang."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.config.load import check_option_paths
from pytest_specbench.errors import ConfigError
from pytest_specbench.testing import FakeProvider, Reply


def test_a_server_that_exits_before_the_handshake_is_one_line(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    """It printed a banner on stdout and left: the SDK's parse traceback is not shown as a captured log."""
    name = suite.model("writer")
    provider.script(name, [Reply.final("Done.")])
    banner = [sys.executable, "-c", "print('listening on stdio'); raise SystemExit(3)"]
    suite.brief("notes", server={"command": banner})
    suite.write()

    result = pytester.runpytest(*xdist_args)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*ServerError: MCP server could not be started or reached: it exited before the handshake*"]
    )
    assert "Traceback" not in result.stdout.str() and "Captured log" not in result.stdout.str()


def test_a_specs_dir_that_climbs_to_the_root_is_one_line(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    """Known only once the run's workspace is: `{workspace}/../..` up to `/` would snapshot the disk."""
    suite.model("writer")
    climb = "{workspace}" + "/.." * 40
    suite.brief("notes", server={"command": [sys.executable, "-c", "pass"], "specs_dir": climb})
    suite.write()

    result = pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*ServerError: brief 'notes': server.specs_dir * is /, the root or a system tree*"]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    ("table", "keys", "said"),
    [
        ("model", {"base_url": "http://127.0.0.1:99999/v1"}, "*base_url: not a valid URL*1 to 65535*"),
        ("brief", {"codebase": "/proc/self"}, "*codebase: /proc/self is the root or a system tree*"),
        ("brief", {"codebase": "/"}, "*codebase: / is the root or a system tree*"),
        ("brief", {"server": {"command": ["srv"], "specs_dir": "/"}}, "*specs_dir: / is the root*"),
        ("defaults", {"repeats": 10**9}, "*repeats: must be at most 1000, got 1000000000*"),
    ],
    ids=["port", "proc", "root", "specs-dir", "repeats"],
)
def test_a_config_that_would_hang_or_fill_the_disk_is_one_usage_error(
    suite: Any, pytester: pytest.Pytester, table: str, keys: dict[str, Any], said: str
) -> None:
    suite.model("writer", **(keys if table == "model" else {}))
    suite.brief("notes", **(keys if table == "brief" else {}))
    defaults = "".join(f"{k} = {v}\n" for k, v in keys.items()) if table == "defaults" else ""
    suite.write(defaults=defaults)

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {said}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_specbench_repeats_beyond_the_cap_is_a_usage_error(suite: Any, pytester: pytest.Pytester) -> None:
    suite.model("writer")
    suite.brief("notes")
    suite.write()

    result = pytester.runpytest("--specbench-repeats=1000000000")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *--specbench-repeats=1000000000 is more than 1000*"])


def test_option_paths_of_the_wrong_kind_are_found_before_any_run(tmp_path: Path) -> None:
    a_file, a_directory = tmp_path / "cassettes.txt", tmp_path / "report"
    a_file.write_text("")
    a_directory.mkdir()

    check_option_paths(tmp_path / "new-cassettes", tmp_path / "new.html")  # not there yet: fine
    check_option_paths(a_directory, a_file)
    with pytest.raises(
        ConfigError, match=r"cassettes.txt: --specbench-cassettes names a file, not a directory"
    ):
        check_option_paths(a_file, None)
    with pytest.raises(ConfigError, match=r"report: --specbench-html names a directory or a special file"):
        check_option_paths(None, a_directory)
