"""The docs: the site builds strictly, the README's links resolve, and the generated reference
covers every config key, option and check the code declares (each test fails on one missing)."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

import pytest_specbench
from pytest_specbench._session import deprecated
from pytest_specbench.cli import build_parser
from pytest_specbench.config import schema
from pytest_specbench.config.checks import CHECK_NAMES
from pytest_specbench.testing import FakeProvider
from pytest_specbench.verdicts.checks import CHECKS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
WORKFLOW = ROOT / "examples" / "github-workflow.yml"


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("specbench_docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


hooks = _hooks()


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    argv = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    config_page = (tmp_path / "site" / "reference" / "config" / "index.html").read_text(encoding="utf-8")
    assert "specbench:" not in config_page  # every generated block was replaced
    assert "max_turns" in config_page
    api_page = (tmp_path / "site" / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    assert [
        name for name in pytest_specbench.__all__ if f'id="pytest_specbench.{name}"' not in api_page
    ] == []


def _relative_links(text: str) -> list[str]:
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_every_relative_link_in_the_readme_resolves() -> None:
    links = _relative_links(README.read_text(encoding="utf-8"))
    assert links, "the README links into the docs"
    missing = [link for link in links if not (ROOT / link.split("#")[0]).is_file()]
    assert missing == []


def test_the_readme_stays_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 200


def _fenced(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL)


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    blocks = [b.strip() for b in _fenced(README.read_text(encoding="utf-8"))]
    test_command = next(b for b in blocks if b.endswith("&& pytest"))
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in lines


def test_the_readmes_python_version_is_the_packages() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    version = re.search(r"Python ≥ ([\d.]+)", README.read_text(encoding="utf-8"))
    assert version and project["requires-python"] == f">={version.group(1)}"


def test_the_readmes_verdict_counts_every_check() -> None:
    found = re.search(r"(\d+) of (\d+) checks failed\n((?:  .*\n)+)", README.read_text(encoding="utf-8"))
    assert found, "the README shows one verdict as it prints"
    failed, total, lines = int(found.group(1)), int(found.group(2)), found.group(3).splitlines()
    assert total == len(CHECK_NAMES) + 1  # every check, then the gate's no_regression
    assert failed == len(lines)
    assert all(line.split(":")[0].strip() in CHECK_NAMES for line in lines)


def _schema_tables() -> dict[str, dict[str, Any]]:
    """Every key table schema.py declares, found by what it holds rather than by name."""
    return {
        name: value
        for name, value in vars(schema).items()
        if isinstance(value, dict) and value and all(isinstance(v, schema.Key) for v in value.values())
    }


def test_every_config_key_has_an_entry_with_help() -> None:
    text = hooks.render("config-keys")
    keys = {key for table in _schema_tables().values() for key in table}
    assert len(keys) > 50
    assert sorted(k for k in keys if f"| `{k}` |" not in text) == []
    assert [doc.key for doc in hooks.config_keys() if not doc.help.strip()] == []


def _live_options() -> tuple[list[str], list[str]]:
    from _pytest.config.argparsing import Parser

    from pytest_specbench import plugin

    parser = Parser(_ispytest=True)
    plugin.pytest_addoption(parser)
    deprecated.add_option_aliases(parser)
    names = [name for group in parser._groups for option in group.options for name in option.names()]
    return names, list(parser._inidict)


def test_every_option_and_ini_key_has_an_entry() -> None:
    text = hooks.render("options")
    options, ini = _live_options()
    assert {"--specbench-report", "specbench_report"} <= {*options, *ini}
    assert [name for name in [*options, *ini] if f"| `{name}` |" not in text] == []
    aliases = text.split("## Deprecated aliases")[1].split("## ini keys")[0]
    assert all(f"| `{old}` | **deprecated**" in aliases for old in deprecated.OPTION_ALIASES)


def test_every_check_has_an_entry_in_report_order() -> None:
    text = hooks.render("checks")
    names = [*CHECK_NAMES, "no_regression"]
    places = [text.find(f"| `{name}` |") for name in names]
    assert -1 not in places, [n for n, p in zip(names, places, strict=True) if p == -1]
    assert places == sorted(places)
    assert all(check.__doc__ for check in CHECKS)
    assert all(f"| `{key}` |" in text for key in hooks.check_declarations().brief_settings)


def test_every_record_field_is_described() -> None:
    fields = hooks.record_fields()
    assert {"version", "test_id", "checks", "outcome"} <= set(fields)
    assert [name for name, (_, text) in fields.items() if not text] == []
    assert sorted(set(hooks.RECORD_FIELD_HELP) - set(fields)) == []  # no stale descriptions
    text = hooks.render("record-fields")
    assert all(f"| `{name}` |" in text for name in fields)


def test_every_server_tool_has_a_section() -> None:
    text = hooks.render("server-tools")
    names = [tool.name for tool in hooks.server_tools()]
    assert "create_requirement" in names
    assert [name for name in names if f"### `{name}`" not in text] == []


def test_every_scaffold_tool_has_a_section() -> None:
    from pytest_specbench.scaffold.app import TOOL_NAMES

    text = hooks.render("scaffold-tools")
    names = [name for pair in TOOL_NAMES.values() for name in pair]
    assert "todo_write" in names
    assert [name for name in names if f"### `{name}`" not in text] == []


def test_every_fixture_has_an_entry() -> None:
    import pytest_specbench.plugin as plugin

    text = hooks.render("fixtures")
    names = [name for name, value in vars(plugin).items() if hasattr(value, "_get_wrapped_function")]
    assert {"spec_run", "specbench_client_factory", "model"} <= set(names)
    assert [name for name in names if f"| `{name}` |" not in text] == []
    assert all(f"| `{old}` | **deprecated**" in text for old in deprecated.FIXTURE_ALIASES)


def test_the_map_of_the_package_names_every_room() -> None:
    from test_layers import LAYERS

    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8").split("## Map of the package")[1]
    rows = [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| `")]
    named = {name.strip("`/").removesuffix(".py") for row in rows for name in re.findall(r"`[^`]+`", row)}
    rooms = {room for layer in LAYERS for room in layer} - {"__init__", "__main__"}
    assert sorted(rooms - named) == []


def test_the_readmes_map_names_every_room_lowest_first() -> None:
    from test_layers import RANK

    block = README.read_text(encoding="utf-8").split("## Map of the package")[1].split("```")[1]
    named = [room for room in re.findall(r"\b(\w+)(?:/|\.py)", block) if room in RANK]
    assert sorted(set(RANK) - set(named) - {"__init__", "__main__"}) == []
    ranks = [RANK[room] for room in named]
    assert ranks == sorted(ranks), "the README's map lists the rooms lowest first, as LAYERS does"


def test_an_unknown_block_fails_the_build() -> None:
    with pytest.raises(KeyError, match="no generated block 'nope'"):
        hooks.on_page_markdown("<!-- specbench:nope -->\n")


def test_the_changelog_names_every_format_version_and_deprecation() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [0.1.0]" in text
    assert [f for f, v in hooks.format_versions().items() if f"{f}: version {v}" not in text] == []
    old_names = [*deprecated.OPTION_ALIASES, *deprecated.FIXTURE_ALIASES]
    section = text.split("### Deprecated")[1].split("\n## ")[0]
    assert [name for name in old_names if f"`{name}`" not in section] == []


# --- the CI workflow of docs/ci.md -------------------------------------------------------------------

PYTEST_FLAGS = {"-n", "--junitxml"}
"""pytest's and pytest-xdist's own options the workflow uses."""


def _commands() -> list[str]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    return [" ".join(step["run"].split()) for step in steps if "run" in step]


def _words(command: str) -> list[str]:
    return shlex.split(re.sub(r"\$\{\{[^}]*\}\}", "X", command.split(">>")[0].split("#")[0]))


def test_the_workflows_pytest_steps_use_options_that_exist() -> None:
    options, _ = _live_options()
    runs = [_words(c) for c in _commands() if c.startswith("pytest ")]
    assert len(runs) == 2  # the replay gate and the candidate's recording
    used = {word.split("=")[0] for run in runs for word in run if word.startswith("-")}
    assert sorted(used - set(options) - PYTEST_FLAGS) == []
    replay, record = runs
    assert {"--specbench-record-mode=none", "--specbench-baseline=evals/baseline.json"} <= set(replay)
    assert {"--specbench-record-mode=all", "--specbench-strict"} <= set(record)


def test_the_workflows_replay_job_names_recorded_models_and_passes(tmp_path: Path) -> None:
    from pytest_specbench.config import load_config
    from pytest_specbench.replay import cassette_path

    replay = next(_words(c) for c in _commands() if c.startswith("pytest "))
    models = replay[replay.index("--specbench-models") + 1].split(",")
    config = load_config(ROOT / "evals" / "specbench.toml")
    for model in models:  # each has a committed cassette for every brief it runs
        briefs = config.models[model].briefs or tuple(config.briefs)
        assert all(
            cassette_path(ROOT / "evals" / "cassettes", f"test_spec[{model}-{b}]").exists() for b in briefs
        )
    argv = [
        w.replace("out", str(tmp_path / "out"), 1)
        if w.startswith(("--specbench-report", "--junitxml"))
        else w
        for w in replay
    ]
    argv.append(f"--specbench-html={tmp_path / 'report.html'}")  # not the ini's, inside the checkout
    result = subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert (tmp_path / "out" / "results.json").exists() and (tmp_path / "out" / "junit.xml").exists()


def test_the_workflows_specbench_steps_parse() -> None:
    runs = [_words(c)[1:] for c in _commands() if c.startswith("specbench ")]
    assert [run[0] for run in runs] == ["compare"]
    for argv in runs:
        build_parser().parse_args(argv)  # an unknown option or command exits 2


# --- the examples the docs show, run ----------------------------------------------------------------


def _block(text: str, language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)
    return next(block for block in blocks if containing in block)


def _readme_suite(pytester: pytest.Pytester, provider: FakeProvider) -> None:
    """The README's smallest suite in a pytester directory, its model served by the fake provider."""
    readme = README.read_text(encoding="utf-8")
    toml = _block(readme, "toml", "[briefs.todo-app]").replace(
        "http://localhost:1234/v1", provider.openai_base_url
    )
    evals = pytester.path / "evals"
    (evals / "codebases" / "todo-app").mkdir(parents=True)
    (evals / "codebases" / "todo-app" / "todo.py").write_text("def add(task):\n    return task\n")
    (evals / "briefs").mkdir()
    (evals / "briefs" / "todo-app.md").write_text("Specify this todo app.\n")
    (evals / "specbench.toml").write_text(toml)
    (evals / "test_specs.py").write_text(_block(readme, "python", "def test_spec"))


def test_the_readmes_smallest_suite_runs(
    pytester: pytest.Pytester, provider: FakeProvider, writing: Any, xdist_args: list[str]
) -> None:
    _readme_suite(pytester, provider)
    provider.script("qwen/qwen3.6-35b-a3b", writing(4, 20))  # the brief's minimums, exactly
    # A subprocess: the README's module is evals/test_specs.py, as this checkout's own is, and one
    # process cannot import two modules of that name when the whole tree is collected.

    result = pytester.runpytest_subprocess("evals/", "--snapshot-update", *xdist_args)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_spec?qwen36-lmstudio-todo-app?*PASSED*"])


def test_the_readmes_smallest_suite_fails_a_short_tree_with_its_verdict(
    pytester: pytest.Pytester, provider: FakeProvider, writing: Any
) -> None:
    _readme_suite(pytester, provider)
    provider.script("qwen/qwen3.6-35b-a3b", writing(4, 0))

    result = pytester.runpytest_subprocess("evals/", "--snapshot-update")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*of {len(CHECK_NAMES) + 1} checks failed*", "*min_requirements: 0 < 20*"])


def test_the_test_doubles_example_runs() -> None:
    code = _block((ROOT / "docs" / "testing.md").read_text(encoding="utf-8"), "python", "FakeProvider")
    exec(compile(code, "docs/testing.md", "exec"), {})


def _toml_examples() -> list[tuple[str, str]]:
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    return [
        (f"{page.name}#{n}", block)
        for page in pages
        for n, block in enumerate(
            re.findall(r"```toml\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
        )
    ]


TOML_EXAMPLES = _toml_examples()


def _table_keys(table: str) -> dict[str, Any] | None:
    """The schema's keys for a table of specbench.toml, by its dotted name; None for a table of values."""
    head, _, rest = table.partition(".")
    homes = {
        "defaults": schema.DEFAULTS_KEYS,
        "models": schema.MODEL_KEYS,
        "briefs": schema.BRIEF_KEYS,
        "scaffolds": schema.SCAFFOLD_KEYS,
        "contexts": schema.CONTEXT_KEYS,
        "gate": {**schema.GATE_KEYS, **schema.SESSION_GATE_KEYS},
    }
    if head == "gate" or (rest and "." not in rest) or head == "defaults":
        return dict(homes[head])
    return None  # e.g. [models.x.extra_body]: free-form values the schema passes through


def test_there_are_toml_examples_to_check() -> None:
    assert len(TOML_EXAMPLES) >= 5


@pytest.mark.parametrize(("where", "block"), TOML_EXAMPLES, ids=[w for w, _ in TOML_EXAMPLES])
def test_every_toml_example_parses_and_names_only_keys_the_schema_knows(where: str, block: str) -> None:
    import tomllib

    document = tomllib.loads(block)
    for section, value in document.items():
        tables = value.items() if section in ("models", "briefs", "scaffolds", "contexts") else [("", value)]
        for name, table in tables:
            dotted = f"{section}.{name}" if name else section
            known = _table_keys(dotted)
            assert known is not None and isinstance(table, dict), f"{where}: [{dotted}] is no table"
            unknown = sorted(set(table) - set(known))
            assert not unknown, f"{where}: [{dotted}] names keys the schema does not know: {unknown}"


def test_the_defaults_the_guides_quote_are_the_codes() -> None:
    import inspect

    from pytest_specbench.config.settings import ContextConfig
    from pytest_specbench.models.llamacpp import DEFAULT_N_CTX, ServerSpec
    from pytest_specbench.models.window import read_window

    context = (ROOT / "docs" / "context-window.md").read_text(encoding="utf-8")
    defaults = ContextConfig("x")
    assert f"`keep_last` calls ({defaults.keep_last})" in context
    assert f"`summary_at` ({defaults.summary_at})" in context
    timeout = inspect.signature(read_window).parameters["timeout_s"].default
    assert {2.0: "two seconds each"}[timeout] in context
    helps = {key: row.help for key, row in schema.MODEL_KEYS.items()}
    assert f"default {DEFAULT_N_CTX}" in helps["n_ctx"]
    assert f"Default {ServerSpec.__dataclass_fields__['n_parallel'].default}." in helps["n_parallel"]


def test_the_limits_the_configuration_page_quotes_are_the_codes() -> None:
    from pytest_specbench.config.keys import MAX_REPEATS
    from pytest_specbench.config.load import MAX_ID
    from pytest_specbench.config.settings import MAX_CODEBASE_FILES, MAX_CODEBASE_MIB
    from pytest_specbench.replay.cassette import MAX_LINE_BYTES

    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    limits = page[page.index("## Limits") :]
    assert f"`max_codebase_files` files (default {MAX_CODEBASE_FILES:,})" in limits
    assert f"`max_codebase_mib` MiB (default {MAX_CODEBASE_MIB})" in limits
    assert f"({MAX_CODEBASE_FILES:,} files, {MAX_CODEBASE_MIB} MiB)" in limits
    assert f"at most {MAX_REPEATS};" in limits
    assert f"at most {MAX_ID} characters each" in limits
    assert f"at most {MAX_LINE_BYTES // 2**20} MiB" in limits
