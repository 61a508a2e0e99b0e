"""Every escape a model can try, through a real run: reads stay in the codebase, writes in specs/.

A secret sits beside the codebase, is reachable through planted symlinks, and is in the
environment the read tools could reach through /proc. The model tries every way out;
each attempt is a tool error, and the secret appears in no output: not in what the model
saw, the transcript, results.json, a snapshot or the terminal. Hostile titles become
safe slugs, and a symlink planted where the tree goes is not written through.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.testing import FakeProvider, Reply, call

SECRET = "SANDBOX-SECRET-7f3a9c"
SEARCHED = SECRET[:14]
"""What the model searches for: the secret itself must appear in no output, the model's own calls included."""
PASSWD_LINE = "root:x:0:0"
READ_ESCAPES = [
    ("read_file", {"path": "../../outside/secret.txt"}),
    ("read_file", {"path": "src/../../../outside/secret.txt"}),
    ("read_file", {"path": "OUTSIDE/secret.txt"}),  # absolute, filled in below
    ("read_file", {"path": "~/secret.txt"}),
    ("read_file", {"path": "link_out"}),
    ("read_file", {"path": "dir_out/secret.txt"}),
    ("read_file", {"path": "/proc/self/environ"}),
    ("read_file", {"path": "link_proc"}),
    ("read_file", {"path": "/proc/self/cmdline"}),
    ("read_file", {"path": "/dev/zero"}),
    ("read_file", {"path": "link_dev"}),
    ("read_file", {"path": "/etc/passwd"}),
    ("read_file", {"path": "fifo"}),
    ("read_file", {"path": "loop"}),
    ("read_file", {"path": "src\x00/../../outside/secret.txt"}),
    ("list_files", {"path": ".."}),
    ("list_files", {"path": "/"}),
    ("list_files", {"path": "dir_out"}),
    ("list_files", {"path": "/proc"}),
    ("search_code", {"pattern": SEARCHED, "path": ".."}),
    ("search_code", {"pattern": SEARCHED, "path": "dir_out"}),
    ("search_code", {"pattern": SEARCHED, "path": "link_out"}),
    ("search_code", {"pattern": "root", "path": "/etc"}),
]
HOSTILE_TITLES = [
    "../../../escape",
    "/etc/evil",
    "a\x00b",
    "con",
    "NUL",
    "..",
    "~",
    "C:\\Windows\\evil",
    "feature/../../../../tmp/evil",
    "\u202eevil\u202c",
    "💥",
    "x" * 200,  # the longest title the server takes
]
SAFE_NAME = re.compile(r"^[FR]-\d{4}-[a-z0-9]+(-[a-z0-9]+)*(\.md)?$")
PLANT_CONFTEST = """
import pytest

@pytest.fixture
def specbench_paths(specbench_paths, specbench_brief):
    # The brief 'planted' finds a symlink where the tree goes, pointing out of the workspace.
    if specbench_brief.id == "planted":
        specbench_paths.specs_dir.mkdir(parents=True)
        (specbench_paths.specs_dir / "features").symlink_to({target!r}, target_is_directory=True)
    return specbench_paths
"""
TEST = """
def test_spec(spec_run, snapshot):
    assert spec_run.transcript.stop.reason == "final_answer"
    assert spec_run.tree == snapshot
"""


def _plant(root: Path) -> Path:
    """The secret outside the codebase and every way to it from inside; returns the codebase."""
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{SECRET}\n", encoding="utf-8")
    code = root / "codebases" / "notes"
    (code / "src").mkdir(parents=True)
    (code / "link_out").symlink_to(outside / "secret.txt")
    (code / "dir_out").symlink_to(outside, target_is_directory=True)
    (code / "link_proc").symlink_to("/proc/self/environ")
    (code / "link_dev").symlink_to("/dev/zero")
    (code / "loop").symlink_to(code / "loop")
    os.mkfifo(code / "fifo")
    return code


def _script(outside: Path) -> list[Reply]:
    reads = [
        call(tool, **{k: v.replace("OUTSIDE", str(outside)) for k, v in args.items()})
        for tool, args in READ_ESCAPES
    ]
    writes = [
        call("create_feature", title=title, description=f"Titled {title[:20]!r}.") for title in HOSTILE_TITLES
    ]
    requirement = call(
        "create_requirement",
        feature_id="F-0001",
        title="../../../r",
        description="d",
        acceptance_criteria=["/etc/passwd is never touched"],
    )
    rename = call("update_item", id="F-0002", title="../../moved")
    return [
        Reply(tool_calls=reads),
        Reply(tool_calls=writes),
        Reply(tool_calls=[requirement, rename, call("search_code", pattern=SEARCHED)]),
        Reply.final("Done."),
    ]


def test_every_escape_is_refused_and_nothing_leaks(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The in-process server reads /proc/self/environ of this very process, secret included.
    monkeypatch.setenv("SPECBENCH_SANDBOX_SECRET", SECRET)
    outside = pytester.path / "outside"
    code = _plant(pytester.path)
    elsewhere = pytester.path / "elsewhere"
    elsewhere.mkdir()
    provider.script(suite.model("escaper"), _script(outside))
    suite.brief("notes")
    suite.brief("planted", codebase="codebases/notes")
    suite.write(TEST)
    pytester.makeconftest(PLANT_CONFTEST.format(target=str(elsewhere)))
    before = sorted(p.name for p in code.iterdir())

    result = pytester.runpytest(
        "--specbench-transport=memory", "--specbench-report=out", "--snapshot-update", "--basetemp=bt"
    )

    result.assert_outcomes(passed=2)
    for brief in ("notes", "planted"):
        transcript = _transcript(pytester.path, f"test_spec[escaper-{brief}]")
        _check_reads_refused(transcript)
        _check_writes(transcript, planted=brief == "planted")
    _check_files(pytester.path, outside, elsewhere)
    assert sorted(p.name for p in code.iterdir()) == before
    _check_no_output_holds(pytester.path, result.stdout.str() + result.stderr.str())


def _transcript(root: Path, test_id: str) -> Transcript:
    return Transcript.from_jsonl((root / "out" / "transcripts" / f"{test_id}.jsonl").read_text("utf-8"))


def _check_reads_refused(transcript: Transcript) -> None:
    reads = [c for c in transcript.tool_calls() if c.turn == 1]
    assert len(reads) == len(READ_ESCAPES)
    assert [c for c in reads if not c.is_error] == []
    last = transcript.tool_calls()[-1]
    assert last.result == f"No matches for {SEARCHED!r} in ."  # the symlink to it is not followed


def _check_writes(transcript: Transcript, *, planted: bool) -> None:
    writes = [c for c in transcript.tool_calls() if c.turn == 2]
    assert len(writes) == len(HOSTILE_TITLES)
    if planted:
        assert all(c.is_error and "refusing to write" in c.result for c in writes)
        return
    assert [c.is_error for c in writes] == [False] * len(HOSTILE_TITLES)
    for event in writes:
        path = event.result.rsplit(" at ", 1)[1]
        assert re.fullmatch(r"specs/features/(F-\d{4}-[a-z0-9-]+)/\1\.md", path), path


def _check_files(root: Path, outside: Path, elsewhere: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert list(elsewhere.iterdir()) == []
    assert not Path("/tmp/evil").exists() and not Path("/etc/evil").exists()
    workspaces = [w for w in sorted((root / "bt").glob("*/workspace")) if not w.parent.is_symlink()]
    assert len(workspaces) == 2
    for workspace in workspaces:
        for path in (workspace / "specs").rglob("*"):
            assert path.resolve().is_relative_to(workspace.resolve()) or path.is_symlink()
            if path.parent.name != "specs" and not path.is_symlink():
                assert SAFE_NAME.match(path.name) or path.name in ("features", "requirements"), path


def _inside(path: Path, root: Path) -> bool:
    return not path.is_symlink() and path.resolve().is_relative_to(root.resolve())


def _check_no_output_holds(root: Path, terminal: str) -> None:
    for marker in (SECRET, PASSWD_LINE):
        assert marker not in terminal
        for path in (root / "out", root / "__snapshots__", root / "bt"):
            # Not through a symlink: each run's codebase copy keeps the brief's links out, unread.
            written = [p for p in path.rglob("*") if p.is_file() and _inside(p, path)]
            leaks = [p for p in written if marker in p.read_text("utf-8", "replace")]
            assert leaks == [], marker
    records = json.loads((root / "out" / "results.json").read_text("utf-8"))
    assert [r["outcome"] for r in records] == ["passed", "passed"]


# --- The gates on their own: the escapes a run above does not spell out ---------------------------

LINKS = {
    "rel_out": "../secret.txt",
    "chain": "rel_out",
    "parent_dir": "..",
    "proc_dir": "/proc/self",
    "dev_dir": "/dev",
    "self_dir": ".",
}
MORE_ESCAPES = [
    "rel_out",
    "chain",
    "parent_dir/secret.txt",
    "self_dir/self_dir/parent_dir/secret.txt",
    "proc_dir/environ",
    "proc_dir/root/etc/passwd",
    "dev_dir/zero",
    "dev_dir/stdin",
    "/proc/self/root/etc/passwd",
    "src/a.py/..",
    "a" * 10_000,
]


@pytest.fixture
def gated(tmp_path: Path) -> Any:
    """A codebase holding a symlink of every kind, beside a secret."""
    from pytest_specbench.server.codebase import Codebase

    (tmp_path / "secret.txt").write_text(SECRET, encoding="utf-8")
    code = tmp_path / "code"
    (code / "src").mkdir(parents=True)
    (code / "src" / "a.py").write_text("print('hi')\n", encoding="utf-8")
    for name, target in LINKS.items():
        (code / name).symlink_to(target)
    return Codebase(code)


@pytest.mark.parametrize("path", MORE_ESCAPES, ids=lambda p: p[:30])
def test_read_tools_refuse_every_way_out(gated: Any, path: str) -> None:
    from mcp.server.mcpserver.exceptions import ToolError

    for read in (gated.read_file, gated.list_files, lambda p: gated.search_code("SECRET", p)):
        with pytest.raises(ToolError) as refused:
            read(path)
        assert SECRET not in str(refused.value) and PASSWD_LINE not in str(refused.value)


def test_listing_and_search_never_enter_a_link_out(gated: Any) -> None:
    assert gated.list_files(".", depth=10) == "./\n  self_dir/\n  src/\n    a.py"
    assert gated.search_code("SECRET") == "No matches for 'SECRET' in ."
    assert gated.read_file("self_dir/src/a.py") == "     1\tprint('hi')\n[lines 1-1 of 1]"


def test_a_symlink_planted_at_a_spec_file_is_neither_written_nor_deleted_through(tmp_path: Path) -> None:
    from mcp.server.mcpserver.exceptions import ToolError

    from pytest_specbench.server.store import SpecStore

    outside = tmp_path / "outside.md"
    outside.write_text("precious\n", encoding="utf-8")
    store = SpecStore(tmp_path / "specs")
    item = store.create_feature("Canvas", "d")
    target = store.specs_dir / item.path
    target.unlink()
    target.symlink_to(outside)

    for attempt in (lambda: store.update("F-0001", title="New"), lambda: store.delete("F-0001")):
        with pytest.raises(ToolError, match="symlink"):
            attempt()
    assert outside.read_text(encoding="utf-8") == "precious\n"
