"""Find specbench.toml and load it into the dataclasses of `settings.py`.

Every key a table accepts is one row in `_RUN_KEYS`, `_MODEL_KEYS`, `_BRIEF_KEYS`,
`_SERVER_KEYS` or `_SCAFFOLD_KEYS`: a parser that checks and converts the value, and where the value goes
(an argument of the dataclass, a RunSettings override, or `.extra`, read by later checks).
A key in no row is an error, so that a typo never silently does nothing.

Every problem is a `ConfigError` naming the file, the table, the key and the fix::

    /repo/evals/specbench.toml: [models.qwen]: max_turns: expected int, got str "80" — remove the quotes: ...
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import os
import re
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_specbench.errors import ConfigError
from pytest_specbench.matching import phrase_pattern
from pytest_specbench.settings import (
    BARE,
    BUILTIN_SCAFFOLDS,
    BriefConfig,
    Config,
    ModelConfig,
    Provider,
    ScaffoldConfig,
    ScaffoldTool,
    ServerConfig,
    run_id,
)

__all__ = ["DEFAULT_CONFIG", "find_config", "load_config"]

DEFAULT_CONFIG = Path("evals", "specbench.toml")
"""Where the config is looked for under rootdir when no option names one."""

_SECTIONS = ("defaults", "models", "briefs", "scaffolds")
_ID = re.compile(r"[A-Za-z0-9._-]+")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOML_POSITION = re.compile(r"line (\d+), column (\d+)")
_PROVIDERS = ", ".join(json.dumps(p.value) for p in Provider)


# --- finding the file -------------------------------------------------------------------------------


def find_config(
    explicit: str | None, ini_value: str | None, rootdir: Path, invocation_dir: Path | None = None
) -> Path:
    """The config file to load; the first of these that is set wins.

    Args:
        explicit: `--specbench-config`, relative to the directory pytest was started in.
        ini_value: the `specbench_config` ini option, relative to rootdir.
        rootdir: pytest's rootdir; `evals/specbench.toml` under it is the default.
        invocation_dir: where pytest was started; the current directory when None.

    The default path is returned even when it does not exist: whether a missing default
    means "no suite here" is the caller's decision. A path an option names must exist.
    """
    if explicit:
        base = invocation_dir or Path.cwd()
        return _named_file(base / explicit, "--specbench-config", "the directory pytest was started in")
    if ini_value:
        return _named_file(rootdir / ini_value, "the ini option specbench_config", f"rootdir {rootdir}")
    return _absolute(rootdir / DEFAULT_CONFIG)


def _named_file(path: Path, option: str, relative_to: str) -> Path:
    path = _absolute(path)
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(
            str(path),
            "",
            f"{option} points at a file that {problem}",
            f"fix the path (relative to {relative_to}), or drop {option} to use {DEFAULT_CONFIG}",
        )
    return path


def _absolute(path: Path) -> Path:
    # abspath normalises "..", and unlike resolve() it keeps the symlinks the user wrote.
    return Path(os.path.abspath(path))


# --- where a value sits -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _At:
    """Where a value sits, so that any parser can raise a complete ConfigError."""

    file: Path
    """Absolute path of the config file."""
    table: str
    """Dotted table name as written in a header, e.g. `briefs.todo-app.server`; "" at top level."""
    key: str = ""

    def error(self, problem: str, fix: str) -> ConfigError:
        prefix = f"{self.key}: " if self.key else ""
        return ConfigError(str(self.file), self.table, prefix + problem, fix)

    def at(self, key: str) -> _At:
        return replace(self, key=key)

    def nested(self) -> _At:
        """The table this key holds."""
        return _At(self.file, f"{self.table}.{_toml_key(self.key)}")

    def resolve(self, text: str) -> Path:
        """A path written in the file, relative to the file's directory."""
        return _absolute(self.file.parent / text)


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


_Parser = Callable[[object, _At], Any]


# --- value parsers ----------------------------------------------------------------------------------


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"bool {str(value).lower()}"
    if isinstance(value, str):
        return f"str {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, list):
        return "array"
    return f"{type(value).__name__} {value}"


def _wrong_type(value: object, expected: str, at: _At, fix: str) -> ConfigError:
    return at.error(f"expected {expected}, got {_describe(value)}", fix)


def _str(value: object, at: _At) -> str:
    if not isinstance(value, str):
        raise _wrong_type(value, "str", at, f'put the value in double quotes: {at.key} = "..."')
    if not value.strip():
        raise at.error("must not be empty", f"give {at.key} a value, or remove the line")
    return value


def _bool(value: object, at: _At) -> bool:
    if not isinstance(value, bool):
        raise _wrong_type(value, "bool", at, f"write {at.key} = true or {at.key} = false (no quotes)")
    return value


def _unquote_fix(value: object, at: _At, kind: str, convert: Callable[[str], object]) -> str:
    """Suggest dropping the quotes when the string holds a valid value, else say what to write."""
    if isinstance(value, str):
        try:
            convert(value)
        except ValueError:
            pass
        else:
            return f"remove the quotes: {at.key} = {value.strip()}"
    return f"write {kind} without quotes"


def _int(minimum: int) -> _Parser:
    """A whole number of at least `minimum`; `true` is not 1, whatever Python thinks."""

    def parse(value: object, at: _At) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong_type(value, "int", at, _unquote_fix(value, at, "a whole number", int))
        if value < minimum:
            raise at.error(f"must be at least {minimum}, got {value}", f"set {at.key} to {minimum} or more")
        return value

    return parse


def _number(minimum: float, *, inclusive: bool) -> _Parser:
    """A finite number (int or float) above, or with `inclusive` at least, `minimum`."""
    bound = f"at least {minimum:g}" if inclusive else f"greater than {minimum:g}"
    wanted = f"{minimum:g} or more" if inclusive else f"a number greater than {minimum:g}"

    def parse(value: object, at: _At) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong_type(value, "number", at, _unquote_fix(value, at, "a number", float))
        if not math.isfinite(value):
            raise at.error(f"must be a finite number, got {value}", f"set {at.key} to {wanted}")
        if value < minimum or (value == minimum and not inclusive):
            raise at.error(f"must be {bound}, got {value}", f"set {at.key} to {wanted}")
        return float(value)

    return parse


def _url(value: object, at: _At) -> str:
    url = _str(value, at)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fix = f'write it with its scheme: {at.key} = "http://{url}"' if "://" not in url else ""
        raise at.error(f"not an http(s) URL: {json.dumps(url)}", fix or "write an http:// or https:// URL")
    return url


def _env_name(value: object, at: _At) -> str:
    name = _str(value, at)
    if not _ENV_NAME.fullmatch(name):
        # Not echoed: a value that is not a variable name is most likely the secret itself.
        raise at.error(
            "is not an environment variable name (value not shown, in case it is the key itself)",
            f'name the variable that holds the key, e.g. {at.key} = "OPENAI_API_KEY"',
        )
    return name


def _suggest(word: str, choices: list[str], then: str = "") -> str:
    """`did you mean "x"?` for a near miss, followed by `then`."""
    close = difflib.get_close_matches(word, choices, n=1)
    guess = f"did you mean {json.dumps(close[0])}?" if close else ""
    return f"{guess} {then}".strip()


def _provider(value: object, at: _At) -> Provider:
    name = _str(value, at)
    try:
        return Provider(name)
    except ValueError:
        fix = _suggest(name, [p.value for p in Provider], f"valid providers: {_PROVIDERS}")
        raise at.error(f"unknown provider {json.dumps(name)}", fix) from None


def _directory(value: object, at: _At) -> Path:
    path = at.resolve(_str(value, at))
    if not path.is_dir():
        problem = "is not a directory" if path.exists() else "directory not found"
        raise at.error(f"{problem}: {path}", f"create it, or give a path relative to {at.file.parent}")
    return path


def _text_file(value: object, at: _At) -> str:
    path = at.resolve(_str(value, at))
    if not path.is_file():
        raise at.error(f"file not found: {path}", f"create it, or give a path relative to {at.file.parent}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise at.error(f"cannot read {path}: {exc}", "make it a readable UTF-8 text file") from None
    if not text.strip():
        raise at.error(f"file is empty: {path}", "write the brief into it")
    return text


def _path(value: object, at: _At) -> Path:
    return at.resolve(_str(value, at))


def _table(value: object, at: _At) -> dict[str, Any]:
    if not isinstance(value, dict):
        header = f"{at.table}.{at.key}" if at.table else at.key
        raise _wrong_type(
            value, "table", at, f"write {at.key} = {{ key = value, ... }} or a [{header}] table"
        )
    return value


# --- the external server ----------------------------------------------------------------------------

_PLACEHOLDERS = frozenset({"workspace", "specs_dir", "codebase"})


def _template(text: str, at: _At, allowed: frozenset[str] = _PLACEHOLDERS) -> str:
    """Catch a misspelt `{workspace}` now rather than as a KeyError in the middle of a run."""
    known = ", ".join(f"{{{name}}}" for name in sorted(allowed))
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise at.error(
            f"bad placeholder in {json.dumps(text)}: {exc}", "write a literal brace as {{ or }}"
        ) from None
    unknown = sorted(names - allowed)
    if unknown:
        raise at.error(f"unknown placeholder {{{unknown[0]}}} in {json.dumps(text)}", f"use one of {known}")
    return text


def _command(value: object, at: _At) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(arg, str) and arg for arg in value):
        raise _wrong_type(value, "non-empty array of str", at, f'write {at.key} = ["program", "arg", ...]')
    return tuple(_template(arg, at) for arg in value)


def _env(value: object, at: _At) -> dict[str, str]:
    table = _table(value, at)
    for name, text in table.items():
        if not isinstance(text, str):
            raise _wrong_type(
                text, "str", at, f'quote every value: {at.key} = {{ {_toml_key(name)} = "..." }}'
            )
        _template(text, at)
    return dict(table)


def _specs_dir(value: object, at: _At) -> str:
    # The directory cannot be defined in terms of itself.
    return _template(_str(value, at), at, _PLACEHOLDERS - {"specs_dir"})


def _server(value: object, at: _At) -> ServerConfig:
    inner = at.nested()
    fields = _parse_keys(_table(value, at), _SERVER_KEYS, inner)[_Dest.FIELD]
    if ("command" in fields) == ("url" in fields):
        problem = "has both command and url" if "command" in fields else "has neither command nor url"
        fix = 'set either command = ["program", "arg"] (stdio) or url = "http://127.0.0.1:8085/mcp"'
        raise inner.error(problem, fix)
    if "env" in fields and "url" in fields:
        raise inner.at("env").error("only applies to a stdio server (command)", "remove env from this table")
    return ServerConfig(**fields)


# --- check settings --------------------------------------------------------------------------------


def _fraction(value: object, at: _At) -> float:
    number: float = _number(0, inclusive=True)(value, at)
    if number > 1:
        raise at.error(f"must be between 0 and 1, got {value}", f"write a fraction: {at.key} = 0.7 means 70%")
    return number


def _phrase(value: object, at: _At) -> str:
    """A word, phrase or regular expression matched against the tree (`matching.py`)."""
    if not isinstance(value, str) or not value.strip():
        raise _wrong_type(value, "non-empty str", at, 'write each one in double quotes, e.g. "billing"')
    try:
        phrase_pattern(value)
    except re.error as exc:
        fix = "fix the regular expression, or write plain words (they match whole words)"
        raise at.error(f"bad regular expression {json.dumps(value)}: {exc}", fix) from None
    return value


def _phrases(value: object, at: _At) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _wrong_type(value, "array of str", at, f'write {at.key} = ["billing", "payment"]')
    return tuple(_phrase(item, at.at(f"{at.key}[{i}]")) for i, item in enumerate(value))


def _reference_features(value: object, at: _At) -> tuple[dict[str, Any], ...]:
    fix = f'write {at.key} = [{{ name = "undo", aliases = ["revert"] }}, ...]'
    if not isinstance(value, list):
        raise _wrong_type(value, "array of tables", at, fix)
    return tuple(_reference(entry, at.at(f"{at.key}[{i}]"), fix) for i, entry in enumerate(value))


def _reference(entry: object, at: _At, fix: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise _wrong_type(entry, "table", at, fix)
    unknown = sorted(set(entry) - {"name", "aliases"})
    if unknown:
        raise at.error(f"unknown key {unknown[0]}", "an entry has only name and aliases")
    if "name" not in entry:
        raise at.error("has no name", fix)
    aliases = _phrases(entry.get("aliases", []), at.at(f"{at.key}.aliases"))
    return {"name": _phrase(entry["name"], at.at(f"{at.key}.name")), "aliases": aliases}


# --- the key tables: one row per key ----------------------------------------------------------------


class _Dest(StrEnum):
    """Where a parsed value goes."""

    FIELD = "field"
    """An argument of the table's dataclass."""
    SETTINGS = "settings"
    """A RunSettings override (`overrides`, or `Config.defaults` for [defaults])."""
    EXTRA = "extra"
    """`.extra`: settings of later checks and provider-specific keys."""


@dataclass(frozen=True, slots=True)
class _Key:
    """How one key is checked and where its value goes."""

    parse: _Parser
    dest: _Dest = _Dest.FIELD
    name: str = ""
    """The destination name when it differs from the key."""
    provider: Provider | None = None
    """The only provider the key applies to (model tables)."""


# A test asserts these are exactly RunSettings' fields, so a new setting cannot be forgotten here.
_RUN_KEYS: dict[str, _Key] = {
    "max_turns": _Key(_int(1), _Dest.SETTINGS),
    "timeout_s": _Key(_number(0, inclusive=False), _Dest.SETTINGS),
    "request_timeout_s": _Key(_number(0, inclusive=False), _Dest.SETTINGS),
    "temperature": _Key(_number(0, inclusive=True), _Dest.SETTINGS),
    "max_retries": _Key(_int(0), _Dest.SETTINGS),
    "tool_timeout_s": _Key(_number(0, inclusive=False), _Dest.SETTINGS),
    "max_tool_calls": _Key(_int(1), _Dest.SETTINGS),
    "max_total_tokens": _Key(_int(1), _Dest.SETTINGS),
    "loop_threshold": _Key(_int(2), _Dest.SETTINGS),
    "stop_on_loop": _Key(_bool, _Dest.SETTINGS),
}

_MODEL_KEYS: dict[str, _Key] = {
    **_RUN_KEYS,
    "provider": _Key(_provider),
    "model": _Key(_str),
    "base_url": _Key(_url),
    "api_key_env": _Key(_env_name),
    "max_tokens": _Key(_int(1)),
    "stream": _Key(_bool),
    "xfail": _Key(_str),
    "model_path": _Key(_path, _Dest.EXTRA, provider=Provider.LLAMACPP),
    "n_ctx": _Key(_int(1), _Dest.EXTRA, provider=Provider.LLAMACPP),
    "chat_format": _Key(_str, _Dest.EXTRA, provider=Provider.LLAMACPP),
}

_BRIEF_KEYS: dict[str, _Key] = {
    **_RUN_KEYS,
    "codebase": _Key(_directory),
    "prompt": _Key(_str),
    "prompt_file": _Key(_text_file, name="prompt"),
    "min_requirements": _Key(_int(0)),
    "min_features": _Key(_int(0)),
    "xfail": _Key(_str),
    "server": _Key(_server),
    # Check settings of this brief only (a brief sets the bar; a model does not lower it).
    "forbidden_topics": _Key(_phrases, _Dest.EXTRA),
    "reference_features": _Key(_reference_features, _Dest.EXTRA),
    "min_feature_recall": _Key(_fraction, _Dest.EXTRA),
    "tree_quality": _Key(_bool, _Dest.EXTRA),
    "max_empty_features": _Key(_int(0), _Dest.EXTRA),
    "max_requirements_without_criteria": _Key(_int(0), _Dest.EXTRA),
    "max_duplicate_titles": _Key(_int(0), _Dest.EXTRA),
    "max_placeholders": _Key(_int(0), _Dest.EXTRA),
}

_SERVER_KEYS: dict[str, _Key] = {
    "command": _Key(_command),
    "url": _Key(_url),
    "env": _Key(_env),
    "specs_dir": _Key(_specs_dir),
}


def _scaffold_tools(value: object, at: _At) -> tuple[ScaffoldTool, ...]:
    names = [tool.value for tool in ScaffoldTool]
    valid = ", ".join(json.dumps(name) for name in names)
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise _wrong_type(value, "array of str", at, f"write {at.key} = [{valid}] (any of them)")
    for name in value:
        if name not in names:
            fix = _suggest(name, names, f"valid tool sets: {valid}")
            raise at.error(f"unknown tool set {json.dumps(name)}", fix)
    return tuple(dict.fromkeys(ScaffoldTool(name) for name in value))


_SCAFFOLD_KEYS: dict[str, _Key] = {
    "tools": _Key(_scaffold_tools),
    "remind": _Key(_bool),
}

_HOMES: dict[str, Mapping[str, _Key]] = {
    "[defaults]": _RUN_KEYS,
    "a [models.<id>] table": _MODEL_KEYS,
    "a [briefs.<id>] table": _BRIEF_KEYS,
    "a [scaffolds.<id>] table": _SCAFFOLD_KEYS,
}


def _parse_keys(raw: Mapping[str, object], keys: Mapping[str, _Key], at: _At) -> dict[_Dest, dict[str, Any]]:
    parsed: dict[_Dest, dict[str, Any]] = {dest: {} for dest in _Dest}
    for key, value in raw.items():
        spec = keys.get(key)
        if spec is None:
            raise _unknown_key(key, value, keys, at)
        parsed[spec.dest][spec.name or key] = spec.parse(value, at.at(key))
    return parsed


def _unknown_key(key: str, value: object, known: Mapping[str, _Key], at: _At) -> ConfigError:
    homes = [home for home, keys in _HOMES.items() if key in keys]
    fix = f"{key} belongs in {' or '.join(homes)}; move it there" if homes else _suggest(key, list(known))
    section, _, table_id = at.table.partition(".")
    if not fix and isinstance(value, dict) and _BARE_KEY.fullmatch(table_id):
        # `[models.qwen3.6]` is two nested tables in TOML, not an id with a dot.
        fix = f'if "{table_id}.{key}" is one id, quote it: [{section}."{table_id}.{key}"]'
    return at.at(key).error("unknown key", fix or f"remove it; known keys: {', '.join(sorted(known))}")


# --- tables -----------------------------------------------------------------------------------------


def _require(fields: Mapping[str, object], key: str, at: _At, fix: str) -> None:
    if key not in fields:
        raise at.at(key).error("required key is missing", fix)


def _model(model_id: str, raw: Mapping[str, object], at: _At) -> ModelConfig:
    parsed = _parse_keys(raw, _MODEL_KEYS, at)
    fields = parsed[_Dest.FIELD]
    _require(fields, "provider", at, f'add provider = "openai" (valid providers: {_PROVIDERS})')
    provider: Provider = fields["provider"]
    for key in raw:
        only = _MODEL_KEYS[key].provider
        if only is not None and only is not provider:
            raise at.at(key).error(
                f'only applies to provider "{only}"', f'remove it, or set provider = "{only}"'
            )
    if provider is Provider.LLAMACPP:
        # The plugin's own llama.cpp server serves one model whatever it is called.
        fields.setdefault("model", model_id)
    _require(fields, "model", at, 'add model = "<the name the server serves it under>"')
    return ModelConfig(id=model_id, **fields, overrides=parsed[_Dest.SETTINGS], extra=parsed[_Dest.EXTRA])


def _brief(brief_id: str, raw: Mapping[str, object], at: _At) -> BriefConfig:
    prompt_fix = f'set prompt_file = "briefs/{brief_id}.md" or prompt = "..."'
    if "prompt" in raw and "prompt_file" in raw:
        raise at.error("both prompt and prompt_file are set", f"keep exactly one: {prompt_fix}")
    parsed = _parse_keys(raw, _BRIEF_KEYS, at)
    fields = parsed[_Dest.FIELD]
    _require(fields, "codebase", at, 'add codebase = "codebases/<dir>" (a directory relative to this file)')
    if "prompt" not in fields:
        raise at.error("neither prompt nor prompt_file is set", prompt_fix)
    if "min_feature_recall" in parsed[_Dest.EXTRA] and not parsed[_Dest.EXTRA].get("reference_features"):
        raise at.at("min_feature_recall").error(
            "has no reference_features to measure recall against",
            'add reference_features = [{ name = "...", aliases = ["..."] }], or remove min_feature_recall',
        )
    return BriefConfig(id=brief_id, **fields, overrides=parsed[_Dest.SETTINGS], extra=parsed[_Dest.EXTRA])


def _scaffold(scaffold_id: str, raw: Mapping[str, object], at: _At) -> ScaffoldConfig:
    if scaffold_id in BUILTIN_SCAFFOLDS:
        # A comparison against bare means nothing if bare can be given tools.
        raise at.error(
            f'"{scaffold_id}" is a built-in scaffold and cannot be redefined',
            f"give yours another id, e.g. [scaffolds.my-{scaffold_id}]",
        )
    fields = _parse_keys(raw, _SCAFFOLD_KEYS, at)[_Dest.FIELD]
    _require(fields, "tools", at, 'add tools = ["todo", "plan", "notes"] (any of them)')
    if fields.get("remind") and ScaffoldTool.TODO not in fields["tools"]:
        raise at.at("remind").error(
            "reminds the model of its todo list, which this scaffold does not offer",
            'add "todo" to tools, or set remind = false',
        )
    return ScaffoldConfig(id=scaffold_id, **fields)


_EXAMPLES = {
    "models": 'add one, e.g. [models.gpt-4o-mini] with provider = "openai" and model = "gpt-4o-mini"',
    "briefs": 'add one, e.g. [briefs.todo-app] with codebase = "codebases/todo-app" and prompt = "..."',
    "scaffolds": 'add one, e.g. [scaffolds.todo-only] with tools = ["todo"], or remove [scaffolds]',
}


def _section(doc: Mapping[str, Any], name: str, file: Path) -> dict[str, Mapping[str, object]]:
    """The `[models.*]` or `[briefs.*]` tables, each under a valid id."""
    at = _At(file, name)
    tables: dict[str, Any] = doc.get(name, {})
    if not tables:
        raise at.error(f"no {name} defined", _EXAMPLES[name])
    for table_id, table in tables.items():
        if not isinstance(table, dict):
            fix = f"put each entry in its own table: [{name}.<id>] with its keys below the header"
            raise at.at(table_id).error(f"expected a table, got {_describe(table)}", fix)
        _check_id(table_id, _table_at(file, name, table_id))
    return tables


def _table_at(file: Path, section: str, table_id: str) -> _At:
    return _At(file, f"{section}.{_toml_key(table_id)}")


def _check_id(table_id: str, at: _At) -> None:
    if _ID.fullmatch(table_id):
        return
    section = at.table.partition(".")[0]
    better = re.sub(r"[^A-Za-z0-9._-]+", "-", table_id).strip("-") or "my-id"
    raise at.error(
        f"id {json.dumps(table_id, ensure_ascii=False)} may only use letters, digits, '.', '_' and '-' "
        "(ids become pytest ids and snapshot file names)",
        f"rename it, e.g. [{section}.{_toml_key(better)}]",
    )


def _check_top_level(doc: Mapping[str, Any], file: Path) -> None:
    for key, value in doc.items():
        at = _At(file, "", key)
        if key not in _SECTIONS:
            kind = "table" if isinstance(value, dict) else "key"
            raise at.error(f"unknown top-level {kind}", _top_level_fix(key))
        _table(value, at)


def _top_level_fix(key: str) -> str:
    if key in _RUN_KEYS:
        return "move it under [defaults]"
    tables = "the tables are [defaults], [models.<id>], [briefs.<id>] and [scaffolds.<id>]"
    return _suggest(key, list(_SECTIONS), tables)


_Run = tuple[str, str, str]


def _check_test_ids(config: Config) -> None:
    """`run_id` must name one run, or two runs would share a test id and a snapshot.

    Every scaffold counts, selected or not, so that a config that loads is good for any `--scaffolds`.
    """
    seen: dict[str, _Run] = {}
    for run in itertools.product(config.models, config.briefs, config.scaffolds):
        test_id = run_id(*run)
        first = seen.setdefault(test_id, run)
        if first != run:
            raise _ambiguous(test_id, first, run, config.path)


def _ambiguous(test_id: str, first: _Run, second: _Run, file: Path) -> ConfigError:
    model = max(first[0], second[0], key=len)
    brief = max(first[1], second[1], key=len)
    custom = [s for s in (first[2], second[2]) if s not in BUILTIN_SCAFFOLDS]
    runs = " and ".join(_run_words(run) for run in (first, second))
    also = f' or scaffold "{custom[0]}"' if custom else ""
    example = next((name for name in (model, brief) if "-" in name), model)
    return ConfigError(
        str(file),
        f"models.{_toml_key(model)}",
        f'test id "{test_id}" is ambiguous: {runs} both produce it',
        f'rename model "{model}" or brief "{brief}"{also}, e.g. to "{example.replace("-", "_")}"',
    )


def _run_words(run: _Run) -> str:
    model, brief, scaffold = run
    words = f'model "{model}" with brief "{brief}"'
    return words if scaffold == BARE.id else f'{words} and scaffold "{scaffold}"'


# --- loading ----------------------------------------------------------------------------------------


def _read_toml(file: Path) -> dict[str, Any]:
    at = _At(file, "")
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        fix = "create it, or point --specbench-config (or the specbench_config ini option) at your config"
        raise at.error("file not found", fix) from None
    except (OSError, UnicodeError) as exc:
        raise at.error(f"cannot read it: {exc}", "make it a readable UTF-8 text file") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise at.error(f"invalid TOML: {exc}", _toml_fix(str(exc))) from None


def _toml_fix(message: str) -> str:
    found = _TOML_POSITION.search(message)
    where = f"at line {found[1]}, column {found[2]}" if found else "of the file"
    return f"fix the syntax {where} (strings need double quotes; each [table] may appear only once)"


def load_config(path: Path) -> Config:
    """Parse and check specbench.toml; every problem is a ConfigError.

    Args:
        path: the config file; paths inside it are relative to its directory.
    """
    file = _absolute(path)
    doc = _read_toml(file)
    _check_top_level(doc, file)
    defaults = _parse_keys(doc.get("defaults", {}), _RUN_KEYS, _At(file, "defaults"))[_Dest.SETTINGS]
    models = {
        key: _model(key, raw, _table_at(file, "models", key))
        for key, raw in _section(doc, "models", file).items()
    }
    briefs = {
        key: _brief(key, raw, _table_at(file, "briefs", key))
        for key, raw in _section(doc, "briefs", file).items()
    }
    scaffolds = {
        key: _scaffold(key, raw, _table_at(file, "scaffolds", key))
        for key, raw in (_section(doc, "scaffolds", file) if "scaffolds" in doc else {}).items()
    }
    config = Config(file, models, briefs, defaults, scaffolds={**BUILTIN_SCAFFOLDS, **scaffolds})
    _check_test_ids(config)
    return config
