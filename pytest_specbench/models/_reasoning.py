"""Reasoning a server left in the content: `<think>…</think>` before the answer.

A local server without a reasoning parser (llama-server without `--reasoning-format`, an
OpenAI-compatible proxy) sends a thinking model's thoughts inline. Three shapes are split off:

- `<think>…</think>` opening the content (Qwen3, DeepSeek-R1 and QwQ's tags);
- `<think>…` never closed: `max_tokens` cut the model off mid-thought, so there is no answer;
- `…</think>` with no opening tag: the chat template put `<think>` in the prompt itself.

Only a leading block is reasoning; a tag later in an answer is something the model is writing about.
"""

from __future__ import annotations

import re

__all__ = ["split_think"]

_OPEN = re.compile(r"\A\s*<think>")
_CLOSE = "</think>"


def split_think(content: str) -> tuple[str, str]:
    """(reasoning, answer) of a content that may open with the model's thoughts."""
    opened = _OPEN.match(content)
    if opened is None:
        before, closed, after = content.partition(_CLOSE)
        if not closed or "<think>" in before:
            return "", content
        return before.strip(), after.lstrip()
    rest = content[opened.end() :]
    thought, closed, answer = rest.partition(_CLOSE)
    return thought.strip(), answer.lstrip() if closed else ""
