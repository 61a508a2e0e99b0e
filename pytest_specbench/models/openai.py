"""Chat Completions through `openai.AsyncOpenAI`: OpenAI itself and every OpenAI-compatible
server (LM Studio, Ollama, vLLM, llama.cpp)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2
import openai
from openai import omit
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
from .types import (
    AssistantMessage,
    AssistantTurn,
    Message,
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
            settings: `request_timeout_s`, `max_retries` and `temperature` are used.
            api_key: the key, or None for a server that takes none.
        """
        if model.provider is Provider.LLAMACPP and model.base_url is None:
            raise ValueError(f"model {model.id!r}: a llamacpp model needs the base_url of its started server")
        self._model = model
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

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        """Send the conversation and return the model's next turn (see `ModelClient`)."""
        params = _messages(system, messages)
        functions = [_tool(spec) for spec in tools]
        with counting_attempts() as attempts:
            try:
                if self._model.stream:
                    send = functools.partial(self._stream, params, functions)
                    turn = await resend_broken_streams(send, attempts, self._max_retries)
                else:
                    turn = await self._complete(params, functions)
            except _FAILURES as err:
                raise self._errors.explain(err, attempts.retries) from err
        return replace(turn, retries=attempts.retries)

    async def aclose(self) -> None:
        """Close the SDK client and its connections."""
        await self._sdk.close()

    async def _complete(
        self, messages: list[ChatCompletionMessageParam], tools: list[ChatCompletionFunctionToolParam]
    ) -> AssistantTurn:
        completion = await self._sdk.chat.completions.create(**self._arguments(messages, tools))
        return _turn(completion)

    async def _stream(
        self, messages: list[ChatCompletionMessageParam], tools: list[ChatCompletionFunctionToolParam]
    ) -> AssistantTurn:
        # Raw chunks rather than the SDK's `stream()` helper: the helper raises on
        # finish_reason "length", which is a stop reason here, not a failure.
        stream = await self._sdk.chat.completions.create(
            **self._arguments(messages, tools), stream=True, stream_options={"include_usage": True}
        )
        answer = _StreamedAnswer()
        async with stream:
            async for chunk in stream:
                answer.add(chunk)
        if answer.chunks == 0:
            content_type = stream.response.headers.get("content-type", "none")
            raise UnexpectedResponse(f"the streamed answer held no events (content-type {content_type})")
        return answer.turn()

    def _arguments(
        self, messages: list[ChatCompletionMessageParam], tools: list[ChatCompletionFunctionToolParam]
    ) -> dict[str, Any]:
        return {
            "model": self._model.model,
            "messages": messages,
            "tools": tools or omit,
            # Explicit, because llama-cpp-python leaves tools out of the prompt without it.
            "tool_choice": "auto" if tools else omit,
            "temperature": self._temperature,
            "max_tokens": omit if self._is_openai else self._model.max_tokens,
            "max_completion_tokens": self._model.max_tokens if self._is_openai else omit,
        }

    @property
    def _is_openai(self) -> bool:
        # OpenAI's newer models refuse `max_tokens`; compatible servers may not know its successor.
        return self._sdk.base_url.host == "api.openai.com"


def _tool(spec: ToolSpec) -> ChatCompletionFunctionToolParam:
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description, "parameters": spec.input_schema},
    }


def _messages(system: str, messages: list[Message]) -> list[ChatCompletionMessageParam]:
    params: list[ChatCompletionMessageParam] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        params.extend(_message(message))
    return params


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
    calls = [
        call
        for call in choice.message.tool_calls or ()
        if isinstance(call, ChatCompletionMessageFunctionToolCall)
    ]
    return AssistantTurn(
        text=choice.message.content or "",
        tool_calls=tuple(
            tool_call(call.id or f"call_{i}", call.function.name, call.function.arguments)
            for i, call in enumerate(calls)
        ),
        usage=_usage(completion.usage),
        stop_reason=_STOP_REASONS.get(choice.finish_reason or "", "other"),
        raw_stop_reason=choice.finish_reason or "",
    )


def _usage(usage: CompletionUsage | None) -> Usage:
    if usage is None:
        return Usage()
    # prompt_tokens already includes the cached ones, reported apart in prompt_tokens_details.
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    return Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0, cache_read_input_tokens=cached)


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(slots=True)
class _StreamedAnswer:
    """The deltas of one streamed answer, put back together into the turn a JSON answer gives."""

    text: list[str] = field(default_factory=list)
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
        return AssistantTurn(
            text="".join(self.text),
            tool_calls=tuple(
                tool_call(call.id or f"call_{i}", call.name, call.arguments)
                for i, call in enumerate(self.calls)
            ),
            usage=self.usage,
            stop_reason=_STOP_REASONS.get(self.finish_reason, "other"),
            raw_stop_reason=self.finish_reason,
        )
