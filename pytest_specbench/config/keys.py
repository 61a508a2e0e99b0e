"""The typed parsers of specbench.toml's values: each checks and converts one value.

Which key uses which parser, and where its value goes, is `schema.py`. Every parser raises a
`ConfigError` naming the file, the table, the key and the fix, through the `At` it is handed::

    /repo/evals/specbench.toml: [models.qwen]: max_turns: expected int, got str "80" — remove the quotes: ...
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import stat
import string
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pytest_specbench._files import is_system_tree, tree_over
from pytest_specbench._text import phrase_pattern
from pytest_specbench.config.gate import GateFamily
from pytest_specbench.config.settings import (
    MAX_CODEBASE_FILES,
    MAX_CODEBASE_MIB,
    ContextStrategy,
    Protocol,
    Provider,
    RecordMode,
)
from pytest_specbench.errors import ConfigError

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
"""A TOML key that needs no quotes."""
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROVIDERS = ", ".join(json.dumps(p.value) for p in Provider)


def absolute(path: Path) -> Path:
    # abspath normalises "..", and unlike resolve() it keeps the symlinks the user wrote.
    return Path(os.path.abspath(path))


# --- where a value sits -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class At:
    """Where a value sits, so that any parser can raise a complete ConfigError."""

    file: Path
    """Absolute path of the config file."""
    table: str
    """Dotted table name as written in a header, e.g. `briefs.todo-app.server`; "" at top level."""
    key: str = ""

    def error(self, problem: str, fix: str) -> ConfigError:
        prefix = f"{self.key}: " if self.key else ""
        return ConfigError(str(self.file), self.table, prefix + problem, fix)

    def at(self, key: str) -> At:
        return replace(self, key=key)

    def nested(self) -> At:
        """The table this key holds."""
        return At(self.file, f"{self.table}.{toml_key(self.key)}")

    def resolve(self, text: str) -> Path:
        """A path written in the file, relative to the file's directory."""
        return absolute(self.file.parent / text)


def toml_key(key: str) -> str:
    return key if BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


Parser = Callable[[object, At], Any]


# --- value parsers ----------------------------------------------------------------------------------


def describe(value: object) -> str:
    if isinstance(value, bool):
        return f"bool {str(value).lower()}"
    if isinstance(value, str):
        return f"str {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, list):
        return "array"
    return f"{type(value).__name__} {value}"


def wrong_type(value: object, expected: str, at: At, fix: str) -> ConfigError:
    return at.error(f"expected {expected}, got {describe(value)}", fix)


def parse_str(value: object, at: At) -> str:
    if not isinstance(value, str):
        raise wrong_type(value, "str", at, f'put the value in double quotes: {at.key} = "..."')
    if not value.strip():
        raise at.error("must not be empty", f"give {at.key} a value, or remove the line")
    return value


def parse_bool(value: object, at: At) -> bool:
    if not isinstance(value, bool):
        raise wrong_type(value, "bool", at, f"write {at.key} = true or {at.key} = false (no quotes)")
    return value


def _unquote_fix(value: object, at: At, kind: str, convert: Callable[[str], object]) -> str:
    """Suggest dropping the quotes when the string holds a valid value, else say what to write."""
    if isinstance(value, str):
        try:
            convert(value)
        except ValueError:
            pass
        else:
            return f"remove the quotes: {at.key} = {value.strip()}"
    return f"write {kind} without quotes"


def parse_int(minimum: int, maximum: int | None = None) -> Parser:
    """A whole number from `minimum` (to `maximum`, if given); `true` is not 1, whatever Python thinks."""

    def parse(value: object, at: At) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong_type(value, "int", at, _unquote_fix(value, at, "a whole number", int))
        if value < minimum:
            raise at.error(f"must be at least {minimum}, got {value}", f"set {at.key} to {minimum} or more")
        if maximum is not None and value > maximum:
            raise at.error(f"must be at most {maximum}, got {value}", f"set {at.key} to {maximum} or less")
        return value

    return parse


def parse_number(minimum: float, *, inclusive: bool) -> Parser:
    """A finite number (int or float) above, or with `inclusive` at least, `minimum`."""
    bound = f"at least {minimum:g}" if inclusive else f"greater than {minimum:g}"
    wanted = f"{minimum:g} or more" if inclusive else f"a number greater than {minimum:g}"

    def parse(value: object, at: At) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong_type(value, "number", at, _unquote_fix(value, at, "a number", float))
        if not math.isfinite(value):
            raise at.error(f"must be a finite number, got {value}", f"set {at.key} to {wanted}")
        if value < minimum or (value == minimum and not inclusive):
            raise at.error(f"must be {bound}, got {value}", f"set {at.key} to {wanted}")
        return float(value)

    return parse


UNSET = "unset"
"""`temperature = "unset"`: the value that leaves the temperature out of every request."""


def parse_temperature(value: object, at: At) -> float | None:
    """A temperature of 0 or more, or `"unset"` (None): not sent, for models that refuse one."""
    if value == UNSET:
        return None
    if isinstance(value, str) and value.strip().lower() == UNSET:
        raise at.error(
            f'expected a number or "{UNSET}", got {describe(value)}', f'write {at.key} = "{UNSET}"'
        )
    number: float = parse_number(0, inclusive=True)(value, at)
    return number


def parse_choice_of(*choices: str) -> Parser:
    """One of a few fixed words (an API's own enum, such as an effort level)."""
    valid = ", ".join(json.dumps(choice) for choice in choices)

    def parse(value: object, at: At) -> str:
        word = parse_str(value, at)
        if word not in choices:
            raise at.error(
                f"unknown value {json.dumps(word)}", suggest(word, list(choices), f"valid values: {valid}")
            )
        return word

    return parse


def parse_url(value: object, at: At) -> str:
    url = parse_str(value, at)
    try:
        parts = urlsplit(url)
        port = parts.port  # urllib checks the port only when asked, and raises ValueError then
    except ValueError as exc:
        raise at.error(
            f"not a valid URL: {json.dumps(url)} ({exc})", "write the port as 1 to 65535"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fix = f'write it with its scheme: {at.key} = "http://{url}"' if "://" not in url else ""
        raise at.error(f"not an http(s) URL: {json.dumps(url)}", fix or "write an http:// or https:// URL")
    if port == 0:
        raise at.error(f"port 0 in {json.dumps(url)}", "write the port as 1 to 65535")
    return url


def parse_env_name(value: object, at: At) -> str:
    name = parse_str(value, at)
    if not _ENV_NAME.fullmatch(name):
        # Not echoed: a value that is not a variable name is most likely the secret itself.
        raise at.error(
            "is not an environment variable name (value not shown, in case it is the key itself)",
            f'name the variable that holds the key, e.g. {at.key} = "OPENAI_API_KEY"',
        )
    return name


def suggest(word: str, choices: list[str], then: str = "") -> str:
    """`did you mean "x"?` for a near miss, followed by `then`."""
    close = difflib.get_close_matches(word, choices, n=1)
    guess = f"did you mean {json.dumps(close[0])}?" if close else ""
    return f"{guess} {then}".strip()


_E = TypeVar("_E", bound=StrEnum)


def _parse_choice(value: object, at: At, choices: type[_E], noun: str) -> _E:
    """One of a closed set of names; an unknown one is an error listing them (with a did-you-mean)."""
    name = parse_str(value, at)
    try:
        return choices(name)
    except ValueError:
        valid = ", ".join(json.dumps(c.value) for c in choices)
        fix = suggest(name, [c.value for c in choices], f"valid {noun}s: {valid}")
        raise at.error(f"unknown {noun} {json.dumps(name)}", fix) from None


def parse_provider(value: object, at: At) -> Provider:
    return _parse_choice(value, at, Provider, "provider")


def parse_record_mode(value: object, at: At) -> RecordMode:
    return _parse_choice(value, at, RecordMode, "record mode")


def parse_context_strategy(value: object, at: At) -> ContextStrategy:
    return _parse_choice(value, at, ContextStrategy, "context strategy")


def parse_protocol(value: object, at: At) -> Protocol:
    return _parse_choice(value, at, Protocol, "protocol")


def parse_gate_family(value: object, at: At) -> GateFamily:
    return _parse_choice(value, at, GateFamily, "value")


def parse_alpha(value: object, at: At) -> float:
    """The gate's one-sided level: above 0, at most 0.5 (a larger one calls chance a regression)."""
    number: float = parse_number(0, inclusive=False)(value, at)
    if number > 0.5:
        raise at.error(
            f"must be greater than 0 and at most 0.5, got {value}", f"write a level, e.g. {at.key} = 0.05"
        )
    return number


MAX_REPEATS = 1000
"""The most samples a run may take (`repeats`, `--specbench-repeats`): each copies the codebase."""


def parse_codebase(value: object, at: At) -> Path:
    """An existing directory, not `/` or a tree under /proc, /sys or /dev (its size: `bounded_tree`)."""
    return parse_directory(value, at)


def refuse_system_tree(path: Path, at: At) -> None:
    """`/` itself, or /proc, /sys, /dev and anything under them, is a ConfigError."""
    if is_system_tree(path):
        raise at.error(
            f"{path} is the root or a system tree (/, /proc, /sys, /dev)",
            "point it at a directory of your own files",
        )


def bounded_tree(
    path: Path, at: At, max_files: int = MAX_CODEBASE_FILES, max_mib: int = MAX_CODEBASE_MIB
) -> None:
    """At most `max_files` files and `max_mib` MiB under `path`, counted without following links.

    The walk stops at the first file past a limit, so a huge tree costs no more than the limit.
    """
    over = tree_over(path, max_files, max_mib * 1024 * 1024)
    if over is not None:
        raise at.error(
            f"{path} holds more than {over} (the limit; every run copies it)",
            "point it at the code the brief is about, without build output or dependencies, or raise "
            "the brief's max_codebase_files / max_codebase_mib",
        )


def parse_file(value: object, at: At) -> Path:
    return _existing(value, at, "file")


def parse_directory(value: object, at: At) -> Path:
    return _existing(value, at, "directory")


def _existing(value: object, at: At, kind: str) -> Path:
    path = at.resolve(parse_str(value, at))
    found = _kind_of(path, at)
    if found != kind:
        problem = f"is not a {kind}" if found else f"{kind} not found"
        raise at.error(f"{problem}: {path}", f"create it, or give a path relative to {at.file.parent}")
    refuse_system_tree(path, at)  # a file under /proc can block its reader (/proc/kmsg)
    return path


def _kind_of(path: Path, at: At) -> str | None:
    """`file`, `directory`, `other` (a FIFO, a device) or None when nothing is there."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # a name too long, a loop of links, no permission, a NUL
        problem = f"cannot look at {str(path)[:200]!r}: {getattr(exc, 'strerror', None) or exc}"
        raise at.error(problem, "give a shorter, readable path") from None
    return "directory" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def parse_text_file(value: object, at: At) -> str:
    path = _existing(value, at, "file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise at.error(f"cannot read {path}: {exc}", "make it a readable UTF-8 text file") from None
    if not text.strip():
        raise at.error(f"file is empty: {path}", "write the brief into it")
    return text


def parse_path(value: object, at: At) -> Path:
    return at.resolve(parse_str(value, at))


def parse_table(value: object, at: At) -> dict[str, Any]:
    if not isinstance(value, dict):
        header = f"{at.table}.{at.key}" if at.table else at.key
        raise wrong_type(value, "table", at, f"write {at.key} = {{ key = value, ... }} or a [{header}] table")
    return value


# --- the external server ----------------------------------------------------------------------------

_PLACEHOLDERS = frozenset({"workspace", "specs_dir", "codebase", "config_dir"})
"""`{config_dir}` is known at load and replaced then; the others name a run's paths."""


def _template(text: str, at: At, allowed: frozenset[str] = _PLACEHOLDERS) -> str:
    """Catch a misspelt `{workspace}` now rather than as a KeyError in the middle of a run.

    Returns `text` with `{config_dir}` replaced by the config file's directory.
    """
    known = ", ".join(f"{{{name}}}" for name in sorted(allowed))
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise at.error(
            f"bad placeholder in {json.dumps(text)}: {exc}", "write a literal brace as {{ or }}"
        ) from None
    unknown = sorted({name for _, name, _, _ in parts if name is not None} - allowed)
    if unknown:
        raise at.error(f"unknown placeholder {{{unknown[0]}}} in {json.dumps(text)}", f"use one of {known}")
    if not any(name == "config_dir" for _, name, _, _ in parts):
        return text
    config_dir = _literal(str(at.file.parent))
    return "".join(
        _literal(literal) + (config_dir if name == "config_dir" else "" if name is None else f"{{{name}}}")
        for literal, name, _, _ in parts
    )


def _literal(text: str) -> str:
    """`text` as it must be written in a template to come out unchanged."""
    return text.replace("{", "{{").replace("}", "}}")


def parse_url_template(value: object, at: At) -> str:
    return _template(parse_url(value, at), at)


def parse_command(value: object, at: At) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(arg, str) and arg for arg in value):
        raise wrong_type(value, "non-empty array of str", at, f'write {at.key} = ["program", "arg", ...]')
    return tuple(_command_arg(arg, index, at) for index, arg in enumerate(value))


def _command_arg(arg: str, index: int, at: At) -> str:
    """An argument that names a file or directory beside the config file becomes its absolute path.

    The program itself only when written as a path (`./srv`, `bin/srv`): a bare `node` is looked up
    on PATH. Options (`-x`, `--flag`) and arguments with placeholders are left as written.
    """
    text = _template(arg, at)
    if text != arg or "{" in arg or arg.startswith("-") or (index == 0 and "/" not in arg):
        return text
    path = at.resolve(arg)
    return _literal(str(path)) if path.exists() else arg


def parse_env(value: object, at: At) -> dict[str, str]:
    table = parse_table(value, at)
    for name, text in table.items():
        if not isinstance(text, str):
            raise wrong_type(text, "str", at, f'quote every value: {at.key} = {{ {toml_key(name)} = "..." }}')
    return {name: _template(text, at) for name, text in table.items()}


def parse_specs_dir(value: object, at: At) -> str:
    # The directory cannot be defined in terms of itself.
    text = _template(parse_str(value, at), at, _PLACEHOLDERS - {"specs_dir"})
    if text.startswith("{") and not text.startswith("{{"):
        return text  # starts with a run's path, so it is absolute once expanded
    text = text if Path(text).is_absolute() else _literal(str(at.file.parent)) + "/" + text
    if not any(name for _, name, _, _ in string.Formatter().parse(text)):
        fixed = Path(text.format())  # the same directory for every run: snapshotted before and after each
        refuse_system_tree(fixed, at)
        if fixed.is_dir():
            bounded_tree(fixed, at)
    return text


# --- check settings --------------------------------------------------------------------------------


def parse_fraction(value: object, at: At) -> float:
    number: float = parse_number(0, inclusive=True)(value, at)
    if number > 1:
        raise at.error(f"must be between 0 and 1, got {value}", f"write a fraction: {at.key} = 0.7 means 70%")
    return number


def _phrase(value: object, at: At) -> str:
    """A word, phrase or regular expression matched against the tree (`_text.phrase_pattern`)."""
    if not isinstance(value, str) or not value.strip():
        raise wrong_type(value, "non-empty str", at, 'write each one in double quotes, e.g. "billing"')
    try:
        phrase_pattern(value)
    except re.error as exc:
        fix = "fix the regular expression, or write plain words (they match whole words)"
        raise at.error(f"bad regular expression {json.dumps(value)}: {exc}", fix) from None
    return value


def parse_phrases(value: object, at: At) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise wrong_type(value, "array of str", at, f'write {at.key} = ["billing", "payment"]')
    return tuple(_phrase(item, at.at(f"{at.key}[{i}]")) for i, item in enumerate(value))


def parse_reference_features(value: object, at: At) -> tuple[dict[str, Any], ...]:
    fix = f'write {at.key} = [{{ name = "undo", aliases = ["revert"] }}, ...]'
    if not isinstance(value, list):
        raise wrong_type(value, "array of tables", at, fix)
    return tuple(_reference(entry, at.at(f"{at.key}[{i}]"), fix) for i, entry in enumerate(value))


def _reference(entry: object, at: At, fix: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise wrong_type(entry, "table", at, fix)
    unknown = sorted(set(entry) - {"name", "aliases"})
    if unknown:
        raise at.error(f"unknown key {unknown[0]}", "an entry has only name and aliases")
    if "name" not in entry:
        raise at.error("has no name", fix)
    aliases = parse_phrases(entry.get("aliases", []), at.at(f"{at.key}.aliases"))
    return {"name": _phrase(entry["name"], at.at(f"{at.key}.name")), "aliases": aliases}
