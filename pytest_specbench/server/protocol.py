"""What the reference server says at the protocol level, besides its tools.

* It serves tools only, so it advertises only `tools`: MCPServer always registers the
  prompts and resources handlers, and a client that saw those capabilities would list
  nothing and get error 0 for any name. Hidden here, `prompts/*` and `resources/*`
  answer -32601 (method not found), as MCP says an unadvertised method should.
* Arguments that break a tool's schema get one line per argument in the model's words
  ("limit: expected integer, got string "5""), not pydantic's report with its URLs.

Both are `MCPServer(middleware=[...])` functions, the SDK's public (provisional) hook.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver.utilities.func_metadata import func_metadata
from mcp.shared.exceptions import MCPError
from mcp_types import METHOD_NOT_FOUND, CallToolResult, TextContent
from pydantic import BaseModel, ValidationError

__all__ = ["argument_errors", "checked_arguments", "tools_only"]

_HIDDEN_METHODS = ("prompts/", "resources/")
_HIDDEN_CAPABILITIES = ("prompts", "resources")
_HANDSHAKES = ("initialize", "server/discover")
_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}
_EXPECTED = {
    "int": "integer",
    "float": "number",
    "string": "string",
    "list": "array",
    "bool": "boolean",
    "dict": "object",
    "model": "object",
}
"""The JSON type a pydantic error type (`int_parsing`, `list_type`, ...) asked for, by its first word."""


async def tools_only(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Answer prompts/* and resources/* as unknown methods and leave them out of the capabilities."""
    if ctx.request_id is not None and ctx.method.startswith(_HIDDEN_METHODS):
        raise MCPError(code=METHOD_NOT_FOUND, message="Method not found", data=ctx.method)
    result = await call_next(ctx)
    if ctx.method not in _HANDSHAKES or result is None:
        return result
    wire = (
        result.model_dump(by_alias=True, exclude_none=True) if isinstance(result, BaseModel) else dict(result)
    )
    wire["capabilities"] = {
        key: value
        for key, value in (wire.get("capabilities") or {}).items()
        if key not in _HIDDEN_CAPABILITIES
    }
    return wire


def checked_arguments(tools: list[Callable[..., Any]]) -> ServerMiddleware[Any]:
    """A middleware that refuses a tools/call whose arguments break the tool's schema, in plain words."""
    models = {tool.__name__: func_metadata(tool).arg_model for tool in tools}

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params: Mapping[str, Any] = ctx.params or {}
        model = models.get(params.get("name", "")) if ctx.method == "tools/call" else None
        arguments = params.get("arguments") or {}
        if model is not None and isinstance(arguments, dict):
            try:
                model.model_validate(arguments)
            except ValidationError as exc:
                # "validation error" is how the harness (and the SDK) name a schema violation.
                text = f"Error: validation error in the arguments of {params['name']}: {argument_errors(exc)}"
                return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        return await call_next(ctx)

    return middleware


def argument_errors(exc: ValidationError) -> str:
    """Each broken argument and what was expected: `limit: expected integer, got string "5"`."""
    return "; ".join(dict.fromkeys(_one(error) for error in exc.errors(include_url=False)))


def _one(error: Any) -> str:
    name = ".".join(str(part) for part in error["loc"]) or "arguments"
    if error["type"] == "missing":
        return f"{name}: required"
    got = error.get("input")
    shown = json.dumps(got, ensure_ascii=False, default=str)
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    expected = _expected(error)
    return f"{name}: expected {expected}, got {_JSON_TYPES.get(type(got), type(got).__name__)} {shown}"


def _expected(error: Any) -> str:
    word = _EXPECTED.get(str(error["type"]).partition("_")[0])
    return word or str(error["msg"]).lower().removeprefix("input should be ")
