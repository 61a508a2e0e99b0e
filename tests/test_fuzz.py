"""Property-based: whatever a model sends, the loop and the server answer with a result, never a crash.

Arbitrary tool names and argument payloads go through the agent loop into the real
reference server (in memory, one server for all examples); arbitrary ids go to the
store; arbitrary files go to the tree reader.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.server.mcpserver.exceptions import ToolError

from pytest_specbench.agent.loop import Limits, ToolSession, run_agent
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import BriefConfig
from pytest_specbench.models._errors import tool_call
from pytest_specbench.server.store import SpecStore
from pytest_specbench.testing import Reply, ScriptedClient, call
from pytest_specbench.tree import read_tree

TOOLS = [
    "list_files",
    "read_file",
    "search_code",
    "create_feature",
    "create_requirement",
    "update_item",
    "delete_item",
    "get_spec_tree",
]
KEYS = ["path", "depth", "offset", "limit", "pattern", "max_results", "title", "description", "parent_id",
        "feature_id", "acceptance_criteria", "id"]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["F-0001", "R-0001", "F-9999", "../F-0001", "..", "/", "\x00", "\ud800", "app.py", "*"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
)
arguments = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=12), json_values, max_size=5)
names = st.sampled_from(TOOLS) | st.text(max_size=20)
raw_texts = st.one_of(
    st.text(max_size=60),
    arguments.map(json.dumps),
    st.sampled_from(
        ["", " ", "null", "[]", '"x"', "{", '{"a":', "NaN", '{"depth": NaN}', '{"x": Infinity}', "{}{}"]
    ),
)


@pytest.fixture(scope="module")
def tools() -> Iterator[tuple[Any, ToolSession]]:
    """One in-memory reference server for every example, reached through a blocking portal."""
    from anyio.from_thread import start_blocking_portal

    with tempfile.TemporaryDirectory() as tmp, start_blocking_portal() as portal:
        root = Path(tmp)
        (root / "code").mkdir()
        (root / "code" / "app.py").write_text("def add(note):\n    return note\n")
        paths = RunPaths(root / "ws", root / "ws" / "specs", root / "code")
        paths.workspace.mkdir()
        brief = BriefConfig("fuzz", paths.codebase, "Specify it.")
        with portal.wrap_async_context_manager(
            open_tool_session(brief, paths, Transport.MEMORY, 10)
        ) as session:
            yield portal, session


def _one_call(portal: Any, session: ToolSession, reply: Reply) -> Transcript:
    transcript = Transcript()
    client = ScriptedClient([reply, Reply.final("Done.")])
    stop = portal.call(
        lambda: run_agent(
            client,
            session,
            system="s",
            prompt="p",
            limits=Limits(max_turns=3, timeout_s=30),
            transcript=transcript,
        )
    )
    assert stop.reason == "final_answer"
    return transcript


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names, payload=arguments)
def test_any_arguments_to_any_tool_yield_a_result(
    tools: tuple[Any, ToolSession], name: str, payload: dict[str, Any]
) -> None:
    portal, session = tools
    transcript = _one_call(portal, session, Reply(tool_calls=[call(name, **{"_raw": json.dumps(payload)})]))

    (event,) = transcript.tool_calls()
    assert isinstance(event.result, str) and event.result
    assert (event.error_kind is not None) == event.is_error
    if name not in TOOLS:
        assert event.error_kind == "unknown_tool"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(TOOLS), raw=raw_texts)
def test_any_argument_text_is_parsed_or_refused(tools: tuple[Any, ToolSession], name: str, raw: str) -> None:
    parsed = tool_call("call_1", name, raw)
    assert (parsed.arguments is None) == (parsed.parse_error is not None)
    portal, session = tools

    (event,) = _one_call(portal, session, Reply(tool_calls=[call(name, raw)])).tool_calls()

    assert event.arguments == raw
    if parsed.arguments is None:
        assert (event.is_error, event.error_kind) == (True, "invalid_json")


@settings(max_examples=200, deadline=None)
@given(
    item_id=st.text(max_size=30)
    | st.sampled_from(["F-0001", "f-0001", " R-0001 ", "F-0001\x00", "F-00001", "../F-0001"])
)
def test_any_id_is_found_or_refused_and_a_refusal_changes_nothing(item_id: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SpecStore(Path(tmp) / "specs")
        store.create_feature("Canvas", "d")
        store.create_requirement("F-0001", "Draw", "d", ["a"])
        for attempt in (
            lambda: store.update(item_id, title="New title"),
            lambda: store.create_requirement(item_id, "t", "d", ["a"]),
            lambda: store.create_feature("Child", "d", parent_id=item_id),
            lambda: store.delete(item_id),
        ):
            before = store.items()
            try:
                attempt()
            except ToolError as refused:
                assert str(refused) and store.items() == before
            else:
                assert item_id.strip().upper() in {"F-0001", "R-0001"}


@settings(max_examples=200, deadline=None)
@given(
    content=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: ("---\n" + t).encode()),
    name=st.sampled_from(["F-0001-x.md", "R-0002-y.md", "notes.md"]),
)
def test_the_tree_reader_never_raises_on_any_file(content: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "specs" / "features" / "F-0001-x"
        folder.mkdir(parents=True)
        (folder / name).write_bytes(content)

        tree = read_tree(Path(tmp) / "specs")

        assert tree.total_feature_count + len(tree.errors) <= 1
