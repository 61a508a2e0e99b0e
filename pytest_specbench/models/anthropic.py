"""The Messages API through `anthropic.AsyncAnthropic`.

Extended thinking (`thinking_budget_tokens`, or `thinking = "adaptive"` with an `effort`;
`interleaved_thinking` sends the beta header that lets a Claude 4 model think between tool calls) comes
back as `thinking` blocks with an opaque signature, and `redacted_thinking` blocks with encrypted
data; both become `AssistantTurn.reasoning` and go back unchanged, first in the assistant turn,
with the tool results: the API refuses a tool-use turn that lost its thinking block. Claude's
thinking tokens are inside `output_tokens`; the API does not count them apart.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from typing import Literal, TypeAlias

import anthropic
import httpx2
from anthropic import Omit, omit
from anthropic.types import (
    ContentBlockParam,
    InputJSONDelta,
    MessageParam,
    OutputConfigParam,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStreamEvent,
    RedactedThinkingBlock,
    SignatureDelta,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingConfigParam,
    ThinkingDelta,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
)
from anthropic.types import Message as AnthropicMessage

from ..config.settings import (
    FULL_CONTEXT,
    ContextConfig,
    ContextStrategy,
    ModelConfig,
    Provider,
    ProviderExtras,
    RunSettings,
)
from ._errors import (
    NO_KEY,
    ErrorContext,
    UnexpectedResponse,
    counting_attempts,
    http_client,
    resend_broken_streams,
    tool_call,
)
from .types import (
    AssistantMessage,
    AssistantTurn,
    Message,
    Reasoning,
    StopReason,
    ToolCall,
    ToolResult,
    ToolResultsMessage,
    ToolSpec,
    Usage,
    UserMessage,
)

__all__ = ["AnthropicMessagesClient"]

EMPTY_TURN = "(no answer)"
"""Replayed for an assistant turn with neither text nor tool calls: the API refuses empty content."""

_STOP_REASONS: dict[str, StopReason] = {
    "tool_use": "tool_use",
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
}
_BASE_URL_HINT = "is base_url the API root (the SDK adds /v1/messages)?"
_FAILURES = (anthropic.AnthropicError, httpx2.HTTPError, json.JSONDecodeError, UnexpectedResponse)

_Role: TypeAlias = Literal["user", "assistant"]
_INTERLEAVED = "interleaved-thinking-2025-05-14"
_CONTEXT_MANAGEMENT = "context-management-2025-06-27"
CLEAR_TOOL_USES = "clear_tool_uses_20250919"
"""Anthropic's context edit that the `native` strategy asks for."""


class AnthropicMessagesClient:
    """A `ModelClient` over the Messages API; JSON or streamed, as `ModelConfig.stream` says.

    `temperature` goes in the request body through `extra_body`: this SDK has no parameter
    for it, and a server left to its default samples at its own (0.8 on llama-server). With
    thinking on it is None and left out: the API takes only its default then.
    """

    def __init__(
        self,
        model: ModelConfig,
        settings: RunSettings,
        api_key: str | None,
        context: ContextConfig = FULL_CONTEXT,
    ) -> None:
        """Build the SDK client; `aclose()` releases it.

        Args:
            model: the model's table; `base_url` has no `/v1` (the SDK appends `/v1/messages`).
            settings: `request_timeout_s`, `max_retries` and `temperature` are used.
            api_key: the key, or None for a server that takes none.
            context: under `native`, every request asks the API to clear old tool results itself
                (context editing); any other strategy is the loop's and changes nothing here.
        """
        if model.provider is Provider.LLAMACPP and model.base_url is None:
            raise ValueError(f"model {model.id!r}: a llamacpp model needs the base_url of its started server")
        self._model = model
        self._max_retries = settings.max_retries
        self._sampling = {} if settings.temperature is None else {"temperature": settings.temperature}
        self._thinking = thinking_param(model.extra)
        self._native = context if context.strategy is ContextStrategy.NATIVE else None
        betas = [_INTERLEAVED] if model.extra.interleaved_thinking else []
        betas += [_CONTEXT_MANAGEMENT] if self._native else []
        self._headers = {"anthropic-beta": ",".join(betas)} if betas else {}
        effort = model.extra.effort
        self._output: OutputConfigParam | Omit = {"effort": effort} if effort else omit
        self._sdk = anthropic.AsyncAnthropic(
            api_key=api_key or NO_KEY,
            base_url=model.base_url,
            max_retries=settings.max_retries,
            timeout=settings.request_timeout_s,
            http_client=http_client(settings.request_timeout_s),
        )
        self._errors = ErrorContext.for_client(model, settings, self._sdk.base_url, api_key, _BASE_URL_HINT)

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        """Send the conversation and return the model's next turn (see `ModelClient`)."""
        params = _messages(messages)
        tool_params = [_tool(spec) for spec in tools]
        body = {**self._sampling, **context_management(self._native, tools)}
        with counting_attempts() as attempts:
            try:
                if self._model.stream:
                    send = functools.partial(self._stream, system, params, tool_params, body)
                    turn = await resend_broken_streams(send, attempts, self._max_retries)
                else:
                    turn = await self._complete(system, params, tool_params, body)
            except _FAILURES as err:
                raise self._errors.explain(err, attempts.retries) from err
        return replace(turn, retries=attempts.retries)

    async def aclose(self) -> None:
        """Close the SDK client and its connections."""
        await self._sdk.close()

    async def _complete(
        self, system: str, messages: list[MessageParam], tools: list[ToolParam], body: dict[str, object]
    ) -> AssistantTurn:
        message = await self._sdk.messages.create(
            model=self._model.model,
            max_tokens=self._model.max_tokens,
            system=system or omit,
            messages=messages,
            tools=tools or omit,
            thinking=self._thinking,
            output_config=self._output,
            extra_body=body,
            extra_headers=self._headers,
        )
        return _turn(message)

    async def _stream(
        self, system: str, messages: list[MessageParam], tools: list[ToolParam], body: dict[str, object]
    ) -> AssistantTurn:
        # Raw events rather than the SDK's `stream()` helper: the helper raises on tool input
        # that is not valid JSON, which is the model's mistake to report, not a failed request.
        stream = await self._sdk.messages.create(
            model=self._model.model,
            max_tokens=self._model.max_tokens,
            system=system or omit,
            messages=messages,
            tools=tools or omit,
            stream=True,
            thinking=self._thinking,
            output_config=self._output,
            extra_body=body,
            extra_headers=self._headers,
        )
        answer = _StreamedMessage()
        async with stream:
            async for event in stream:
                answer.add(event)
        if not answer.started:
            content_type = stream.response.headers.get("content-type", "none")
            raise UnexpectedResponse(
                f"the streamed answer held no message_start event (content-type {content_type})"
            )
        return answer.turn()


def context_management(native: ContextConfig | None, tools: list[ToolSpec]) -> dict[str, object]:
    """The request's `context_management` under the `native` strategy (else nothing): clear the
    results of read-only tools older than the last `keep_last`, past `trigger_tokens` when set.
    Tools that write are excluded, so the ids they returned survive, as under `mask`."""
    if native is None:
        return {}
    edit: dict[str, object] = {
        "type": CLEAR_TOOL_USES,
        "keep": {"type": "tool_uses", "value": native.keep_last},
        "exclude_tools": sorted(spec.name for spec in tools if not spec.read_only),
    }
    if native.trigger_tokens is not None:
        edit["trigger"] = {"type": "input_tokens", "value": native.trigger_tokens}
    return {"context_management": {"edits": [edit]}}


def applied_edits(response: object) -> str:
    """What the API's context editing cleared before it answered, in words ('' when nothing):
    the `context_management` of a message, or of a stream's `message_delta`."""
    managed = _extra(response, "context_management")
    edits = managed.get("applied_edits") if isinstance(managed, dict) else None
    parts = []
    for edit in edits if isinstance(edits, list) else []:
        if isinstance(edit, dict) and edit.get("type") == CLEAR_TOOL_USES:
            uses, tokens = int(edit.get("cleared_tool_uses") or 0), int(edit.get("cleared_input_tokens") or 0)
            parts.append(f"the API cleared {uses} tool results ({tokens:,} input tokens)")
    return "; ".join(parts)


def _extra(model: object, name: str) -> object:
    """A field the non-beta types do not declare, as the SDK kept it (pydantic's extras), as plain data."""
    value = getattr(model, name, None)
    if value is None:
        value = (getattr(model, "model_extra", None) or {}).get(name)
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else value


def thinking_param(extra: ProviderExtras) -> ThinkingConfigParam | Omit:
    """The request's `thinking` from the model table: a budget, adaptive, or none (omitted)."""
    budget = extra.thinking_budget_tokens
    if budget is not None:
        return {"type": "enabled", "budget_tokens": budget}
    if extra.thinking == "adaptive":
        return {"type": "adaptive"}
    return omit


def _tool(spec: ToolSpec) -> ToolParam:
    return {"name": spec.name, "description": spec.description, "input_schema": spec.input_schema}


def _messages(messages: list[Message]) -> list[MessageParam]:
    turns: list[tuple[_Role, list[ContentBlockParam]]] = []
    for message in messages:
        role, blocks = _blocks(message)
        # The API wants user and assistant turns to alternate; tool results followed by a
        # user message (or the brief after a reminder) become one user turn.
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    return [_turn_param(role, blocks) for role, blocks in turns]


def _turn_param(role: _Role, blocks: list[ContentBlockParam]) -> MessageParam:
    if role == "user":
        return {"role": "user", "content": blocks}
    return {"role": "assistant", "content": blocks}


def _blocks(message: Message) -> tuple[_Role, list[ContentBlockParam]]:
    if isinstance(message, UserMessage):
        return "user", [{"type": "text", "text": message.text}]
    if isinstance(message, AssistantMessage):
        return "assistant", _assistant(message.turn)
    return "user", _results(message)


def _assistant(turn: AssistantTurn) -> list[ContentBlockParam]:
    # Thinking first, as it came: the API checks that a tool-use turn opens with its thinking block.
    blocks = [block for part in turn.reasoning if (block := _reasoning_param(part)) is not None]
    if turn.text:
        blocks.append({"type": "text", "text": turn.text})
    blocks.extend(_tool_use_param(call) for call in turn.tool_calls)
    return blocks or [{"type": "text", "text": EMPTY_TURN}]


def _reasoning_param(part: Reasoning) -> ContentBlockParam | None:
    """The block as it came; None for reasoning without a signature (another provider's), which
    the API would refuse as forged."""
    if part.redacted:
        return {"type": "redacted_thinking", "data": part.redacted}
    if part.signature:
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    return None


def _tool_use_param(call: ToolCall) -> ContentBlockParam:
    # The API only takes an object as input; broken arguments were already reported as such.
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments or {}}


def _results(message: ToolResultsMessage) -> list[ContentBlockParam]:
    blocks: list[ContentBlockParam] = [_result(result) for result in message.results]
    if message.reminder:
        blocks.append({"type": "text", "text": message.reminder})
    return blocks


def _result(result: ToolResult) -> ToolResultBlockParam:
    block: ToolResultBlockParam = {
        "type": "tool_result",
        "tool_use_id": result.call_id,
        "is_error": result.is_error,
    }
    if result.content:  # empty text is refused; a result without content is not
        block["content"] = result.content
    return block


def _turn(message: AnthropicMessage | str) -> AssistantTurn:
    # With a non-JSON content type the SDK hands back the body as text instead of raising.
    if not isinstance(message, AnthropicMessage):
        raise UnexpectedResponse(f"not JSON: {str(message)[:80]!r}")
    content = getattr(message, "content", None)
    if content is None:
        raise UnexpectedResponse("the answer has no `content`")
    return AssistantTurn(
        text="".join(block.text for block in content if isinstance(block, TextBlock)),
        tool_calls=tuple(_tool_use(block) for block in content if isinstance(block, ToolUseBlock)),
        usage=_usage(getattr(message, "usage", None)),
        stop_reason=_STOP_REASONS.get(message.stop_reason or "", "other"),
        raw_stop_reason=message.stop_reason or "",
        reasoning=tuple(
            _reasoning(block) for block in content if isinstance(block, ThinkingBlock | RedactedThinkingBlock)
        ),
        context_edits=applied_edits(message),
    )


def _reasoning(block: ThinkingBlock | RedactedThinkingBlock) -> Reasoning:
    if isinstance(block, RedactedThinkingBlock):
        return Reasoning("", redacted=block.data)
    return Reasoning(block.thinking, signature=block.signature)


def _usage(usage: object) -> Usage:
    """Usage with cached prompt tokens counted in: Anthropic's `input_tokens` excludes them."""
    if usage is None:
        return Usage()
    read = getattr(usage, "cache_read_input_tokens", None) or 0
    created = getattr(usage, "cache_creation_input_tokens", None) or 0
    uncached = getattr(usage, "input_tokens", None) or 0
    return Usage(uncached + read + created, getattr(usage, "output_tokens", None) or 0, read, created)


def _tool_use(block: ToolUseBlock) -> ToolCall:
    value: object = block.input
    if isinstance(value, dict):
        return tool_call(block.id, block.name, json.dumps(value))
    # Input that is not an object is refused, with the reason a streamed answer would give.
    raw = value if isinstance(value, str) else json.dumps(value)
    parsed = tool_call(block.id, block.name, raw)
    return replace(
        parsed, arguments=None, parse_error=parsed.parse_error or "arguments are a string, not a JSON object"
    )


def _merged(start: Usage, delta: Usage) -> Usage:
    # `input_tokens` includes the cache counts, so it is 0 only when the delta has no input side.
    base = delta if delta.input_tokens else start
    return replace(base, output_tokens=delta.output_tokens or start.output_tokens)


@dataclass(slots=True)
class _Block:
    kind: Literal["text", "tool_use", "thinking", "redacted_thinking"]
    text: str = ""
    signature: str = ""
    id: str = ""
    name: str = ""
    initial_input: object = None
    json_parts: list[str] = field(default_factory=list)

    def tool_call(self) -> ToolCall:
        raw = "".join(self.json_parts) or json.dumps(self.initial_input or {})
        return tool_call(self.id, self.name, raw)

    def reasoning(self) -> Reasoning:
        if self.kind == "redacted_thinking":
            return Reasoning("", redacted=self.text)
        return Reasoning(self.text, signature=self.signature)


@dataclass(slots=True)
class _StreamedMessage:
    """The events of one streamed answer, put back together into the turn a JSON answer gives."""

    blocks: dict[int, _Block] = field(default_factory=dict)
    started: bool = False
    stop_reason: str = ""
    usage: Usage = field(default_factory=Usage)
    context_edits: str = ""

    def add(self, event: RawMessageStreamEvent) -> None:
        if isinstance(event, RawMessageStartEvent):
            self.started = True
            self.usage = _usage(event.message.usage)
        elif isinstance(event, RawContentBlockStartEvent):
            self._start(event)
        elif isinstance(event, RawContentBlockDeltaEvent) and (block := self.blocks.get(event.index)):
            if isinstance(event.delta, TextDelta):
                block.text += event.delta.text
            elif isinstance(event.delta, ThinkingDelta):
                block.text += event.delta.thinking
            elif isinstance(event.delta, SignatureDelta):
                block.signature += event.delta.signature
            elif isinstance(event.delta, InputJSONDelta):
                block.json_parts.append(event.delta.partial_json)
        elif isinstance(event, RawMessageDeltaEvent):
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self.context_edits = applied_edits(event) or self.context_edits
            # Counts on message_delta are running totals, so those it has replace the start's.
            self.usage = _merged(self.usage, _usage(event.usage))

    def _start(self, event: RawContentBlockStartEvent) -> None:
        block = event.content_block
        if isinstance(block, TextBlock):
            self.blocks[event.index] = _Block("text", text=block.text)
        elif isinstance(block, ToolUseBlock):
            self.blocks[event.index] = _Block(
                "tool_use", id=block.id, name=block.name, initial_input=block.input
            )
        elif isinstance(block, ThinkingBlock):
            self.blocks[event.index] = _Block("thinking", text=block.thinking, signature=block.signature)
        elif isinstance(block, RedactedThinkingBlock):
            # Its data comes whole in the start event; no delta follows.
            self.blocks[event.index] = _Block("redacted_thinking", text=block.data)

    def turn(self) -> AssistantTurn:
        ordered = [self.blocks[index] for index in sorted(self.blocks)]
        return AssistantTurn(
            text="".join(block.text for block in ordered if block.kind == "text"),
            tool_calls=tuple(block.tool_call() for block in ordered if block.kind == "tool_use"),
            usage=self.usage,
            stop_reason=_STOP_REASONS.get(self.stop_reason, "other"),
            raw_stop_reason=self.stop_reason,
            reasoning=tuple(block.reasoning() for block in ordered if block.kind.endswith("thinking")),
            context_edits=self.context_edits,
        )
