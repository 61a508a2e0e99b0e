"""A table of broken specbench.toml values: one usage error naming the file and the key, never a
traceback or a hang.

Most cases load the config directly (milliseconds each); a few go through the plugin in a pytest
subprocess with a timeout, so a hang fails the case instead of stalling the suite.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.config import load_config, schema
from pytest_specbench.errors import ConfigError
from pytest_specbench.testing import FakeProvider, Reply

CASE_SECONDS = 10.0
"""A case that takes longer is a hang (the real ones take milliseconds)."""

BASE: dict[str, dict[str, str]] = {
    "defaults": {"max_turns": "10"},
    "models.m": {"provider": '"openai"', "model": '"scripted"', "base_url": '"http://127.0.0.1:8000/v1"'},
    "briefs.b": {
        "codebase": '"code"',
        "prompt": '"Specify it."',
        "server": '{ command = ["python", "-c", "pass"], specs_dir = "{workspace}/specs" }',
    },
    "scaffolds.s": {"tools": '["todo"]'},
    "contexts.c": {"strategy": '"mask"'},
    "gate": {"alpha": "0.05"},
}
HOSTILE = [
    '"x"', '""', "-1", "0", "1000000000", "9223372036854775807", "nan", "inf", "-inf", "true", "[]",
    "[1]", "{}", "{ a = 1 }", '"' + "a" * 300 + '"', '"/"', '"/proc/self"', '"/proc/kmsg"', '"/dev/zero"',
    '"/sys"', '"{workspace"', '"http://127.0.0.1:99999/v1"', '"http://[::1"', '["x", 1]',
]  # fmt: skip
"""Values no key accepts all of: wrong types, huge, negative, NaN, empty, long, special paths, bad ports."""


def render(tables: Mapping[str, Mapping[str, str]]) -> str:
    return "".join(
        f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()) for name, keys in tables.items()
    )


def mutated(table: str, key: str, value: str | None) -> dict[str, dict[str, str]]:
    """BASE with `key` of `table` set to `value` (removed when None)."""
    tables = {name: dict(keys) for name, keys in BASE.items()}
    if value is None:
        tables[table].pop(key, None)
    else:
        tables[table][key] = value
    return tables


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a two-file codebase beside the config."""
    root = tmp_path_factory.mktemp("fuzz-config")
    (root / "code").mkdir()
    (root / "code" / "app.py").write_text("pass\n")
    (root / "code" / "README.md").write_text("# app\n")
    return root


def loaded(config_dir: Path, tables: Mapping[str, Mapping[str, str]]) -> ConfigError | None:
    """Load the config; its ConfigError (or None), held to one line, the file's name and the time bound."""
    path = config_dir / "specbench.toml"
    path.write_text(render(tables))
    started = time.monotonic()
    try:
        load_config(path)
    except ConfigError as error:
        assert "\n" not in str(error) and str(error).startswith(f"{path}: "), error
        return error
    finally:
        assert time.monotonic() - started < CASE_SECONDS
    return None


def test_the_base_config_loads_so_each_refusal_is_the_mutation(config_dir: Path) -> None:
    assert loaded(config_dir, BASE) is None


SWEEP = [
    (table, key)
    for table, keys in (
        ("defaults", schema.DEFAULTS_KEYS),
        ("models.m", {k: v for k, v in schema.MODEL_KEYS.items() if v.provider in (None, "openai")}),
        ("briefs.b", schema.BRIEF_KEYS),
        ("scaffolds.s", schema.SCAFFOLD_KEYS),
        ("contexts.c", schema.CONTEXT_KEYS),
        ("gate", {**schema.GATE_KEYS, **schema.SESSION_GATE_KEYS}),
    )
    for key in keys
]


@pytest.mark.parametrize(("table", "key"), SWEEP, ids=[f"{t}.{k}" for t, k in SWEEP])
def test_every_key_given_every_hostile_value_loads_or_names_the_key(
    config_dir: Path, table: str, key: str
) -> None:
    for value in HOSTILE:
        error = loaded(config_dir, mutated(table, key, value))
        # A check across keys (min_passes against repeats) may name the other table; never another key.
        assert error is None or key in str(error), (value, str(error))


REFUSED = [
    ("defaults", "repeats", "1000000000", "repeats: must be at most 1000, got 1000000000"),
    ("defaults", "repeats", "0", "repeats: must be at least 1"),
    ("defaults", "max_turns", "nan", "max_turns: expected int"),
    ("defaults", "timeout_s", "nan", "timeout_s: must be a finite number"),
    ("defaults", "timeout_s", "-1", "timeout_s: must be greater than 0"),
    ("defaults", "temperature", '""', "temperature: expected number"),
    ("briefs.b", "codebase", '"' + "a" * 300 + '"', "codebase: cannot look at"),
    ("briefs.b", "codebase", '"a\\u0000b"', "codebase: cannot look at"),
    ("defaults", "max_turnz", "10", "unknown key"),
    ("models.m", "base_url", '"http://127.0.0.1:99999/v1"', "base_url: not a valid URL"),
    ("models.m", "base_url", '"http://127.0.0.1:0/v1"', "base_url: port 0"),
    ("models.m", "model", '""', "model:"),
    ("models.m", "api_key_env", '"sk-not-a-name"', "api_key_env: is not an environment variable name"),
    ("briefs.b", "codebase", '"/proc/self"', "codebase: /proc/self is the root or a system tree"),
    ("briefs.b", "codebase", '"/"', "codebase: / is the root or a system tree"),
    ("briefs.b", "codebase", '"/dev"', "codebase: /dev is the root or a system tree"),
    ("briefs.b", "codebase", '"code/app.py"', "codebase: is not a directory"),
    ("briefs.b", "codebase", '""', "codebase:"),
    ("briefs.b", "max_codebase_files", "1", "codebase: %s/code holds more than 1 files"),
    ("briefs.b", "max_codebase_files", "-1", "max_codebase_files: must be at least 1"),
    ("briefs.b", "max_codebase_mib", "0", "max_codebase_mib: must be at least 1"),
    ("briefs.b", "system_prompt_file", '"/proc/kmsg"', "system_prompt_file: /proc/kmsg is the root or a"),
    ("briefs.b", "server", '{ command = ["x"], specs_dir = "/" }', "specs_dir: / is the root or a system"),
    ("briefs.b", "server", '{ command = ["x"], specs_dir = "/proc/1" }', "specs_dir: /proc/1 is the root"),
    ("briefs.b", "server", '{ url = "http://127.0.0.1:70000/mcp" }', "url: not a valid URL"),
    ("briefs.b", "server", '{ command = ["x"], specs_dir = "{nope}" }', "unknown placeholder {nope}"),
    ("briefs.b", "server", '{ command = [] }', "command: expected non-empty array"),
    ("scaffolds.s", "tools", '["todo", "tod"]', 'unknown tool set "tod"'),
    ("contexts.c", "keep_last", "0", "keep_last: must be at least 1"),
    ("gate", "alpha", "nan", "alpha: must be a finite number"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("table", "key", "value", "said"), REFUSED, ids=[f"{t}.{k}={v[:24]}" for t, k, v, _ in REFUSED]
)
def test_a_refused_value_is_one_line_naming_the_table_key_and_limit(
    config_dir: Path, table: str, key: str, value: str, said: str
) -> None:
    error = loaded(config_dir, mutated(table, key, value))

    assert error is not None, f"{table}.{key} = {value} loaded"
    assert error.where.startswith(table) and (said % config_dir if "%s" in said else said) in str(error)


def test_a_codebase_limit_can_be_raised_by_its_key(config_dir: Path) -> None:
    big = config_dir / "big"
    big.mkdir(exist_ok=True)
    for number in range(5):
        (big / f"f{number}.py").write_text("pass\n")
    low = mutated("briefs.b", "codebase", '"big"')
    low["briefs.b"]["max_codebase_files"] = "4"
    assert loaded(config_dir, low) is not None
    low["briefs.b"]["max_codebase_files"] = "5"
    assert loaded(config_dir, low) is None


def test_four_ids_of_the_longest_length_load(config_dir: Path) -> None:
    """A run id of four 64-character ids names no file past what file systems take: it is clipped."""
    renamed = {name: dict(keys) for name, keys in BASE.items()}
    for name in ("models.m", "briefs.b", "scaffolds.s", "contexts.c"):
        kind = name.partition(".")[0]
        renamed[f"{kind}.{kind[0] * 64}"] = renamed.pop(name)

    assert loaded(config_dir, renamed) is None


# --- through the plugin -------------------------------------------------------------------------------


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a subprocess, killed (and the case failed) if it hangs."""
    started = time.monotonic()
    result = pytester.runpytest_subprocess(*args, timeout=60)
    assert time.monotonic() - started < 60
    return result


def assert_one_usage_error(result: pytest.RunResult, path: Path, said: str) -> None:
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.outlines[-20:]
    assert len(errors) == 1 and str(path) in errors[0] and said in errors[0], result.errlines
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


PLUGIN_REFUSED = [
    ({"models.m": {"base_url": '"http://127.0.0.1:99999/v1"'}}, "[models.m]: base_url: not a valid URL"),
    ({"briefs.b": {"codebase": '"/proc/self"'}}, "[briefs.b]: codebase: /proc/self is the root"),
    ({"defaults": {"repeats": "1000000000"}}, "[defaults]: repeats: must be at most 1000"),
    ({"models.m": {"max_turnz": "3"}}, "[models.m]: max_turnz: unknown key"),
]


@pytest.mark.parametrize(("change", "said"), PLUGIN_REFUSED, ids=["port", "proc", "repeats", "unknown"])
def test_the_plugin_stops_at_configure_with_one_line(
    pytester: pytest.Pytester, config_dir: Path, change: dict[str, dict[str, str]], said: str
) -> None:
    tables = {name: {**keys, **change.get(name, {})} for name, keys in BASE.items()}
    tables["briefs.b"].pop("server")
    tables["briefs.b"]["codebase"] = tables["briefs.b"]["codebase"].replace(
        '"code"', f'"{config_dir / "code"}"'
    )
    config = pytester.path / "specbench.toml"
    config.write_text(render(tables))
    pytester.makepyfile(test_x="def test_spec(spec_run):\n    spec_run.verify()\n")

    assert_one_usage_error(
        run(pytester, f"--specbench-config={config}", "-p", "no:cacheprovider"), config, said
    )


@pytest.mark.parametrize(
    ("option", "kind", "said"),
    [
        ("--specbench-cassettes", "file", "--specbench-cassettes names a file, not a directory"),
        ("--specbench-report", "file", "--specbench-report names a file, not a directory"),
        ("--specbench-html", "directory", "--specbench-html names a directory"),
    ],
)
def test_an_option_path_of_the_wrong_kind_is_a_usage_error(
    pytester: pytest.Pytester, config_dir: Path, option: str, kind: str, said: str
) -> None:
    """--specbench-report naming a file was an INTERNALERROR once the first test had run."""
    tables = {name: dict(keys) for name, keys in BASE.items()}
    tables["briefs.b"].pop("server")
    tables["briefs.b"]["codebase"] = f'"{config_dir / "code"}"'
    (pytester.path / "specbench.toml").write_text(render(tables))
    target = pytester.path / "target"
    target.mkdir() if kind == "directory" else target.write_text("")
    pytester.makepyfile(test_x="def test_spec(spec_run):\n    spec_run.verify()\n")

    result = run(
        pytester, "--specbench-config=specbench.toml", f"{option}={target}", "-p", "no:cacheprovider"
    )

    assert_one_usage_error(result, target, said)


@pytest.mark.parametrize(
    ("specs_dir", "said"), [("{workspace}/../..", "holds"), ("{workspace}/../../other", "is outside")]
)
def test_a_specs_dir_that_climbs_out_of_the_run_is_one_error_line(
    suite: Any,
    provider: FakeProvider,
    pytester: pytest.Pytester,
    xdist_args: list[str],
    specs_dir: str,
    said: str,
) -> None:
    """`{workspace}/../..` is pytest's directory of every test's tmp_path: each run would snapshot all."""
    provider.script(suite.model("writer"), [Reply.final("Done.")])
    suite.brief("notes", server={"command": [sys.executable, "-c", "pass"], "specs_dir": specs_dir})
    suite.write()

    result = pytester.runpytest(*xdist_args)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"ServerError: brief 'notes': server.specs_dir * which {said} the run's dir*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_test_id_too_long_for_a_file_name_runs_and_keeps_its_transcript(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    """The ids fit; with the test's own long name the transcript's name would pass 255 bytes: clipped."""
    provider.script(suite.model("m" * 60), [Reply.final("Done.")])
    suite.brief("b" * 60)
    name = "test_" + "x" * 150
    suite.write(f"def {name}(spec_run):\n    assert spec_run.transcript.stop is not None\n")

    result = pytester.runpytest("--specbench-report=report", "--specbench-html=report.html")

    result.assert_outcomes(passed=1)
    (transcript,) = (pytester.path / "report" / "transcripts").glob("*.jsonl")
    assert len(transcript.name.encode()) <= 255 and transcript.name.startswith(name)
    assert json.loads(transcript.read_text().splitlines()[0])["test_id"] == f"{name}[{'m' * 60}-{'b' * 60}]"
    page = (pytester.path / "report.html").read_text()
    assert '<ol class="timeline">' in page and "No transcript for this run" not in page  # found it
