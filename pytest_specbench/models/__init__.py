"""Model clients: one protocol (`ModelClient`), one adapter per provider SDK.

Importing this package loads no SDK; `open_client` imports the one a model needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from ..config.settings import FULL_CONTEXT, ContextConfig, ModelConfig, Protocol, RunSettings
from .types import (
    AssistantMessage,
    AssistantTurn,
    Message,
    ModelClient,
    Reasoning,
    StopReason,
    ToolCall,
    ToolResult,
    ToolResultsMessage,
    ToolSpec,
    Usage,
    UserMessage,
)

if TYPE_CHECKING:
    from .anthropic import AnthropicMessagesClient
    from .openai import OpenAIChatClient

__all__ = [
    "AssistantMessage",
    "AssistantTurn",
    "Message",
    "ModelClient",
    "Reasoning",
    "StopReason",
    "ToolCall",
    "ToolResult",
    "ToolResultsMessage",
    "ToolSpec",
    "Usage",
    "UserMessage",
    "open_client",
]


def open_client(
    model: ModelConfig, settings: RunSettings, api_key: str | None, context: ContextConfig = FULL_CONTEXT
) -> AbstractAsyncContextManager[ModelClient]:
    """The adapter for `model.protocol`, closed (with its connections) on exit.

    Args:
        model: which protocol, model name, base_url, max_tokens and whether to stream.
        settings: the SDK's `request_timeout_s` and `max_retries`, and `temperature`.
        api_key: the key read from `model.key_variable`; None for a server that takes none.
        context: the run's context strategy; only `native` reaches the adapter (Anthropic's
            context editing), every other is the loop's.

    Raises:
        ProviderError: from `generate()`, when a request fails after the SDK's retries.
    """
    return _open(model, settings, api_key, context)


@asynccontextmanager
async def _open(
    model: ModelConfig, settings: RunSettings, api_key: str | None, context: ContextConfig
) -> AsyncIterator[ModelClient]:
    if model.protocol is Protocol.ANTHROPIC:
        from .anthropic import AnthropicMessagesClient

        client: AnthropicMessagesClient | OpenAIChatClient = AnthropicMessagesClient(
            model, settings, api_key, context
        )
    else:
        from .openai import OpenAIChatClient

        client = OpenAIChatClient(model, settings, api_key)
    try:
        yield client
    finally:
        await client.aclose()
