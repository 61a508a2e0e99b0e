"""Chat Completions through `openai.AsyncOpenAI`: OpenAI itself and every OpenAI-compatible
server (LM Studio, Ollama, vLLM, llama.cpp).

A thinking model's reasoning arrives in `reasoning_content` (vLLM, LM Studio, llama-server with
`--reasoning-format`), in `reasoning` (Ollama, OpenRouter), or inline as `<think>…</think>`
before the answer (a server without a reasoning parser); all three become `AssistantTurn.reasoning`.

Past reasoning is never sent back. Chat Completions has no input field for it: OpenAI keeps a
reasoning model's thoughts server-side, Qwen3's and DeepSeek-R1's chat templates drop the
`reasoning_content` of earlier turns when they render the conversation, and DeepSeek's own API
refuses a request that carries it. The answer and the tool calls are what the model is shown.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2
import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionAssistantMessageParam,
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)
from openai.types.completion_usage import CompletionUsage

from ..config.settings import ModelConfig, Provider, RunSettings
from ._errors import (
    NO_KEY,
    ErrorContext,
    UnexpectedResponse,
    counting_attempts,
    http_client,
    resend_broken_streams,
    tool_call,
)
from ._reasoning import split_think
from .types import (
    AssistantMessage,
    AssistantTurn,
    Message,
    Reasoning,
    StopReason,
    ToolCall,
    ToolSpec,
    Usage,
    UserMessage,
)

__all__ = ["OpenAIChatClient"]

_STOP_REASONS: dict[str, StopReason] = {"tool_calls": "tool_use", "stop": "end_turn", "length": "max_tokens"}
_BASE_URL_HINT = "is base_url the API endpoint (ending in /v1 for most servers)?"
_FAILURES = (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError, UnexpectedResponse)


class OpenAIChatClient:
    """A `ModelClient` over Chat Completions; JSON or streamed, as `ModelConfig.stream` says."""

    def __init__(self, model: ModelConfig, settings: RunSettings, api_key: str | None) -> None:
        """Build the SDK client; `aclose()` releases it.

        Args:
            model: the model's table; `base_url` includes `/v1` (None means OpenAI itself).
            settings: `request_timeout_s`, `max_retries` and `temperature` (None: not sent) are used.
            api_key: the key, or None for a server that takes none.
        """
        if model.provider is Provider.LLAMACPP and model.base_url is None:
            raise ValueError(f"model {model.id!r}: a llamacpp model needs the base_url of its started server")
        self._model = model
        self._effort = model.extra.reasoning_effort
        self._temperature = settings.temperature
        self._max_retries = settings.max_retries
        self._sdk = openai.AsyncOpenAI(
            api_key=api_key or NO_KEY,
            base_url=model.base_url,
            max_retries=settings.max_retries,
            timeout=settings.request_timeout_s,
            http_client=http_client(settings.request_timeout_s),
        )
        self._errors = ErrorContext.for_client(model, settings, self._sdk.base_url, api_key, _BASE_URL_HINT)
        self._history = _EncodedHistory()

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        """Send the conversation and return the model's next turn (see `ModelClient`)."""
        encoded = self._history.encode(messages)
        functions = [_tool(spec) for spec in tools]
        with counting_attempts() as attempts:
            try:
                if self._model.stream:
                    body = self._body(system, encoded, functions, stream=True)
                    send = functools.partial(self._stream, body)
                    turn = await resend_broken_streams(send, attempts, self._max_retries)
                else:
                    turn = await self._complete(self._body(system, encoded, functions, stream=False))
            except _FAILURES as err:
                raise self._errors.explain(err, attempts.retries) from err
        return replace(turn, retries=attempts.retries)

    async def aclose(self) -> None:
        """Close the SDK client and its connections."""
        await self._sdk.close()

    # Through the client's `post` (the SDK's documented way to make any request: same retries,
    # timeouts and error types as `chat.completions.create`) with the body as JSON bytes: `create`
    # walks the whole history through its type transform on every request, which made a long
    # run's requests cost O(history) in Python; the bytes reuse each past message's encoding.
    async def _complete(self, body: bytes) -> AssistantTurn:
        completion = await self._sdk.post(
            _PATH, cast_to=ChatCompletion, content=body, options=_OPTIONS, stream=False
        )
        return _turn(completion)

    async def _stream(self, body: bytes) -> AssistantTurn:
        # Raw chunks rather than the SDK's `stream()` helper: the helper raises on
        # finish_reason "length", which is a stop reason here, not a failure.
        stream = await self._sdk.post(
            _PATH,
            cast_to=ChatCompletion,
            content=body,
            options=_OPTIONS,
            stream=True,
            stream_cls=openai.AsyncStream[ChatCompletionChunk],
        )
        answer = _StreamedAnswer()
        async with stream:
            async for chunk in stream:
                answer.add(chunk)
        if answer.chunks == 0:
            content_type = stream.response.headers.get("content-type", "none")
            raise UnexpectedResponse(f"the streamed answer held no events (content-type {content_type})")
        return answer.turn()

    def _body(
        self, system: str, history: list[bytes], tools: list[ChatCompletionFunctionToolParam], *, stream: bool
    ) -> bytes:
        """The request's JSON: the fields `create` would send, then the already encoded messages."""
        fields: dict[str, Any] = {"model": self._model.model}
        if stream:
            fields |= {"stream": True, "stream_options": {"include_usage": True}}
        if tools:
            # tool_choice explicit, because llama-cpp-python leaves tools out of the prompt without it.
            fields |= {"tools": tools, "tool_choice": "auto"}
        if self._temperature is not None:  # None: the model refuses any but its default
            fields["temperature"] = self._temperature
        if self._effort is not None:
            fields["reasoning_effort"] = self._effort
        fields["max_completion_tokens" if self._is_openai else "max_tokens"] = self._model.max_tokens
        first = [_encode({"role": "system", "content": system})] if system else []
        # One join: the history is most of a long run's body, so each extra copy of it counts.
        return b"".join([_encode(fields)[:-1], b',"messages":[', b",".join([*first, *history]), b"]}"])

    @property
    def _is_openai(self) -> bool:
        # OpenAI's newer models refuse `max_tokens`; compatible servers may not know its successor.
        return self._sdk.base_url.host == "api.openai.com"


_PATH = "/chat/completions"
_OPTIONS: openai.RequestOptions = {"security": {"bearer_auth": True}}
"""As `create` sends them: the API key as a bearer token."""


def _encode(value: object) -> bytes:
    # As the SDK serialises a body (openapi_dumps): compact, UTF-8, no NaN.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@dataclass(slots=True)
class _EncodedHistory:
    """Each message of the conversation as wire JSON, encoded once: past messages never change."""

    seen: list[Message] = field(default_factory=list)
    encoded: list[bytes] = field(default_factory=list)
    """The wire messages of `seen`, in order (a batch of tool results makes several)."""
    ends: list[int] = field(default_factory=list)
    """For each message of `seen`, where its wire messages end in `encoded`."""

    def encode(self, messages: list[Message]) -> list[bytes]:
        """The wire JSON of every message, encoding only those not seen before."""
        keep = 0
        for old, new in zip(self.seen, messages, strict=False):
            if old is not new:  # identity: a pointer test per message, and the messages are frozen
                break
            keep += 1
        del self.seen[keep:], self.ends[keep:], self.encoded[self.ends[-1] if self.ends else 0 :]
        for message in messages[keep:]:
            self.seen.append(message)
            self.encoded.extend(_encode(param) for param in _message(message))
            self.ends.append(len(self.encoded))
        return self.encoded


def _tool(spec: ToolSpec) -> ChatCompletionFunctionToolParam:
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description, "parameters": spec.input_schema},
    }


def _message(message: Message) -> list[ChatCompletionMessageParam]:
    if isinstance(message, UserMessage):
        return [{"role": "user", "content": message.text}]
    if isinstance(message, AssistantMessage):
        return [_assistant(message.turn)]
    params: list[ChatCompletionMessageParam] = [
        {"role": "tool", "tool_call_id": result.call_id, "content": result.content}
        for result in message.results
    ]
    if message.reminder:
        params.append({"role": "user", "content": message.reminder})
    return params


def _assistant(turn: AssistantTurn) -> ChatCompletionAssistantMessageParam:
    # Always a `content` key: llama.cpp's server answers HTTP 500 to an assistant message without one.
    param: ChatCompletionAssistantMessageParam = {"role": "assistant", "content": turn.text}
    if turn.tool_calls:
        param["tool_calls"] = [_call_param(call) for call in turn.tool_calls]
    return param


def _call_param(call: ToolCall) -> ChatCompletionMessageFunctionToolCallParam:
    # Servers that render the conversation through a chat template (llama.cpp, vLLM) parse
    # replayed arguments as JSON and fail on the model's own broken text, so that is sent as {}.
    arguments = call.raw_arguments if call.arguments is not None else "{}"
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}


def _turn(completion: ChatCompletion | str) -> AssistantTurn:
    # With a non-JSON content type the SDK hands back the body as text instead of raising.
    if not isinstance(completion, ChatCompletion):
        raise UnexpectedResponse(f"not JSON: {str(completion)[:80]!r}")
    if not getattr(completion, "choices", None):
        raise UnexpectedResponse("the answer has no `choices`")
    choice = completion.choices[0]
    reasoning, text = _reasoning_and_answer(_field_reasoning(choice.message), choice.message.content or "")
    calls = [
        call
        for call in choice.message.tool_calls or ()
        if isinstance(call, ChatCompletionMessageFunctionToolCall)
    ]
    return AssistantTurn(
        text=text,
        tool_calls=tuple(
            tool_call(call.id or f"call_{i}", call.function.name, call.function.arguments)
            for i, call in enumerate(calls)
        ),
        usage=_usage(completion.usage),
        stop_reason=_STOP_REASONS.get(choice.finish_reason or "", "other"),
        raw_stop_reason=choice.finish_reason or "",
        reasoning=reasoning,
    )


def _field_reasoning(message: object) -> str:
    """The reasoning a server sends in a field of its own (undeclared by the SDK, kept as extras)."""
    for name in _REASONING_FIELDS:
        value = getattr(message, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


_REASONING_FIELDS = ("reasoning_content", "reasoning")
"""vLLM, LM Studio and llama-server name it `reasoning_content`; Ollama and OpenRouter `reasoning`."""


def _reasoning_and_answer(field_text: str, content: str) -> tuple[tuple[Reasoning, ...], str]:
    """The reasoning (its own field, then any `<think>` block in the content) and the answer."""
    inline, answer = split_think(content)
    if inline.strip() == field_text.strip():
        inline = ""  # llama-server's `deepseek-legacy` format sends the same thoughts both ways
    parts = tuple(Reasoning(text) for text in (field_text, inline) if text)
    return parts, answer


def _usage(usage: CompletionUsage | None) -> Usage:
    if usage is None:
        return Usage()
    # prompt_tokens already includes the cached ones, reported apart in prompt_tokens_details.
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    # completion_tokens includes the reasoning tokens, which o-series and GPT-5 models report apart.
    output = usage.completion_tokens_details
    reasoning = (output.reasoning_tokens or 0) if output is not None else 0
    return Usage(
        usage.prompt_tokens or 0,
        usage.completion_tokens or 0,
        cache_read_input_tokens=cached,
        reasoning_tokens=reasoning,
    )


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(slots=True)
class _StreamedAnswer:
    """The deltas of one streamed answer, put back together into the turn a JSON answer gives."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: list[_PartialCall] = field(default_factory=list)
    by_index: dict[int, _PartialCall] = field(default_factory=dict)
    finish_reason: str = ""
    usage: Usage = field(default_factory=Usage)
    chunks: int = 0

    def add(self, chunk: ChatCompletionChunk) -> None:
        self.chunks += 1
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
        for choice in getattr(chunk, "choices", None) or ():  # a usage-only chunk may carry none
            if choice.index != 0:
                continue
            if choice.delta.content:
                self.text.append(choice.delta.content)
            if thought := _field_reasoning(choice.delta):
                self.reasoning.append(thought)
            for delta in choice.delta.tool_calls or ():
                call = self._call_at(delta.index, delta.id)
                call.id = delta.id or call.id
                if delta.function is not None:
                    call.name = delta.function.name or call.name
                    call.arguments += delta.function.arguments or ""
            self.finish_reason = choice.finish_reason or self.finish_reason

    def _call_at(self, index: int, call_id: str | None) -> _PartialCall:
        call = self.by_index.get(index)
        # A new id at a known index is a new call: some servers number every call 0.
        if call is None or (call_id and call.id and call_id != call.id):
            call = self.by_index[index] = _PartialCall()
            self.calls.append(call)
        return call

    def turn(self) -> AssistantTurn:
        reasoning, text = _reasoning_and_answer("".join(self.reasoning), "".join(self.text))
        return AssistantTurn(
            text=text,
            tool_calls=tuple(
                tool_call(call.id or f"call_{i}", call.name, call.arguments)
                for i, call in enumerate(self.calls)
            ),
            usage=self.usage,
            stop_reason=_STOP_REASONS.get(self.finish_reason, "other"),
            raw_stop_reason=self.finish_reason,
            reasoning=reasoning,
        )
