"""Final answers that are tool calls nobody parsed: the server's chat format did not deliver them.

A model whose calls the server cannot parse answers with the call as text, and the run ends on what
looks like a final answer. Four shapes are recognised, each only where it is the call itself, not
prose about one:

- `functions.<name>:` opening the answer (llama-cpp-python's function-calling grammar);
- `<tool_call>` followed by a JSON object (Qwen's and Hermes' call tags);
- a fenced ```json block holding `{"name": ..., "arguments": ...}`;
- an echoed `<tool_response>` block, the template's own wrapping of a result.
"""

from __future__ import annotations

import json
import re

__all__ = ["unparsed_tool_call"]

_FUNCTIONS = re.compile(r"\A\s*(functions\.[A-Za-z_][\w-]*:)")
_TOOL_CALL_TAG = re.compile(r"<tool_call>\s*\{")
_FENCE = re.compile(r"```(?:json)?[ \t]*\n(.*?)```", re.DOTALL)
_TOOL_RESPONSE = re.compile(r"<tool_response>[ \t]*\n")
_ARGUMENT_KEYS = ("arguments", "parameters")


def unparsed_tool_call(text: str) -> str | None:
    """How the answer shows an unparsed tool call (e.g. `functions.list_files:`), or None."""
    if match := _FUNCTIONS.match(text):
        return match.group(1)
    if _TOOL_CALL_TAG.search(text):
        return "<tool_call>"
    for block in _FENCE.findall(text):
        if name := _call_name(block):
            return f'```json {{"name": "{name}", …}}'
    if _TOOL_RESPONSE.search(text):
        return "<tool_response>"
    return None


def _call_name(block: str) -> str | None:
    try:
        value = json.loads(block)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    return value["name"] if any(key in value for key in _ARGUMENT_KEYS) else None
