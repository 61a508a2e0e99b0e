"""MkDocs hook: the reference pages rendered from the code's own declarations, never written twice.

A page asks for a generated block with a marker on a line of its own, `<!-- specbench:NAME -->`;
`on_page_markdown` replaces it with `BLOCKS[NAME]()`. An unknown name fails the build. The
renderers are plain functions of the live declarations, so tests call them without MkDocs:

- config keys: the rows of `pytest_specbench.config.schema` (`Key.help`, else the docstring of
  the field the value goes to);
- options and ini keys: the plugin's `pytest_addoption` on a real pytest `Parser`, plus the
  deprecated aliases;
- checks: `check_declarations()`, from each check's one declaration (`config.checks.DECLARED`);
- results.json fields: the TypedDicts of `pytest_specbench._record`;
- the reference server's tools: `tools/list` of a server built on empty directories;
- fixtures: the plugin's fixture definitions and their docstrings.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import itertools
import re
import tempfile
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = re.compile(r"^<!-- specbench:([a-z-]+) -->$", re.MULTILINE)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each `<!-- specbench:NAME -->` line with its generated Markdown."""
    return MARKER.sub(lambda found: render(found.group(1)), markdown)


def render(name: str) -> str:
    """The generated block `name`; an unknown one is an error, so a typo cannot build an empty page."""
    if name not in BLOCKS:
        raise KeyError(f"docs: no generated block {name!r}; known: {', '.join(sorted(BLOCKS))}")
    return BLOCKS[name]()


def _cell(text: object) -> str:
    """Text fit for one Markdown table cell."""
    return _escaped(" ".join(str(text).split())).replace("|", "\\|")


def _escaped(text: str) -> str:
    """`<id>` outside code spans as text, not as an HTML tag (inside them Markdown escapes it)."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _code(value: object) -> str:
    return "`" + str(value).replace("`", "'") + "`"


def _table(head: tuple[str, ...], rows: Iterator[tuple[str, ...]] | list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _first_paragraph(doc: str | None) -> str:
    return inspect.cleandoc(doc or "").split("\n\n")[0]


def attribute_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a class (a string right after an annotated field), by field name."""
    tree = ast.parse(inspect.cleandoc("\n" + inspect.getsource(cls)))
    body = next(node for node in tree.body if isinstance(node, ast.ClassDef)).body
    docs: dict[str, str] = {}
    for field, after in itertools.pairwise(body):
        text = (
            after.value.value
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
            else None
        )
        if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name) and isinstance(text, str):
            docs[field.target.id] = inspect.cleandoc(text)
    return docs


# --- specbench.toml keys ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyDoc:
    """One specbench.toml key as the reference shows it."""

    key: str
    section: str
    tables: tuple[str, ...]
    type: str
    default: str
    help: str


def _tables() -> dict[str, Mapping[str, Any]]:
    from pytest_specbench.config import schema

    return {
        "[defaults]": schema.DEFAULTS_KEYS,
        "[models.<id>]": schema.MODEL_KEYS,
        "[briefs.<id>]": schema.BRIEF_KEYS,
        "server = {…}": schema.SERVER_KEYS,
        "[gate]": {**schema.GATE_KEYS, **schema.SESSION_GATE_KEYS},
        "gate = {…}": schema.GATE_KEYS,
        "[scaffolds.<id>]": schema.SCAFFOLD_KEYS,
        "[contexts.<id>]": schema.CONTEXT_KEYS,
    }


def _sections() -> list[tuple[str, Mapping[str, Any], str]]:
    """(heading, its keys, the table whose dataclass holds their fields), in the page's order."""
    from pytest_specbench.config import schema

    run = schema.RUN_KEYS
    return [
        ("Run settings: `[defaults]`, a model or a brief", {**run, **schema.PROMPT_KEYS}, "[defaults]"),
        ("`[models.<id>]`", {k: v for k, v in schema.MODEL_KEYS.items() if k not in run}, "[models.<id>]"),
        ("`[briefs.<id>]`", {k: v for k, v in schema.BRIEF_KEYS.items() if k not in run}, "[briefs.<id>]"),
        ("A brief's `server = {…}`", schema.SERVER_KEYS, "server = {…}"),
        ("`[gate]` and a brief's `gate = {…}`", {**schema.GATE_KEYS, **schema.SESSION_GATE_KEYS}, "[gate]"),
        ("`[scaffolds.<id>]`", schema.SCAFFOLD_KEYS, "[scaffolds.<id>]"),
        ("`[contexts.<id>]`", schema.CONTEXT_KEYS, "[contexts.<id>]"),
    ]


def _holder(table: str) -> type | None:
    from pytest_specbench.config import settings

    holders: dict[str, type] = {
        "[defaults]": settings.RunSettings,
        "[models.<id>]": settings.ModelConfig,
        "[briefs.<id>]": settings.BriefConfig,
        "server = {…}": settings.ServerConfig,
        "[scaffolds.<id>]": settings.ScaffoldConfig,
        "[contexts.<id>]": settings.ContextConfig,
    }
    return holders.get(table)


def parser_type(parse: Callable[..., Any]) -> str:
    """What a `keys.py` parser accepts, read from its return annotation and the bounds it closes over."""
    hints = typing.get_type_hints(parse) if not isinstance(parse, type) else {}
    returned = hints.get("return")
    name = getattr(returned, "__name__", None) or str(returned).replace("typing.", "")
    if isinstance(returned, type) and issubclass(returned, enum.Enum):
        return " or ".join(f'"{member.value}"' for member in returned)
    bound = inspect.getclosurevars(parse).nonlocals
    if "choices" in bound:
        return " or ".join(f'"{choice}"' for choice in bound["choices"])
    if "minimum" in bound:
        low = f"≥ {bound['minimum']}" if bound.get("inclusive", True) else f"> {bound['minimum']}"
        high = f", ≤ {bound['maximum']}" if bound.get("maximum") is not None else ""
        return f"{name} {low}{high}"
    return {"tuple": "array", "dict": "table", "ServerConfig": "table", "Path": "path"}.get(
        name, name
    ).replace(" | ", " or ")


def _default(key: str, spec: Any, table: str) -> str:
    from pytest_specbench.config.schema import Dest
    from pytest_specbench.config.settings import RunSettings
    from pytest_specbench.verdicts.regression import ALPHA, GATE_DEFAULTS

    holder = RunSettings if spec.dest is Dest.SETTINGS else _holder(table)
    field_name = spec.name or key
    known: dict[str, Any] = {**check_declarations().brief_settings, **GATE_DEFAULTS, "alpha": ALPHA}
    if holder is not None and spec.dest is not Dest.EXTRA:
        for field in dataclasses.fields(holder):
            if field.name == field_name and field.default is not dataclasses.MISSING:
                return _shown_default(field.default)
    return _shown_default(known[key]) if key in known else "—"


def _shown_default(value: object) -> str:
    if value is None or value == ():
        return "unset"
    if hasattr(value, "value"):  # an enum member
        value = value.value
    if isinstance(value, bool):
        return _code(str(value).lower())
    return _code(value)


def _help(key: str, spec: Any, table: str) -> str:
    from pytest_specbench.config.schema import Dest
    from pytest_specbench.config.settings import RunSettings

    if getattr(spec, "help", ""):
        return str(spec.help)
    holder = RunSettings if spec.dest is Dest.SETTINGS else _holder(table)
    docs = attribute_docs(holder) if holder is not None and spec.dest is not Dest.EXTRA else {}
    return _first_paragraph(docs.get(spec.name or key, ""))


def config_keys() -> list[KeyDoc]:
    """Every key of specbench.toml, once per section of the reference page."""
    tables = _tables()
    docs = []
    for section, keys, table in _sections():
        for key, spec in keys.items():
            where = tuple(name for name, held in tables.items() if key in held)
            provider = f" (provider {spec.provider.value} only)" if getattr(spec, "provider", None) else ""
            kind = parser_type(spec.parse)
            docs.append(
                KeyDoc(
                    key, section, where, kind, _default(key, spec, table), _help(key, spec, table) + provider
                )
            )
    return docs


def render_config_keys() -> str:
    """The config reference: a table per section, each key with its type, tables, default and help."""
    out = []
    keys = config_keys()
    for section in dict.fromkeys(doc.section for doc in keys):
        out.append(f"## {section}\n")
        rows = [
            (_code(d.key), d.type, ", ".join(d.tables), d.default, d.help)
            for d in keys
            if d.section == section
        ]
        out.append(_table(("key", "type", "may appear in", "default", "what it does"), rows))
    return "\n".join(out)


# --- command-line options and ini keys -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OptionDoc:
    """One command-line option or ini key of the plugin."""

    name: str
    kind: str
    """`option`, `deprecated option` or `ini`."""
    value: str
    default: str
    help: str


def _parser() -> Any:
    # The plugin adds its options to pytest's own Parser; reading them back from it documents
    # exactly what `pytest --help` shows, aliases included.
    from _pytest.config.argparsing import Parser

    from pytest_specbench import plugin
    from pytest_specbench._session import deprecated

    parser = Parser(_ispytest=True)
    plugin.pytest_addoption(parser)
    deprecated.add_option_aliases(parser)
    return parser


def options() -> list[OptionDoc]:
    """Every option the plugin adds, then every ini key."""
    parser = _parser()
    docs = []
    for group in parser._groups:
        for option in group.options:
            attrs = option.attrs()
            deprecated = attrs.get("dest", "").startswith("specbench_deprecated_")
            value = " or ".join(attrs["choices"]) if attrs.get("choices") else attrs.get("metavar") or ""
            if attrs.get("action") == "store_true":
                value = "(flag)"
            default = attrs.get("default")
            shown = "" if default in (None, False) else str(default)
            kind = "deprecated option" if deprecated else "option"
            docs.append(OptionDoc(option.names()[0], kind, value, shown, attrs.get("help", "")))
    for name, (help_text, kind, default) in parser._inidict.items():
        docs.append(
            OptionDoc(
                name, "ini", kind or "string", "" if default in ("", None, False) else str(default), help_text
            )
        )
    return docs


def render_options() -> str:
    """The options and ini keys as two tables; the deprecated aliases marked as such."""
    docs = options()
    flags = [(_code(d.name), d.value, d.default, d.help) for d in docs if d.kind == "option"]
    old = [(_code(d.name), "**deprecated**", d.help) for d in docs if d.kind == "deprecated option"]
    ini = [(_code(d.name), d.value, d.default, d.help) for d in docs if d.kind == "ini"]
    return "\n".join(
        [
            "## Command-line options\n",
            _table(("option", "value", "default", "what it does"), flags),
            "## Deprecated aliases\n",
            _table(("option", "status", "what to use"), old),
            "## ini keys\n",
            _table(("ini key", "type", "default", "what it does"), ini),
        ]
    )


# --- checks ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckDoc:
    """One check as the reference shows it."""

    name: str
    summary: str
    settings: Mapping[str, object]
    """The brief-only settings it reads, with their defaults (empty where not declared)."""


@dataclass(frozen=True, slots=True)
class CheckDeclarations:
    """What the code declares about its checks."""

    checks: list[CheckDoc]
    """Every check in report order, then the baseline gate's."""
    brief_settings: Mapping[str, object]
    """The brief-only check settings with their defaults."""


def check_declarations() -> CheckDeclarations:
    """The checks and their settings, from their one declaration (`config.checks.DECLARED`), then
    the baseline gate's `no_regression`."""
    from pytest_specbench.config.checks import DECLARED
    from pytest_specbench.verdicts import regression

    docs = [CheckDoc(c.name, c.summary, {s.key: s.default for s in c.settings}) for c in DECLARED]
    gate = "With --specbench-baseline: the run is no worse than its record in the accepted baseline."
    settings = {s.key: s.default for c in DECLARED for s in c.settings}
    return CheckDeclarations([*docs, CheckDoc(regression.NAME, gate, {})], settings)


def render_checks() -> str:
    """The checks in report order with what each asks, then the brief-only settings they read."""
    declared = check_declarations()
    rows = [
        (f"{i}", _code(c.name), c.summary, ", ".join(_code(k) for k in c.settings))
        for i, c in enumerate(declared.checks, start=1)
    ]
    head = ("#", "check", "passes when", "settings")
    if not any(c.settings for c in declared.checks):  # not declared per check yet
        head, rows = head[:3], [row[:3] for row in rows]
    settings = [(_code(k), _shown_default(v)) for k, v in declared.brief_settings.items()]
    return "\n".join(
        [
            _table(head, rows),
            "## Check settings of a brief\n",
            "Set in a `[briefs.<id>]` table only (a brief sets the bar; a model cannot lower it).\n",
            _table(("key", "default"), settings),
        ]
    )


# --- results.json ------------------------------------------------------------------------------------


def record_fields() -> dict[str, tuple[str, str]]:
    """Every field of a results.json record: its type and what it holds."""
    from pytest_specbench import _record

    fields: dict[str, tuple[str, str]] = {}
    for cls in (_record.SampleRecord, _record.Record):
        docs = attribute_docs(cls)
        for name, hint in typing.get_type_hints(cls).items():
            fields[name] = (_type_name(hint), docs.get(name) or RECORD_FIELD_HELP.get(name, ""))
    return fields


def _type_name(hint: object) -> str:
    text = str(hint).replace("typing.", "").replace("pytest_specbench._record.", "")
    text = re.sub(r"<class '(\w+)'>", r"\1", text).replace("NotRequired[", "").replace("Required[", "")
    return text.replace(" | ", " or ")


RECORD_FIELD_HELP: dict[str, str] = {
    "reasoning_tokens": "Output tokens the provider counted as reasoning (OpenAI's `reasoning_tokens`; "
    "0 where it does not count them apart, as Anthropic).",
    "reasoning_turns": "Turns whose answer came with reasoning (a thinking model's).",
    "context_window": "The model's window in tokens: its `context_window` key, a `llamacpp` model's `n_ctx`, "
    "what its server says, or null when unknown.",
    "peak_context_tokens": "The largest prompt of any turn, cached tokens included.",
    "end_context_tokens": "The last turn's prompt.",
    "peak_context_fraction": "`peak_context_tokens` as a share of `context_window` (null when unknown).",
    "end_context_fraction": "`end_context_tokens` as a share of `context_window`.",
    "summary_turns": "Under the `summary` strategy: the requests that asked the model for its summary.",
    "masked_results": "Under `mask`: the most tool results one request carried as placeholders.",
    "context": "The context strategy's id (`full` unless `--specbench-contexts` says otherwise).",
    "regression": "The gate's verdict against the baseline: `verdict`, `alpha`, `family` and per metric its "
    "estimate, interval, p (and q), method and n per side ([Gating](../gating.md)).",
    "deterministic": "Whether the run is held to its exact snapshot (a replay, or `deterministic = true`).",
    "snapshot_diff": "A live run's tree against its committed snapshot, a unified diff (absent when equal).",
    "version": "The record format's version (`RESULTS_VERSION`).",
    "test_id": "The test's id, e.g. `test_spec[gpt-todo-app]`.",
    "model": "The model's id (its `[models.<id>]` key).",
    "brief": "The brief's id.",
    "scaffold": "The scaffold's id (`bare` unless `--specbench-scaffolds` says otherwise).",
    "provider": "`openai`, `anthropic` or `llamacpp`.",
    "model_name": "The provider's model name (`model = ...`).",
    "nodeid": "pytest's node id; a baseline matches records by it first, then by test id.",
    "outcome": "`passed`, `failed`, `error`, `skipped`, `xfailed` or `xpassed`.",
    "error": "The one-line cause of an ERROR, else null.",
    "skip_reason": "Why the test was skipped (a missing API key names its variable).",
    "checks": "Every check in report order, `{name, passed, detail}`; `known: true` marks a known failure.",
    "features": "Top-level features (a mean over samples with repeats).",
    "total_features": "Features at any depth.",
    "requirements": "Requirements at any depth.",
    "feature_recall": "Share of the brief's reference features covered; null without `reference_features`.",
    "total_tokens": "Input plus output tokens.",
    "stop_reason": "Why the run ended: a final answer, a limit, a loop, `context_window`.",
    "turns": "Model requests made.",
    "tool_calls": "Tool calls made.",
    "tool_errors": "Tool calls that returned an error.",
    "tool_errors_by_kind": "Tool errors by kind (invalid JSON, unknown tool, bad arguments, a tool error).",
    "input_tokens": "Every prompt token, cached or not, on both protocols.",
    "output_tokens": "Output tokens, reasoning included.",
    "seconds": "Wall-clock seconds of the run.",
    "retries": "Requests the SDK retried (or a stream sent again) within `max_retries`.",
    "max_identical_streak": "The longest run of one call repeated back to back.",
    "scaffold_calls": "Calls of the scaffold's tools (todo, plan, notes).",
    "truncated_turns": "Turns cut off by `max_tokens`.",
    "cache_read_input_tokens": "Prompt tokens the provider read from its prompt cache.",
    "cache_creation_input_tokens": "Prompt tokens the provider wrote to its prompt cache.",
    "tree": "Top-level features, each `{id, title, description, requirements, children, reference}`.",
    "cost_usd": "USD at the model's prices; null without them.",
    "samples": "Samples run (`repeats`).",
    "passes": "Samples that passed every check.",
    "min_passes": "Samples that had to pass.",
    "pass_rate": "`passes / samples`.",
    "pass_hat_k": "tau-bench's pass^k for each k from 1 to N: `C(passes, k) / C(N, k)`.",
    "started_at": "When the sample started (Unix seconds).",
    "ended_at": "When the sample ended (Unix seconds).",
    "metrics": "With repeats: `mean`, `stdev`, `min`, `max` of each sampled metric.",
    "per_sample": "With repeats: each sample's own fields, the ones the gate tests.",
    "gate": "The tolerances (and `alpha`) the run was held to against a baseline.",
    "source": "`live`, `recorded` or `replayed`.",
    "recorded_seconds": "A recorded or replayed run: the model's time in the recording.",
    "vs_baseline_model": "The paired verdict against `baseline_model`: `baseline_model`, `passed`, `detail`, "
    "and with three or more briefs `suite`, the verdict over the briefs (`verdict`, `briefs`, per metric its "
    "numbers and `sign_flip_p`).",
    "features_vs_bare": "A non-bare scaffold: top-level features minus the bare run's (null without one).",
    "features_ratio_vs_bare": "Top-level features over the bare run's (null when bare wrote 0).",
    "requirements_vs_bare": "Requirements minus the bare run's.",
    "requirements_ratio_vs_bare": "Requirements over the bare run's (null when bare wrote 0).",
}
"""What each record field holds, for fields whose TypedDict row has no docstring yet."""


def render_record_fields() -> str:
    """Every field of a results.json record, with its type and meaning."""
    rows = [(_code(name), kind, text) for name, (kind, text) in record_fields().items()]
    return _table(("field", "type", "what it holds"), rows)


# --- versions of the formats users commit ---------------------------------------------------------------


def format_versions() -> dict[str, int]:
    """The current version of each persisted format."""
    from pytest_specbench._run.record import RESULTS_VERSION
    from pytest_specbench.agent.transcript import TRANSCRIPT_VERSION
    from pytest_specbench.replay.cassette import CASSETTE_VERSION
    from pytest_specbench.scaffold.state import STATE_VERSION

    return {
        "results.json record": RESULTS_VERSION,
        "cassette": CASSETTE_VERSION,
        "transcript": TRANSCRIPT_VERSION,
        "scaffold state (todo.json, plan.json)": STATE_VERSION,
    }


def render_format_versions() -> str:
    """The formats' versions as a table."""
    return _table(("format", "version"), [(name, str(v)) for name, v in format_versions().items()])


# --- the reference server's tools -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolDoc:
    """One tool of the reference server, as `tools/list` describes it."""

    name: str
    description: str
    arguments: tuple[tuple[str, str, str], ...]
    """(name with its default, JSON type, description) of each argument."""
    read_only: bool


def server_tools() -> list[ToolDoc]:
    """The reference server's tools, read from `tools/list` of a server on empty directories."""
    import anyio

    from pytest_specbench.server.app import build_server

    with tempfile.TemporaryDirectory() as scratch:
        codebase = Path(scratch, "codebase")
        codebase.mkdir()
        listed = anyio.run(build_server(codebase, Path(scratch, "specs")).list_tools)
    return [_tool_doc(tool) for tool in listed]


def scaffold_tools() -> list[ToolDoc]:
    """Every scaffold tool, read from `tools/list` of a scaffold server with all of them."""
    import anyio

    from pytest_specbench.config.settings import ScaffoldTool
    from pytest_specbench.scaffold import build_scaffold_server

    with tempfile.TemporaryDirectory() as scratch:
        listed = anyio.run(build_scaffold_server(list(ScaffoldTool), Path(scratch)).list_tools)
    return [_tool_doc(tool) for tool in listed]


def _tool_doc(tool: Any) -> ToolDoc:
    schema = tool.input_schema
    required = set(schema.get("required", ()))
    arguments = []
    for name, prop in schema.get("properties", {}).items():
        shown = name if name in required else f"{name}={prop.get('default')!r}"
        kind = prop.get("type") or " or ".join(str(p.get("type")) for p in prop.get("anyOf", ()))
        arguments.append((shown, kind, prop.get("description", "")))
    read_only = bool(tool.annotations and tool.annotations.read_only_hint)
    return ToolDoc(tool.name, tool.description or "", tuple(arguments), read_only)


def render_server_tools() -> str:
    """The reference server's tools."""
    return _render_tools(server_tools())


def render_scaffold_tools() -> str:
    """The scaffold's tools."""
    return _render_tools(scaffold_tools())


def _render_tools(tools: list[ToolDoc]) -> str:
    """A section per tool: its description as the model reads it, and its arguments."""
    out = []
    for tool in tools:
        read_only = "Read-only. " if tool.read_only else ""
        out.append(f"### `{tool.name}`\n\n{read_only}{_escaped(tool.description)}\n")
        if tool.arguments:
            out.append(_table(("argument", "type", "description"), list(tool.arguments)))
    return "\n".join(out)


def render_system_prompts() -> str:
    """The built-in system prompts, verbatim."""
    from pytest_specbench import DEFAULT_SYSTEM_PROMPT, NEUTRAL_SYSTEM_PROMPT

    shown = {"On the reference server": DEFAULT_SYSTEM_PROMPT, "On an external server": NEUTRAL_SYSTEM_PROMPT}
    return "\n".join(f"{label}:\n\n```text\n{text.strip()}\n```\n" for label, text in shown.items())


def fixtures() -> dict[str, str]:
    """The plugin's fixtures by name, each with its docstring's first paragraph."""
    from pytest_specbench import plugin

    found = {
        getattr(value, "name", name): _first_paragraph(value.__doc__)
        for name, value in vars(plugin).items()
        if type(value).__name__ == "FixtureFunctionDefinition"
    }
    return found


def render_fixtures() -> str:
    """The fixtures as a table, the deprecated aliases marked."""
    from pytest_specbench._session.deprecated import FIXTURE_ALIASES

    rows = [
        (_code(name), ("**deprecated**: " if name in FIXTURE_ALIASES else "") + doc)
        for name, doc in fixtures().items()
    ]
    return _table(("fixture", "what it is"), rows)


BLOCKS: dict[str, Callable[[], str]] = {
    "config-keys": render_config_keys,
    "options": render_options,
    "checks": render_checks,
    "record-fields": render_record_fields,
    "format-versions": render_format_versions,
    "server-tools": render_server_tools,
    "scaffold-tools": render_scaffold_tools,
    "system-prompts": render_system_prompts,
    "fixtures": render_fixtures,
}
"""Each generated block by the name its marker uses."""
