"""Find specbench.toml and load it into the dataclasses of `settings.py`.

The value parsers and the tables of keys are in `keys.py`; this module finds the file,
reads the TOML, checks the sections and ids, and builds a `Config`. Every problem is a
`ConfigError` naming the file, the table, the key and the fix.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_specbench.config.gate import GateTolerances
from pytest_specbench.config.keys import (
    MAX_REPEATS,
    PROVIDERS,
    At,
    absolute,
    bounded_tree,
    describe,
    parse_table,
    suggest,
    toml_key,
)
from pytest_specbench.config.schema import (
    BRIEF_KEYS,
    CONTEXT_KEYS,
    DEFAULTS_KEYS,
    GATE_KEYS,
    MODEL_KEYS,
    RUN_KEYS,
    SCAFFOLD_KEYS,
    SESSION_GATE_KEYS,
    Dest,
    parse_gate,
    parse_keys,
)
from pytest_specbench.config.settings import (
    BARE,
    BUILTIN_CONTEXTS,
    BUILTIN_SCAFFOLDS,
    CONTEXT_PARAMETERS,
    BriefConfig,
    Config,
    ContextConfig,
    ModelConfig,
    Provider,
    ProviderExtras,
    ScaffoldConfig,
    ScaffoldTool,
    run_id,
)
from pytest_specbench.errors import ConfigError

__all__ = ["DEFAULT_CONFIG", "check_min_passes", "check_option_paths", "find_config", "load_config"]

DEFAULT_CONFIG = Path("evals", "specbench.toml")
"""Where the config is looked for under rootdir when no option names one."""

_SECTIONS = ("defaults", "models", "briefs", "scaffolds", "contexts", "gate")
_ID = re.compile(r"[A-Za-z0-9._-]+")
MAX_ID = 64
"""Characters of a model, brief, scaffold or context id: together they name a test and its files."""
_TOML_POSITION = re.compile(r"line (\d+), column (\d+)")


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
    return absolute(rootdir / DEFAULT_CONFIG)


def _named_file(path: Path, option: str, relative_to: str) -> Path:
    path = absolute(path)
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(
            str(path),
            "",
            f"{option} points at a file that {problem}",
            f"fix the path (relative to {relative_to}), or drop {option} to use {DEFAULT_CONFIG}",
        )
    return path


def check_option_paths(cassettes: Path | None, html: Path | None, report: Path | None = None) -> None:
    """`--specbench-cassettes` and `--specbench-report` must be directories and `--specbench-html` a
    file, or not exist yet: found at the start, not when the first recording, transcript or page is
    written after a live run."""
    for path, option, name in (
        (cassettes, "cassettes", "the cassettes'"),
        (report, "report", "the report's"),
    ):
        if path is not None and path.exists() and not path.is_dir():
            raise ConfigError(
                str(path), "", f"--specbench-{option} names a file, not a directory", f"name {name} directory"
            )
    if html is not None and html.exists() and not html.is_file():
        raise ConfigError(
            str(html),
            "",
            "--specbench-html names a directory or a special file",
            "name the page, e.g. report.html",
        )


# --- tables -----------------------------------------------------------------------------------------


def _require(fields: Mapping[str, object], key: str, at: At, fix: str) -> None:
    if key not in fields:
        raise at.at(key).error("required key is missing", fix)


def _model(model_id: str, raw: Mapping[str, object], at: At) -> ModelConfig:
    parsed = parse_keys(raw, MODEL_KEYS, at)
    fields = parsed[Dest.FIELD]
    _require(fields, "provider", at, f'add provider = "openai" (valid providers: {PROVIDERS})')
    provider: Provider = fields["provider"]
    for key in raw:
        only = MODEL_KEYS[key].provider
        if only is not None and only is not provider:
            raise at.at(key).error(
                f'only applies to provider "{only}"', f'remove it, or set provider = "{only}"'
            )
    if provider is Provider.LLAMACPP:
        # The plugin's own llama.cpp server serves one model whatever it is called.
        fields.setdefault("model", model_id)
    _require(fields, "model", at, 'add model = "<the name the server serves it under>"')
    prices = [key for key in ("price_input_per_mtok", "price_output_per_mtok") if key in fields]
    if len(prices) == 1:
        other = "price_output_per_mtok" if prices[0] == "price_input_per_mtok" else "price_input_per_mtok"
        raise at.at(prices[0]).error(f"is set without {other}", f"add {other} (USD per million tokens)")
    extra = ProviderExtras(**parsed[Dest.EXTRA])
    model = ModelConfig(id=model_id, **fields, overrides=parsed[Dest.SETTINGS], extra=extra)
    _check_thinking(model.extra, model.max_tokens, at)
    return model


def _check_thinking(extra: ProviderExtras, max_tokens: int, at: At) -> None:
    """Claude's thinking keys agree with each other and with max_tokens, as the API requires."""
    mode, budget = extra.thinking, extra.thinking_budget_tokens
    if mode == "enabled" and budget is None:
        raise at.at("thinking").error(
            '"enabled" needs a budget',
            'add thinking_budget_tokens = 4096 (at least 1024), or set thinking = "adaptive"',
        )
    if mode == "adaptive" and budget is not None:
        raise at.at("thinking_budget_tokens").error(
            "adaptive thinking takes no budget (the model decides how much to think)",
            'remove it (set effort = "low" to think less), or set thinking = "enabled"',
        )
    if extra.interleaved_thinking and budget is None:
        raise at.at("interleaved_thinking").error(
            "applies to thinking with a budget (adaptive thinking interleaves on its own)",
            "add thinking_budget_tokens, or remove interleaved_thinking",
        )
    # Interleaved, the budget spans every thinking block of the turn and may exceed max_tokens.
    if budget is not None and budget >= max_tokens and not extra.interleaved_thinking:
        raise at.at("thinking_budget_tokens").error(
            f"{budget} is not under max_tokens = {max_tokens} (thinking counts toward max_tokens)",
            f"raise max_tokens above {budget}, or lower thinking_budget_tokens",
        )


def _one_of(raw: Mapping[str, object], key: str, at: At, fix: str) -> None:
    if key in raw and f"{key}_file" in raw:
        raise at.error(f"both {key} and {key}_file are set", f"keep exactly one: {fix}")


def _brief(brief_id: str, raw: Mapping[str, object], at: At) -> BriefConfig:
    prompt_fix = f'set prompt_file = "briefs/{brief_id}.md" or prompt = "..."'
    _one_of(raw, "prompt", at, prompt_fix)
    _one_of(raw, "system_prompt", at, 'set system_prompt_file = "system.md" or system_prompt = "..."')
    parsed = parse_keys(raw, BRIEF_KEYS, at)
    fields = parsed[Dest.FIELD]
    _require(fields, "codebase", at, 'add codebase = "codebases/<dir>" (a directory relative to this file)')
    if "prompt" not in fields:
        raise at.error("neither prompt nor prompt_file is set", prompt_fix)
    if "min_feature_recall" in parsed[Dest.EXTRA] and not parsed[Dest.EXTRA].get("reference_features"):
        raise at.at("min_feature_recall").error(
            "has no reference_features to measure recall against",
            'add reference_features = [{ name = "...", aliases = ["..."] }], or remove min_feature_recall',
        )
    brief = BriefConfig(id=brief_id, **fields, overrides=parsed[Dest.SETTINGS], extra=parsed[Dest.EXTRA])
    bounded_tree(brief.codebase, at.at("codebase"), brief.max_codebase_files, brief.max_codebase_mib)
    return brief


def _scaffold(scaffold_id: str, raw: Mapping[str, object], at: At) -> ScaffoldConfig:
    # A comparison against bare means nothing if bare can be given tools.
    _refuse_builtin(scaffold_id, BUILTIN_SCAFFOLDS, "scaffold", "scaffolds", at)
    fields = parse_keys(raw, SCAFFOLD_KEYS, at)[Dest.FIELD]
    _require(fields, "tools", at, 'add tools = ["todo", "plan", "notes"] (any of them)')
    if fields.get("remind") and ScaffoldTool.TODO not in fields["tools"]:
        raise at.at("remind").error(
            "reminds the model of its todo list, which this scaffold does not offer",
            'add "todo" to tools, or set remind = false',
        )
    return ScaffoldConfig(id=scaffold_id, **fields)


def _refuse_builtin(table_id: str, builtins: Mapping[str, object], kind: str, section: str, at: At) -> None:
    """A built-in id cannot be a table of the user's: the effect sections compare against them."""
    if table_id in builtins:
        raise at.error(
            f'"{table_id}" is a built-in {kind} and cannot be redefined',
            f"give yours another id, e.g. [{section}.my-{table_id}]",
        )


def _context(context_id: str, raw: Mapping[str, object], at: At) -> ContextConfig:
    # A comparison against full means nothing if full can be redefined.
    _refuse_builtin(context_id, BUILTIN_CONTEXTS, "context strategy", "contexts", at)
    fields = parse_keys(raw, CONTEXT_KEYS, at)[Dest.FIELD]
    _require(fields, "strategy", at, 'add strategy = "mask" (or "full", "summary", "native")')
    strategy = fields["strategy"]
    for key in sorted(set(fields) - {"strategy", *CONTEXT_PARAMETERS[strategy]}):
        used = ", ".join(CONTEXT_PARAMETERS[strategy]) or "none"
        raise at.at(key).error(
            f'does nothing under strategy = "{strategy}" (which reads: {used})',
            f"remove {key}, or set the strategy that reads it",
        )
    return ContextConfig(id=context_id, **fields)


_EXAMPLES = {
    "models": 'add one, e.g. [models.gpt-4o-mini] with provider = "openai" and model = "gpt-4o-mini"',
    "briefs": 'add one, e.g. [briefs.todo-app] with codebase = "codebases/todo-app" and prompt = "..."',
    "scaffolds": 'add one, e.g. [scaffolds.todo-only] with tools = ["todo"], or remove [scaffolds]',
    "contexts": 'add one, e.g. [contexts.mask-4] with strategy = "mask" and keep_last = 4, or remove it',
}


def _section(doc: Mapping[str, Any], name: str, file: Path) -> dict[str, Mapping[str, object]]:
    """The `[models.*]` or `[briefs.*]` tables, each under a valid id."""
    at = At(file, name)
    tables: dict[str, Any] = doc.get(name, {})
    if not tables:
        raise at.error(f"no {name} defined", _EXAMPLES[name])
    for table_id, table in tables.items():
        if not isinstance(table, dict):
            fix = f"put each entry in its own table: [{name}.<id>] with its keys below the header"
            raise at.at(table_id).error(f"expected a table, got {describe(table)}", fix)
        _check_id(table_id, _table_at(file, name, table_id))
    return tables


def _table_at(file: Path, section: str, table_id: str) -> At:
    return At(file, f"{section}.{toml_key(table_id)}")


def _check_id(table_id: str, at: At) -> None:
    if len(table_id) > MAX_ID:
        raise at.error(
            f"id of {len(table_id)} characters, more than {MAX_ID} (ids name test ids and files)",
            f"shorten it to {MAX_ID} characters or fewer",
        )
    if _ID.fullmatch(table_id):
        return
    section = at.table.partition(".")[0]
    better = re.sub(r"[^A-Za-z0-9._-]+", "-", table_id).strip("-") or "my-id"
    raise at.error(
        f"id {json.dumps(table_id, ensure_ascii=False)} may only use letters, digits, '.', '_' and '-' "
        "(ids become pytest ids and snapshot file names)",
        f"rename it, e.g. [{section}.{toml_key(better)}]",
    )


def _check_top_level(doc: Mapping[str, Any], file: Path) -> None:
    for key, value in doc.items():
        at = At(file, "", key)
        if key not in _SECTIONS:
            kind = "table" if isinstance(value, dict) else "key"
            raise at.error(f"unknown top-level {kind}", _top_level_fix(key))
        parse_table(value, at)


def _top_level_fix(key: str) -> str:
    if key in RUN_KEYS:
        return "move it under [defaults]"
    tables = "the tables are [defaults], [models.<id>], [briefs.<id>], [scaffolds.<id>], [contexts.<id>]"
    tables += " and [gate]"
    return suggest(key, list(_SECTIONS), tables)


_Run = tuple[str, str, str]


def check_min_passes(config: Config, repeats: int | None = None) -> None:
    """`min_passes` cannot exceed the samples taken (`repeats`, or the `--specbench-repeats` override)."""
    if repeats is not None and repeats > MAX_REPEATS:
        raise ConfigError(
            str(config.path),
            "",
            f"--specbench-repeats={repeats} is more than {MAX_REPEATS}",
            "take fewer samples",
        )
    for model, brief in itertools.product(config.models.values(), config.briefs.values()):
        settings = config.settings_for(model, brief)
        samples = repeats or settings.repeats
        if settings.min_passes is not None and settings.min_passes > samples:
            where = f"--specbench-repeats={repeats}" if repeats else f"repeats = {samples}"
            raise _table_at(config.path, "models", model.id).error(
                f"min_passes = {settings.min_passes} for brief {brief.id!r} is more than the {where} samples",
                "lower min_passes, or take more samples",
            )


def _check_baseline_models(config: Config) -> None:
    for model in config.models.values():
        incumbent = model.baseline_model
        if incumbent is not None and (incumbent not in config.models or incumbent == model.id):
            others = [m for m in config.models if m != model.id]
            problem = "names the model itself" if incumbent == model.id else f"unknown model {incumbent!r}"
            raise (
                _table_at(config.path, "models", model.id)
                .at("baseline_model")
                .error(
                    problem,
                    suggest(incumbent, others, f"name another model: {', '.join(others) or '(none)'}"),
                )
            )


def _check_cost_limits(config: Config) -> None:
    """A cost limit on a model without prices could never stop anything: say so at load time."""
    for model, brief in itertools.product(config.models.values(), config.briefs.values()):
        limit = config.settings_for(model, brief).max_cost_usd
        if limit is not None and model.prices is None:
            raise _table_at(config.path, "models", model.id).error(
                f"max_cost_usd = {limit:g} applies to its runs (brief {brief.id!r}), but it has no prices",
                "add price_input_per_mtok and price_output_per_mtok (USD per million tokens) to this table",
            )


def _check_temperatures(config: Config) -> None:
    """A model that takes only its default temperature must not be sent another: fail at load, not with
    a 400 in every run."""
    for model, brief in itertools.product(config.models.values(), config.briefs.values()):
        temperature = config.settings_for(model, brief).temperature
        if not model.fixed_temperature or temperature is None or temperature == 1:
            continue
        where = _temperature_source(config, model, brief)
        why = (
            "Claude with thinking on" if model.provider is Provider.ANTHROPIC else "an OpenAI reasoning model"
        )
        raise ConfigError(
            str(config.path),
            where,
            f"temperature: {temperature:g} applies to model {model.id!r} (brief {brief.id!r}), "
            f"but {why} accepts only its default temperature",
            f'set temperature = "unset" in [models.{toml_key(model.id)}] (a model table wins over '
            "[defaults] and briefs), or remove it",
        )


def _temperature_source(config: Config, model: ModelConfig, brief: BriefConfig) -> str:
    if "temperature" in model.overrides:
        return f"models.{toml_key(model.id)}"
    if "temperature" in brief.overrides:
        return f"briefs.{toml_key(brief.id)}"
    return "defaults"


def _check_test_ids(config: Config) -> None:
    """`run_id` must name one run, or two runs would share a test id and a snapshot.

    Every scaffold counts, selected or not, so that a config that loads is good for any
    `--specbench-scaffolds`.
    """
    seen: dict[str, _Run] = {}
    for run in itertools.product(config.models, config.briefs, config.scaffolds):
        test_id = run_id(*run)
        first = seen.setdefault(test_id, run)
        if first != run:
            raise _ambiguous(test_id, first, run, config.path)
    _check_context_ids(config, seen)


def _check_context_ids(config: Config, seen: dict[str, _Run]) -> None:
    """A context strategy's suffix must not make one run's id another's either."""
    for run, context in itertools.product(list(seen.values()), config.contexts):
        test_id = run_id(*run, context)
        first = seen.setdefault(test_id, run)
        if first != run and context != "full":
            raise _table_at(config.path, "contexts", context).error(
                f'makes test id "{test_id}" ambiguous: {_run_words(run)} under it is {_run_words(first)}',
                f'rename [contexts.{toml_key(context)}], e.g. to "{context.replace("-", "_")}"',
            )


def _ambiguous(test_id: str, first: _Run, second: _Run, file: Path) -> ConfigError:
    model = max(first[0], second[0], key=len)
    brief = max(first[1], second[1], key=len)
    custom = [s for s in (first[2], second[2]) if s not in BUILTIN_SCAFFOLDS]
    runs = " and ".join(_run_words(run) for run in (first, second))
    also = f' or scaffold "{custom[0]}"' if custom else ""
    example = next((name for name in (model, brief) if "-" in name), model)
    return ConfigError(
        str(file),
        f"models.{toml_key(model)}",
        f'test id "{test_id}" is ambiguous: {runs} both produce it',
        f'rename model "{model}" or brief "{brief}"{also}, e.g. to "{example.replace("-", "_")}"',
    )


def _run_words(run: _Run) -> str:
    model, brief, scaffold = run
    words = f'model "{model}" with brief "{brief}"'
    return words if scaffold == BARE.id else f'{words} and scaffold "{scaffold}"'


# --- loading ----------------------------------------------------------------------------------------


def _read_toml(file: Path) -> dict[str, Any]:
    at = At(file, "")
    if file.exists() and not file.is_file():  # a FIFO would block the read
        raise at.error("not a regular file", "point --specbench-config at your specbench.toml")
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
    file = absolute(path)
    doc = _read_toml(file)
    _check_top_level(doc, file)
    raw_defaults = doc.get("defaults", {})
    _one_of(raw_defaults, "system_prompt", At(file, "defaults"), "keep system_prompt or system_prompt_file")
    defaults = parse_keys(raw_defaults, DEFAULTS_KEYS, At(file, "defaults"))
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
    contexts = {
        key: _context(key, raw, _table_at(file, "contexts", key))
        for key, raw in (_section(doc, "contexts", file) if "contexts" in doc else {}).items()
    }
    gate = GateTolerances(
        **parse_gate(doc.get("gate", {}), At(file, "gate"), {**GATE_KEYS, **SESSION_GATE_KEYS})
    )
    config = Config(
        file,
        models,
        briefs,
        defaults[Dest.SETTINGS],
        scaffolds={**BUILTIN_SCAFFOLDS, **scaffolds},
        gate=gate,
        contexts={**BUILTIN_CONTEXTS, **contexts},
        system_prompt=defaults[Dest.EXTRA].get("system_prompt"),
    )
    _check_test_ids(config)
    _check_cost_limits(config)
    _check_temperatures(config)
    _check_baseline_models(config)
    check_min_passes(config)
    _check_brief_ids(config)
    return config


def _check_brief_ids(config: Config) -> None:
    for model in config.models.values():
        for brief_id in model.briefs:
            if brief_id not in config.briefs:
                at = _table_at(config.path, "models", model.id).at("briefs")
                fix = suggest(brief_id, list(config.briefs), f"known briefs: {', '.join(config.briefs)}")
                raise at.error(f"names no brief: {json.dumps(brief_id)}", fix)
