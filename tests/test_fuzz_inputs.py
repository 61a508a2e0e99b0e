"""Property-based: a user's broken file is one line and a clear exit, never a traceback or a hang.

Mutated the way a hand edit, a bad merge or a copied file breaks them: results.json for
`specbench compare|merge|html`, and specbench.toml (cassettes: tests/replay/test_trust.py).
Deterministic (`derandomize=True`), a few seconds in all; each case is also held to a time
bound, so a hang fails instead of stalling the suite.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from pytest_specbench.cli import main
from pytest_specbench.config.load import load_config
from pytest_specbench.errors import ConfigError

CASE_SECONDS = 10.0
"""A case that takes longer is a hang (the real cases take milliseconds)."""
FUZZ = settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failing case is shown as it was found
)
HOSTILE: list[Any] = [
    None,
    "x",
    "",
    -1,
    0,
    1.5,
    math.nan,
    math.inf,
    1e300,
    True,
    [],
    {},
    [1],
    [{}],
    {"a": 1},
    10**400,
]
DELETE = object()

FEATURE = {
    "id": "F-0001",
    "title": "Notes",
    "description": "Taking notes.",
    "requirements": [{"id": "R-0001", "title": "Add", "description": "d", "criteria": ["c"]}],
    "children": [{"id": "F-0002", "title": "Sub", "description": "", "requirements": [], "children": []}],
    "reference": "notes",
}
SINGLE: dict[str, Any] = {
    "version": 1, "test_id": "test_spec[m-b]", "nodeid": "t.py::test_spec[m-b]", "model": "m", "brief": "b",
    "scaffold": "bare", "provider": "openai", "model_name": "scripted", "outcome": "passed", "error": None,
    "checks": [{"name": "min_features", "passed": True, "detail": "1 ≥ 1"},
               {"name": "no_regression", "passed": False, "detail": "x", "known": True}],
    "features": 1, "total_features": 2, "requirements": 1, "feature_recall": 0.5, "total_tokens": 30,
    "stop_reason": "end_turn", "turns": 2, "tool_calls": 1, "tool_errors": 0, "tool_errors_by_kind": {"x": 1},
    "input_tokens": 20, "output_tokens": 10, "seconds": 1.5, "retries": 0, "tree": [FEATURE],
    "cost_usd": 0.01,
    "samples": 1, "passes": 1, "min_passes": 1, "pass_rate": 1.0, "pass_hat_k": {"1": 1.0},
    "gate": {"max_requirements_drop": 0.1, "max_cost_increase": None}, "source": "replayed",
    "recorded_seconds": 1.0,
}  # fmt: skip
SAMPLED: dict[str, Any] = {
    **SINGLE,
    "test_id": "test_spec[m-c]",
    "nodeid": "t.py::test_spec[m-c]",
    "samples": 2,
    "requirements": 1.5,
    "metrics": {"requirements": {"mean": 1.5, "stdev": 0.7071, "min": 1.0, "max": 2.0}},
    "per_sample": [{"requirements": 1, "checks": [], "started_at": 1.0}, {"requirements": 2, "checks": []}],
    "requirements_vs_bare": -1,
    "vs_baseline_model": {"baseline_model": "n", "passed": True, "detail": "ok"},
}
BASE = [SINGLE, SAMPLED]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON value, the value's own first."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield from _paths(inner, (*prefix, key))


PATHS = [p for p in _paths(BASE) if len(p) >= 1]


def _mutated(path: tuple[Any, ...], value: Any) -> Any:
    data: Any = copy.deepcopy(BASE)
    if not path[1:]:
        data[path[0]] = value if value is not DELETE else "x"
        return data
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Results files go here, beside a transcripts/ directory that `specbench html` reads."""
    root = tmp_path_factory.mktemp("fuzz-results")
    (root / "transcripts").mkdir()
    event = {"kind": "assistant", "turn": 1, "text": "hi", "tool_calls": []}
    (root / "transcripts" / "test_spec[m-b].jsonl").write_text(json.dumps(event) + "\n")
    return root


@FUZZ
@given(path=st.sampled_from(PATHS), value=st.sampled_from([*HOSTILE, DELETE]))
@example(path=(0, "test_id"), value="a" * 300)  # no transcript file can be named after it
@example(path=(0, "checks", 0, "passed"), value=math.nan)
def test_a_mutated_results_file_is_a_clear_exit_never_a_traceback(
    workdir: Path, path: tuple[Any, ...], value: Any
) -> None:
    good, bad = workdir / "good.json", workdir / "bad.json"
    good.write_text(json.dumps(BASE))
    bad.write_text(json.dumps(_mutated(path, value)))
    merged, page = workdir / "merged.json", workdir / "report.html"
    for output in (merged, page):
        output.write_text("the old file")
    runs: list[list[str | Path]] = [
        ["compare", good, bad],
        ["compare", bad, good, "--format=json"],
        ["merge", bad, "-o", merged],
        ["html", bad, "-o", page],
    ]
    for args in runs:
        started = time.monotonic()
        status, _, err = run_cli(*args)  # an exception here is the traceback a user would see
        assert time.monotonic() - started < CASE_SECONDS
        assert status in (0, 1, 2), args
        if status == 2:
            assert err.startswith("specbench: error: ") and err.count("\n") == 1 and str(bad) in err, err
            assert merged.read_text() == page.read_text() == "the old file"  # never half-written


def test_the_unmutated_files_pass_so_the_fuzz_can_fail(workdir: Path) -> None:
    good = workdir / "base.json"
    good.write_text(json.dumps(BASE))

    assert run_cli("compare", good, good)[0] == 0
    assert run_cli("html", good, "-o", workdir / "base.html")[0] == 0
    bad = workdir / "base-bad.json"
    bad.write_text(json.dumps(_mutated((0, "checks", 0, "passed"), "yes")))
    status, _, err = run_cli("html", bad, "-o", workdir / "bad.html")
    assert status == 2 and "record test_spec[m-b] (#1): field checks[0].passed" in err


# --- specbench.toml -------------------------------------------------------------------------------------

CONFIG = """\
[defaults]
max_turns = 10
repeats = 2

[models.m]
provider = "openai"
model = "scripted"
base_url = "http://127.0.0.1:8000/v1"
max_tokens = 100
price_input_per_mtok = 1.0
price_output_per_mtok = 2.0

[briefs.b]
codebase = "code"
prompt = "Specify it."
min_features = 1
server = { command = ["python", "-c", "pass"], specs_dir = "{workspace}/specs" }

[scaffolds.s]
tools = ["todo"]

[gate]
max_requirements_drop = 0.1
"""
TOML_VALUES = [
    '"x"', '""', '"/"', '"/proc/self"', '"/dev/null"', '"/sys"', "-1", "0", "1000000000",
    "9223372036854775807",
    "nan", "inf", "-0.0", "true", "[]", "[1]", "{}", '{ a = 1 }', '"' + "a" * 300 + '"', '"{workspace"',
    '"http://127.0.0.1:99999/v1"', '"http://[::1"', '["x", 1]', '"code"',
]  # fmt: skip
KEY_LINES = [i for i, line in enumerate(CONFIG.splitlines()) if " = " in line]


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-config")
    (root / "code").mkdir()
    (root / "code" / "app.py").write_text("pass\n")
    return root


@FUZZ
@given(line=st.sampled_from(KEY_LINES), value=st.sampled_from(TOML_VALUES), id_edit=st.booleans())
def test_a_mutated_config_is_one_config_error_never_a_crash(
    config_dir: Path, line: int, value: str, id_edit: bool
) -> None:
    lines = CONFIG.splitlines()
    key = lines[line].split(" = ")[0]
    lines[line] = f"{key} = {value}"
    if id_edit:
        lines[lines.index("[briefs.b]")] = "[briefs." + "b" * 300 + "]"
    path = config_dir / "specbench.toml"
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    try:
        load_config(path)
    except ConfigError as error:
        assert "\n" not in str(error) and str(path) in str(error)
    assert time.monotonic() - started < CASE_SECONDS


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("repeats = 1000000000", "repeats: must be at most 1000, got 1000000000"),
        ('codebase = "/proc/self"', "is the root or a system tree"),
        ('codebase = "/"', "is the root or a system tree"),
        ('codebase = "/dev"', "is the root or a system tree"),
        ('base_url = "http://127.0.0.1:99999/v1"', "base_url: not a valid URL"),
        ('server = { command = ["x"], specs_dir = "/" }', "specs_dir: / is the root or a system tree"),
        ('server = { command = ["x"], specs_dir = "/proc/1" }', "specs_dir: /proc/1 is the root"),
    ],
)
def test_the_config_bounds_are_one_line_naming_the_key_and_limit(
    config_dir: Path, line: str, said: str
) -> None:
    key = line.split(" = ")[0]
    lines = [next_line for next_line in CONFIG.splitlines() if not next_line.startswith(f"{key} = ")]
    table = "[defaults]" if key == "repeats" else "[models.m]" if key == "base_url" else "[briefs.b]"
    lines.insert(lines.index(table) + 1, line)
    path = config_dir / "bounds.toml"
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_a_codebase_too_big_to_copy_per_run_is_refused(config_dir: Path) -> None:
    big = config_dir / "big"
    shutil.rmtree(big, ignore_errors=True)
    big.mkdir()
    for number in range(5):
        (big / f"f{number}.py").write_text("pass\n")
    path = config_dir / "big.toml"
    path.write_text(CONFIG.replace('codebase = "code"', 'codebase = "big"\nmax_codebase_files = 3'))

    with pytest.raises(ConfigError, match=r"codebase: .*big holds more than 3 files \(the limit"):
        load_config(path)
