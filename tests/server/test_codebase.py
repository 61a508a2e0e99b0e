"""The read tools: listings, paging, search, and the sandbox that keeps them inside the codebase."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from pytest_specbench.server.codebase import MAX_LINE_CHARS, MAX_OUTPUT_CHARS, Codebase

SECRET = "TOP-SECRET-CONTENT"
BINARY_MARKER = "BINARY-PAYLOAD"


@pytest.fixture
def code(tmp_path: Path) -> Codebase:
    """A small codebase beside a secret file, with every kind of trap inside it."""
    (tmp_path / "secret.txt").write_text(SECRET, encoding="utf-8")
    root = tmp_path / "code"
    (root / "src" / "util").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    (root / "README.md").write_text("# Demo\nA demo project.\n", encoding="utf-8")
    (root / "src" / "app.py").write_text("def main():\n    print('hello')\n\nmain()\n", encoding="utf-8")
    (root / "src" / "util" / "helpers.py").write_text("def Helper():\n    return 1\n", encoding="utf-8")
    (root / "data.bin").write_bytes(b"\x00\x01" + BINARY_MARKER.encode() + b"\x00\n")
    (root / "link_out").symlink_to(tmp_path / "secret.txt")
    (root / "dir_out").symlink_to(tmp_path)
    (root / "link_in").symlink_to(root / "src" / "app.py")
    (root / "link_proc").symlink_to("/proc/self/environ")
    (root / "link_zero").symlink_to("/dev/zero")
    os.mkfifo(root / "fifo")
    (root / "loop").symlink_to(root / "loop")
    return Codebase(root)


ESCAPES = [
    "../secret.txt",
    "src/../../secret.txt",
    "SECRET_ABSOLUTE",
    "~/secret.txt",
    "link_out",
    "dir_out/secret.txt",
    "/proc/self/environ",
    "link_proc",
    "/dev/zero",
    "link_zero",
    "data.bin",
    "fifo",
    "src\x00/app.py",
    "loop",
    "",
]


def _path(path: str, code: Codebase) -> str:
    return str(code.root.parent / "secret.txt") if path == "SECRET_ABSOLUTE" else path


@pytest.mark.parametrize("path", ESCAPES)
def test_read_file_refuses_every_escape(code: Codebase, path: str) -> None:
    with pytest.raises(ToolError) as caught:
        code.read_file(_path(path, code))
    message = str(caught.value)
    assert SECRET not in message
    assert BINARY_MARKER not in message
    assert "PATH=" not in message
    assert message  # it says why


@pytest.mark.parametrize("path", ["../", "dir_out", "/", "/proc", "link_out", "src/app.py"])
def test_list_files_refuses_outside_and_non_directories(code: Codebase, path: str) -> None:
    with pytest.raises(ToolError):
        code.list_files(path)


@pytest.mark.parametrize("path", [p for p in ESCAPES if p not in ("data.bin", "fifo")])
def test_search_code_refuses_every_escape(code: Codebase, path: str) -> None:
    with pytest.raises(ToolError) as caught:
        code.search_code("SECRET", _path(path, code))
    assert SECRET not in str(caught.value)


def test_refusals_say_why(code: Codebase) -> None:
    reasons = {
        "../secret.txt": "'..'",
        str(code.root.parent / "secret.txt"): "absolute",
        "link_out": "outside the codebase",
        "data.bin": "binary",
        "fifo": "not a regular file",
        "missing.py": "does not exist",
        "src": "is a directory",
    }
    for path, reason in reasons.items():
        with pytest.raises(ToolError, match=reason):
            code.read_file(path)


def test_search_never_returns_outside_or_binary_content(code: Codebase) -> None:
    assert code.search_code(SECRET) == f"No matches for {SECRET!r} in ."
    assert code.search_code(BINARY_MARKER).startswith("No matches")


def test_list_files_tree(code: Codebase) -> None:
    assert code.list_files() == "\n".join(
        ["./", "  README.md", "  data.bin", "  link_in", "  src/", "    app.py", "    util/"]
    )
    assert code.list_files("src", depth=5) == "src/\n  app.py\n  util/\n    helpers.py"


def test_list_files_caps_entries(tmp_path: Path) -> None:
    for i in range(600):
        (tmp_path / f"f{i:03}.txt").write_text("x", encoding="utf-8")
    lines = Codebase(tmp_path).list_files().split("\n")
    assert len(lines) == 502
    assert lines[-1].startswith("[100 more entries not shown")


def test_read_file_numbers_lines(code: Codebase) -> None:
    assert code.read_file("src/app.py") == (
        "     1\tdef main():\n     2\t    print('hello')\n     3\t\n     4\tmain()\n[lines 1-4 of 4]"
    )
    assert code.read_file("link_in", offset=4) == "     4\tmain()\n[lines 4-4 of 4]"


def test_read_file_pages_a_long_file(tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text("".join(f"line {i}\n" for i in range(1, 1235)), encoding="utf-8")
    code = Codebase(tmp_path)
    first = code.read_file("long.txt")
    assert first.endswith("[lines 1-400 of 1234; call read_file with offset=401 for more]")
    assert first.count("\n") == 400
    last = code.read_file("long.txt", offset=1201, limit=400)
    assert last.startswith("  1201\tline 1201\n")
    assert last.endswith("[lines 1201-1234 of 1234]")
    with pytest.raises(ToolError, match=r"past the end of 'long\.txt', which has 1234 lines"):
        code.read_file("long.txt", offset=2000)
    with pytest.raises(ToolError, match="1 or more"):
        code.read_file("long.txt", offset=0)


def test_read_file_bounds_a_megabyte_file(tmp_path: Path) -> None:
    (tmp_path / "wide.txt").write_text(("y" * 5000 + "\n") * 200, encoding="utf-8")
    (tmp_path / "minified.js").write_text("z" * 1_000_000, encoding="utf-8")
    code = Codebase(tmp_path)
    wide = code.read_file("wide.txt", limit=2000)
    assert len(wide) <= MAX_OUTPUT_CHARS + 200
    assert wide.split("\n")[0] == "     1\t" + "y" * MAX_LINE_CHARS + "…"
    minified = code.read_file("minified.js")
    assert minified == "     1\t" + "z" * MAX_LINE_CHARS + "…\n[lines 1-1 of 1]"


def test_read_file_of_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("", encoding="utf-8")
    assert Codebase(tmp_path).read_file("empty.py") == "empty.py is empty"


def test_search_code_results(code: Codebase) -> None:
    assert code.search_code(r"def \w+") == "src/app.py:1: def main():\nsrc/util/helpers.py:1: def Helper():"
    assert code.search_code("helper", path="src/util") == "src/util/helpers.py:1: def Helper():"
    assert code.search_code("print(").startswith("src/app.py:2: print('hello')\n['print(' (not a valid")
    assert code.search_code("nothing-like-this") == "No matches for 'nothing-like-this' in ."
    assert "[core]" not in code.search_code("core")  # .git is skipped


def test_search_code_caps_results(tmp_path: Path) -> None:
    (tmp_path / "many.txt").write_text("hit\n" * 100, encoding="utf-8")
    result = Codebase(tmp_path).search_code("hit", max_results=5).split("\n")
    assert result[:5] == [f"many.txt:{i}: hit" for i in range(1, 6)]
    assert result[5].startswith("[first 5 matches shown")
    assert len(result) == 6


def test_bad_arguments(code: Codebase) -> None:
    with pytest.raises(ToolError, match="pattern is empty"):
        code.search_code("")
    with pytest.raises(ToolError, match="depth"):
        code.list_files(depth=0)
    with pytest.raises(ToolError, match="max_results"):
        code.search_code("x", max_results=0)


def test_a_missing_codebase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        Codebase(tmp_path / "missing")
