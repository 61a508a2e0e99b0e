"""A file named after a test id stays within what file systems take, and two ids never share one."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_specbench._files import MAX_FILE_NAME, file_name


def test_a_name_that_fits_is_the_id_itself() -> None:
    assert file_name("test_spec[gpt-todo-app]", ".jsonl") == "test_spec[gpt-todo-app].jsonl"


@pytest.mark.parametrize(
    "stem", ["x" * 300, "é" * 200, "x" * 249 + "€€"], ids=["ascii", "two-byte", "cut-in-a-char"]
)
def test_a_long_name_is_clipped_to_the_limit_with_a_hash(stem: str, tmp_path: Path) -> None:
    name = file_name(stem, ".sample-1000.jsonl")

    assert len(name.encode()) <= MAX_FILE_NAME and name.endswith(".sample-1000.jsonl")
    assert name.startswith(stem[:100])
    (tmp_path / name).write_text("written")  # the file system takes it


def test_two_long_ids_that_share_a_start_never_share_a_name() -> None:
    first, second = "x" * 300 + "[a]", "x" * 300 + "[b]"

    assert file_name(first, ".jsonl") != file_name(second, ".jsonl")
