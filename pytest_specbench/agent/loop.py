"""The agent loop: brief → model turn → tool calls → results → … until a final answer or a limit.

A plain async function over two seams: a `ModelClient` (the model) and a
`ToolSession` (the MCP tools). Infrastructure errors propagate; everything the
model does wrong becomes a tool error result that it sees, and the loop goes on.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from time import monotonic
from typing import Any, Protocol

import anyio

from pytest_specbench.agent.context import SUMMARY_REQUEST, ContextView, PromptWatch, prompt_tokens
from pytest_specbench.agent.transcript import (
    AssistantEvent,
    ContextEvent,
    MessageEvent,
    ReasoningEvent,
    StopEvent,
    ToolCallEvent,
    ToolErrorKind,
    Transcript,
)
from pytest_specbench.config.settings import FULL_CONTEXT, ContextConfig, cost_usd
from pytest_specbench.errors import ContextOverflow, InfrastructureError
from pytest_specbench.models.overflow import Overflow, overflow_in_reply
from pytest_specbench.models.types import (
    AssistantMessage,
    AssistantTurn,
    Message,
    ModelClient,
    ToolCall,
    ToolResult,
    ToolResultsMessage,
    ToolSpec,
    UserMessage,
)

__all__ = ["MAX_ARGUMENT_CHARS", "Limits", "StopCheck", "ToolOutcome", "ToolSession", "run_agent"]

MAX_ARGUMENT_CHARS = 100_000
"""Longer arguments are refused: no spec item needs them, and every later request would carry them."""

StopCheck = Callable[[Transcript], str | None]
"""Looks at the transcript after each turn; a non-None detail stops the run as a loop."""


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What a tool call returned."""

    content: str
    is_error: bool = False
    scaffold: bool = False
    """The tool is a scaffold tool (todo, plan, notes), not one of the spec server's."""


class ToolSession(Protocol):
    """The tools a run may call (an MCP client session, or several behind one face)."""

    async def list_tools(self) -> list[ToolSpec]:
        """The tools to offer the model."""
        ...

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call one tool; raises ServerError when the server is gone or hangs."""
        ...


@dataclass(frozen=True, slots=True)
class Limits:
    """When the loop gives up without a final answer."""

    max_turns: int
    timeout_s: float
    max_tool_calls: int | None = None
    max_total_tokens: int | None = None
    max_cost_usd: float | None = None
    prices: tuple[float, float] | None = None
    """(input, output) USD per million tokens, which `max_cost_usd` is counted in."""
    context_window: int | None = None
    """The model's window in tokens, when known (`models.overflow.context_window`): recorded per
    turn, and what a `length` stop at the window and a stalled prompt are judged against."""


async def run_agent(
    client: ModelClient,
    tools: ToolSession,
    *,
    system: str,
    prompt: str,
    limits: Limits,
    transcript: Transcript,
    stop_when: StopCheck | None = None,
    reminder: Callable[[], Awaitable[str]] | None = None,
    context: ContextConfig = FULL_CONTEXT,
) -> StopEvent:
    """Drive one run to its end and return how it ended; every step lands in `transcript`.

    A conversation that outgrows the model's window ends the run like a limit does (stop
    reason `context_window`), so its tree is judged; `context` says what of the conversation
    each request carries (`agent.context`).

    Raises:
        InfrastructureError: the model or the MCP server failed; the transcript keeps
            what happened before, closed by a `stop` event with reason `error`. Among them
            ContextOverflow when the first request already does not fit the window, and
            ContextTruncated when the server cut the conversation without saying so.
    """
    transcript.append(MessageEvent("system", system))
    transcript.append(MessageEvent("user", prompt))
    loop = _Loop(client, tools, system, limits, transcript, stop_when, reminder, context)
    try:
        stop = await loop.run(prompt)
    except InfrastructureError as exc:
        transcript.append(StopEvent("error", str(exc)))
        raise
    transcript.append(stop)
    return stop


@dataclass(slots=True)
class _Loop:
    client: ModelClient
    tools: ToolSession
    system: str
    limits: Limits
    transcript: Transcript
    stop_when: StopCheck | None
    reminder: Callable[[], Awaitable[str]] | None
    context: ContextConfig
    # Running totals for the limits, kept as events are appended: a rescan per turn is quadratic.
    turns: int = 0
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    prompt: str = ""
    view: ContextView | None = None
    watch: PromptWatch = field(default_factory=PromptWatch)
    last_prompt: int = 0
    """The prompt tokens of the last request, which the summary strategy measures."""
    masked: int = 0

    async def run(self, prompt: str) -> StopEvent:
        # The transcript may already hold turns (the limits count them): one scan, then counters.
        earlier = self.transcript.assistant_turns()
        self.turns, self.calls = len(earlier), len(self.transcript.tool_calls())
        self.tokens_in = sum(t.input_tokens for t in earlier)
        self.tokens_out = sum(t.output_tokens for t in earlier)
        specs = await self.tools.list_tools()
        self.prompt, window = prompt, self.limits.context_window
        self.view, self.watch = ContextView.of(self.context, specs, window), PromptWatch(window)
        messages: list[Message] = [UserMessage(prompt)]
        with anyio.move_on_after(self.limits.timeout_s):
            return await self._turns(specs, messages)
        return StopEvent("timeout", f"timeout_s={self.limits.timeout_s:g} reached during turn {self.turns}")

    async def _turns(self, specs: list[ToolSpec], messages: list[Message]) -> StopEvent:
        names = {spec.name for spec in specs}
        for turn in range(1, self.limits.max_turns + 1):
            reply = await self._request(turn, messages, specs)
            if isinstance(reply, StopEvent):
                return reply
            if not reply.tool_calls:
                return _last_word(turn, reply)
            results = [await self._call(turn, call, names) for call in reply.tool_calls]
            note = await self.reminder() if self.reminder else ""
            if note:
                self.transcript.append(MessageEvent("user", note))  # what the model was shown, as sent
            messages.append(ToolResultsMessage(tuple(results), reminder=note))
            if stop := self._limit_reached(turn):
                return stop
        return StopEvent("max_turns", f"max_turns={self.limits.max_turns} reached without a final answer")

    async def _request(
        self, turn: int, messages: list[Message], specs: list[ToolSpec]
    ) -> AssistantTurn | StopEvent:
        """One model turn on what the context strategy sends; a StopEvent when the window ran out."""
        try:
            await self._summarise(turn, messages, specs)
            reply = await self._generate(turn, self._sent(turn, messages), specs)
        except ContextOverflow as exc:
            return self._overflowed(turn, exc)
        messages.append(AssistantMessage(_replayable(reply)))
        if overflow := overflow_in_reply(reply, self.limits.context_window):
            return self._exhausted(turn, overflow)
        self.watch.check(turn, reply.usage)
        return reply

    async def _generate(self, turn: int, sent: list[Message], specs: list[ToolSpec]) -> AssistantTurn:
        started = monotonic()
        reply = await self.client.generate(self.system, sent, specs)
        seconds = monotonic() - started
        if reply.reasoning:
            redacted = sum(1 for part in reply.reasoning if part.redacted)
            self.transcript.append(ReasoningEvent(turn, _storable(reply.reasoning_text), redacted))
        if reply.context_edits:  # the provider's own editing (`native`): its prompt may fall now
            self.transcript.append(ContextEvent(turn, "native", reply.context_edits))
            self.watch.rewritten()
        self.transcript.append(_assistant_event(turn, reply, seconds, self.limits.context_window))
        self.turns += 1
        self.tokens_in += reply.usage.input_tokens
        self.tokens_out += reply.usage.output_tokens
        self.last_prompt = prompt_tokens(reply.usage)
        return reply

    def _sent(self, turn: int, messages: list[Message]) -> list[Message]:
        assert self.view is not None  # set by run()
        sent = self.view.messages(messages)
        if self.view.masked > self.masked:
            self.masked = self.view.masked
            results = "result" if self.masked == 1 else "results"
            detail = f"{self.masked} older {results} of read-only tools sent as one-line placeholders"
            self.transcript.append(ContextEvent(turn, "mask", detail, masked=self.masked))
            self.watch.rewritten()  # the prompt may fall now, by the harness's own doing
        return sent

    async def _summarise(self, turn: int, messages: list[Message], specs: list[ToolSpec]) -> None:
        """Under `summary`, once the last prompt filled its share of the window: the model's summary
        of the run replaces the conversation so far."""
        view = self.view
        if view is None or not view.wants_summary(self.last_prompt):
            return
        started, filled = monotonic(), self.last_prompt
        request = [*view.messages(messages), UserMessage(SUMMARY_REQUEST)]
        reply = await self.client.generate(self.system, request, specs)
        self.tokens_in += reply.usage.input_tokens
        self.tokens_out += reply.usage.output_tokens
        text = _storable(reply.text).strip()
        window = view.window or 1
        share = f"{filled:,} prompt tokens, {filled / window:.0%} of {window:,}"
        if text:
            view.summarised(messages, self.prompt, text)
            self.watch.rewritten()
            detail = f"turns 1–{turn - 1} summarised at {share}:\n{text}"
        else:
            view.gave_up = True
            detail = f"asked for a summary at {share}; the model gave none, the conversation goes on whole"
        usage = reply.usage
        self.transcript.append(
            ContextEvent(
                turn, "summary", detail, usage.input_tokens, usage.output_tokens, monotonic() - started
            )
        )
        self.last_prompt = 0

    def _overflowed(self, turn: int, exc: ContextOverflow) -> StopEvent:
        """The end of a run whose conversation outgrew the window; the first request not fitting is
        the configuration's fault, not the model's."""
        if turn == 1:
            fix = (
                "the first request already does not fit: the system prompt, the brief and the tools alone "
                "are too big — give the model a larger window (n_ctx, the server's context length) or a "
                "shorter brief"
            )
            raise ContextOverflow(f"{exc} — {fix}", tokens=exc.tokens, window=exc.window) from exc
        return self._exhausted(turn, Overflow(exc.tokens, exc.window, str(exc)))

    def _exhausted(self, turn: int, overflow: Overflow) -> StopEvent:
        if overflow.window is None and self.limits.context_window is not None:
            overflow = replace(overflow, window=self.limits.context_window)
        return StopEvent("context_window", f"context window exhausted at turn {turn}: {overflow.numbers()}")

    async def _call(self, turn: int, call: ToolCall, names: set[str]) -> ToolResult:
        started = monotonic()
        outcome, kind = await _dispatch(self.tools, call, names)
        self.transcript.append(
            ToolCallEvent(
                turn=turn,
                call_id=_storable(call.id),
                name=_storable(call.name),
                arguments=_storable(call.raw_arguments),
                result=_storable(outcome.content),
                is_error=outcome.is_error,
                seconds=monotonic() - started,
                error_kind=kind,
                scaffold=outcome.scaffold,
            )
        )
        self.calls += 1
        return ToolResult(call.id, call.name, outcome.content, outcome.is_error)

    def _limit_reached(self, turn: int) -> StopEvent | None:
        if self.limits.max_tool_calls is not None and self.calls >= self.limits.max_tool_calls:
            return StopEvent("max_tool_calls", f"max_tool_calls={self.limits.max_tool_calls} reached")
        token_cap, cost_cap = self.limits.max_total_tokens, self.limits.max_cost_usd
        if token_cap is not None and self.tokens_in + self.tokens_out >= token_cap:
            return StopEvent("max_total_tokens", f"max_total_tokens={token_cap} reached")
        cost = cost_usd(self.limits.prices, self.tokens_in, self.tokens_out)
        if cost_cap is not None and cost is not None and cost >= cost_cap:
            return StopEvent("max_cost_usd", f"max_cost_usd={cost_cap:g} reached (${cost:.4f})")
        if self.stop_when and (detail := self.stop_when(self.transcript)):
            return StopEvent("loop", f"stopped at turn {turn}: {detail}")
        return None


def _last_word(turn: int, reply: AssistantTurn) -> StopEvent:
    """How a turn without tool calls ends the run: a final answer, unless max_tokens cut it off."""
    if reply.stop_reason != "max_tokens":
        if reply.reasoning and not reply.text.strip():
            return StopEvent("final_answer", f"turn {turn} ended with reasoning and no answer")
        return StopEvent("final_answer", f"final answer at turn {turn}")
    word = reply.raw_stop_reason or reply.stop_reason
    return StopEvent(
        "max_tokens", f'turn {turn} was cut off by max_tokens (stop reason "{word}") — no final answer'
    )


async def _dispatch(
    tools: ToolSession, call: ToolCall, names: set[str]
) -> tuple[ToolOutcome, ToolErrorKind | None]:
    """Refuse what cannot be called; otherwise call the tool and classify its error, if any."""
    if call.arguments is None:
        text = f"Error: {call.parse_error or 'arguments are not a JSON object'}. Send a JSON object."
        return ToolOutcome(text, is_error=True), "invalid_json"
    if call.name not in names:
        text = f"Error: unknown tool {call.name!r}. Available tools: {', '.join(sorted(names))}."
        return ToolOutcome(text, is_error=True), "unknown_tool"
    if problem := _unsendable(call):
        return ToolOutcome(f"Error: {problem}.", is_error=True), "bad_arguments"
    outcome = await tools.call_tool(call.name, call.arguments)
    if not outcome.is_error:
        return outcome, None
    return outcome, "bad_arguments" if _is_validation_error(outcome.content) else "tool_error"


def _unsendable(call: ToolCall) -> str | None:
    """Why arguments that parsed cannot go to the server, if they cannot."""
    if len(call.raw_arguments) > MAX_ARGUMENT_CHARS:
        size, limit = len(call.raw_arguments), MAX_ARGUMENT_CHARS
        return f"the arguments are {size:,} characters long, over the limit of {limit:,}; send less"
    try:
        json.dumps(call.arguments, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        # A lone surrogate (from a "\ud800" escape): the MCP client cannot encode it and would fail.
        return f"the arguments are not valid Unicode text ({err.reason} at character {err.start}); send text"
    return None


def _storable(text: str) -> str:
    """`text` with lone surrogates spelled out as \\udxxx, so every file and report can hold it."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _replayable(reply: AssistantTurn) -> AssistantTurn:
    """The turn as it goes back to the provider: with a lone surrogate in it, no SDK could send it."""
    calls = tuple(
        replace(c, raw_arguments=_storable(c.raw_arguments), arguments=_storable_data(c.arguments))
        for c in reply.tool_calls
    )
    # Reasoning goes back as it came (a signature covers its exact text), unless it cannot be sent.
    reasoning = tuple(replace(part, text=_storable(part.text)) for part in reply.reasoning)
    return replace(reply, text=_storable(reply.text), tool_calls=calls, reasoning=reasoning)


def _storable_data(value: Any) -> Any:
    if isinstance(value, str):
        return _storable(value)
    if isinstance(value, dict):
        return {_storable(str(k)): _storable_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable_data(v) for v in value]
    return value


def _is_validation_error(message: str) -> bool:
    # The MCP SDK words schema violations this way (pydantic underneath); the
    # distinction is for stats only, so a heuristic is enough.
    lowered = message.lower()
    return "validation error" in lowered or "field required" in lowered or "missing required" in lowered


def _assistant_event(turn: int, reply: AssistantTurn, seconds: float, window: int | None) -> AssistantEvent:
    calls = tuple(
        {"id": _storable(c.id), "name": _storable(c.name), "arguments": _storable(c.raw_arguments)}
        for c in reply.tool_calls
    )
    return AssistantEvent(
        turn=turn,
        text=_storable(reply.text),
        tool_calls=calls,
        input_tokens=reply.usage.input_tokens,
        output_tokens=reply.usage.output_tokens,
        stop_reason=reply.raw_stop_reason or reply.stop_reason,
        seconds=seconds,
        retries=reply.retries,
        cache_read_input_tokens=reply.usage.cache_read_input_tokens,
        cache_creation_input_tokens=reply.usage.cache_creation_input_tokens,
        reasoning_tokens=reply.usage.reasoning_tokens,
        context_window=window,
    )
