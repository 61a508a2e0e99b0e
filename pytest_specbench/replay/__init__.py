"""Record once, replay everywhere: cassettes of the model's side of a run.

The seam is the `ModelClient`: `RecordingClient` wraps a live client and keeps each
provider-neutral request with its answer; `ReplayingClient` answers from the cassette
after checking that the request is the recorded one (`drift.py` names the first
difference). The MCP server, the loop, the checks and the snapshot always run for real,
so a change of the harness shows up as drift and a change of the server in the tree.

Recording at this level rather than HTTP: one cassette replays through any provider
adapter, JSON or streaming; headers (and the keys in them) are never seen; retries and
SDK upgrades do not break a cassette; and drift is reported as a field of the
conversation, not as a byte offset in a request body.
"""

from __future__ import annotations

from pytest_specbench.config.settings import RecordMode
from pytest_specbench.replay.cassette import CASSETTE_VERSION, Cassette, cassette_path, load_cassette
from pytest_specbench.replay.choose import open_for_mode, with_run_window
from pytest_specbench.replay.clients import RecordingClient, ReplayingClient, Source, finish, provenance

__all__ = [
    "CASSETTE_VERSION",
    "Cassette",
    "RecordMode",
    "RecordingClient",
    "ReplayingClient",
    "Source",
    "cassette_path",
    "finish",
    "load_cassette",
    "open_for_mode",
    "provenance",
    "with_run_window",
]
