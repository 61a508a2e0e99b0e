"""One decision per test: the live client, a recording of it, or a replay instead of it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from pytest_specbench.config.settings import ModelConfig, RecordMode, RunSettings
from pytest_specbench.errors import CassetteError
from pytest_specbench.models.types import ModelClient
from pytest_specbench.replay.cassette import load_cassette, recorded_window
from pytest_specbench.replay.clients import Redact, ReplayingClient, open_recording
from pytest_specbench.replay.codec import Normaliser, RequestCodec, sampling_of

__all__ = ["RunLabels", "open_for_mode", "replays", "run_header", "with_run_window"]

RunLabels = Mapping[str, object]
"""`brief` and `scaffold` ids of the run (and its context strategy's), written to a new cassette's header."""


def open_for_mode(
    mode: RecordMode,
    path: Path,
    live: Callable[[], AbstractAsyncContextManager[ModelClient]],
    *,
    test_id: str,
    sample: int,
    model: ModelConfig,
    settings: RunSettings,
    redact: Redact,
    paths: Mapping[str, Path] | None = None,
    labels: RunLabels | None = None,
) -> AbstractAsyncContextManager[ModelClient]:
    """The client `mode` calls for; `live` is called only when the model is really needed.

    A replay reads the cassette now, so a missing or broken one fails before the run starts.

    Raises:
        CassetteError: `none` with no cassette at `path`, or a cassette that cannot be read.
    """
    if mode is RecordMode.OFF:
        return live()
    header = run_header(test_id, sample, model, settings, labels)
    if replays(mode, path):
        if not path.exists():
            raise CassetteError(
                f"no cassette for {test_id} at turn 1 (looked for {path}) — record it with "
                "--specbench-record-mode=once, which runs the model live"
            )
        cassette = load_cassette(path, test_id, sample, expected=header)
        return _replaying(ReplayingClient(cassette, sampling_of(model, settings), _codec(redact, paths)))
    return open_recording(live(), path, header, _codec(redact, paths))


def replays(mode: RecordMode, path: Path) -> bool:
    """Whether a run under `mode` replays the cassette at `path` rather than asking the model."""
    return mode is RecordMode.NONE or (mode is RecordMode.ONCE and path.exists())


def with_run_window(model: ModelConfig, mode: RecordMode, path: Path) -> ModelConfig:
    """`model` with the context window its run has when its config names none: the one its
    recording ran with for a replay, else what its server says (`models.window`)."""
    if model.context_window is not None:
        return model
    if replays(mode, path):
        window = recorded_window(path)
        return model if window is None else dataclasses.replace(model, context_window=window)
    from pytest_specbench.models.window import with_server_window  # urllib: only for a live run

    return with_server_window(model)


def run_header(
    test_id: str, sample: int, model: ModelConfig, settings: RunSettings, labels: RunLabels | None
) -> dict[str, Any]:
    """The header a recording of this run writes, and what a replay of it must find in the cassette."""
    model_fields = {"id": model.id, "provider": str(model.provider), "name": model.model}
    header = {
        "test_id": test_id,
        "sample": sample,
        "model": model_fields,
        "sampling": sampling_of(model, settings),
    }
    if model.context_window is not None:  # a context strategy acts on it: a replay must run with it
        header["context_window"] = model.context_window
    return header | dict(labels or {})


def _codec(redact: Redact, paths: Mapping[str, Path] | None) -> RequestCodec:
    return RequestCodec(Normaliser.of(paths), redact)


@asynccontextmanager
async def _replaying(client: ReplayingClient) -> AsyncIterator[ModelClient]:
    yield client  # nothing to open: a replay makes no connection
