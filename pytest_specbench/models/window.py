"""The context window a server says it gives a model, for a model whose config names none.

Each local server says it its own way; the first that answers wins:

    llama-server  GET /props          default_generation_settings.n_ctx (per slot)
    vLLM          GET /v1/models      data[].max_model_len
    LM Studio     GET /api/v0/models  data[].loaded_context_length
    Ollama        GET /api/ps         models[].context_length (of the loaded model: num_ctx)

The hosted APIs say nothing of the kind, so they are not asked.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pytest_specbench.config.settings import ModelConfig, Provider

__all__ = ["read_window", "with_server_window"]

_HOSTED = frozenset({"api.openai.com", "api.anthropic.com"})


def read_window(base_url: str, model: str, timeout_s: float = 2.0) -> int | None:
    """The window in tokens the server at `base_url` (with or without `/v1`) gives `model`, or None.

    Args:
        base_url: the model's base URL, as in specbench.toml.
        model: the model name requests carry (the `model` key).
        timeout_s: for each probe; a server that does not answer one in time is taken not to say.
    """
    return _probe(base_url, model, timeout_s)[0]


def _probe(base_url: str, model: str, timeout_s: float) -> tuple[int | None, bool]:
    """The window, and whether the server answered any of the probes at all."""
    if (urlsplit(base_url).hostname or "") in _HOSTED:
        return None, False
    root, answered = base_url.rstrip("/").removesuffix("/v1"), False
    for path, read in _PROBES:
        body = _get(f"{root}{path}", timeout_s)
        answered = answered or body is not None
        window = read(body, model) if body is not None else None
        if window:
            return window, True
    return None, answered


def with_server_window(model: ModelConfig) -> ModelConfig:
    """`model` with the window its server says, when its config names none.

    Only an OpenAI-compatible model with a `base_url` is asked, once per process and server: a
    `llamacpp` model's window is its own `n_ctx`, and the hosted APIs say nothing. A server that
    answered a probe without this model's window (Ollama lists a model once it is loaded) is asked
    again for the next test; one that answered none is not.
    """
    if model.context_window is not None or model.provider is not Provider.OPENAI or not model.base_url:
        return model
    key = (model.base_url, model.model)
    window = _READ.get(key)
    if window is None and model.base_url not in _SILENT:
        window, answered = _probe(model.base_url, model.model, 2.0)
        if window is not None:
            _READ[key] = window
        elif not answered:
            _SILENT.add(model.base_url)
    return model if window is None else dataclasses.replace(model, context_window=window)


_READ: dict[tuple[str, str], int] = {}
"""(base_url, model) → the window its server said, once per process."""
_SILENT: set[str] = set()
"""Servers that answered none of the probes: not asked again in this process (a test's setup
would otherwise wait on them every time)."""


def _get(url: str, timeout_s: float) -> Any:
    # No proxies: an exported HTTP_PROXY would otherwise receive requests meant for loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout_s) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _props(body: Any, model: str) -> int | None:
    if not isinstance(body, dict):
        return None
    settings = body.get("default_generation_settings")
    nested = settings.get("n_ctx") if isinstance(settings, dict) else None
    return _positive(nested) or _positive(body.get("n_ctx"))


def _listed(
    key: str, name_keys: tuple[str, ...], list_key: str = "data", *, serves_one: bool = False
) -> Callable[[Any, str], int | None]:
    """A reader of a list of models; `serves_one`: the server runs one model and answers for it
    whatever name a request uses (vLLM), so a lone entry is it. LM Studio and Ollama list what is
    loaded, which may be another model: only an entry of the model's own name counts there."""

    def read(body: Any, model: str) -> int | None:
        entries = body.get(list_key) if isinstance(body, dict) else None
        if not isinstance(entries, list):
            return None
        dicts = [e for e in entries if isinstance(e, dict)]
        named = [e for e in dicts if model in (e.get(k) for k in name_keys)]
        chosen = named or (dicts if serves_one and len(dicts) == 1 else [])
        return next((w for e in chosen if (w := _positive(e.get(key)))), None)

    return read


_PROBES: tuple[tuple[str, Callable[[Any, str], int | None]], ...] = (
    ("/props", _props),
    ("/v1/models", _listed("max_model_len", ("id",), serves_one=True)),
    ("/api/v0/models", _listed("loaded_context_length", ("id",))),
    ("/api/ps", _listed("context_length", ("name", "model"), "models")),
)
