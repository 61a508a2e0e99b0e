"""`python -m pytest_specbench.server`: a system tree as codebase or specs is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_specbench.server.__main__ import main


@pytest.mark.parametrize(
    ("option", "value"),
    [("--codebase", "/"), ("--codebase", "/proc/self"), ("--specs", "/"), ("--specs", "/dev")],
)
def test_a_system_tree_is_refused_before_the_server_starts(
    tmp_path: Path, option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = {"--codebase": str(tmp_path), "--specs": str(tmp_path / "specs"), option: value}

    with pytest.raises(SystemExit) as caught:
        main([part for pair in paths.items() for part in pair])

    assert caught.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(
        f"{option} {value} is the root or a system tree (/, /proc, /sys, /dev); name your own"
    )
