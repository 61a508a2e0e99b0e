"""`[gate] alpha` and `[gate] family`: the level of the gate's tests and the p-values adjusted together."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_specbench.config import load_config
from pytest_specbench.errors import ConfigError

BASE = (
    '[models.m]\nprovider = "openai"\nmodel = "gpt"\n\n[briefs.b]\ncodebase = "code"\nprompt = "Specify."\n'
)


def load(tmp_path: Path, text: str) -> dict[str, object]:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "specbench.toml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "specbench.toml")
    return config.gate_for(config.briefs["b"])


def test_alpha_and_family_load_and_a_brief_may_set_its_own_alpha(tmp_path: Path) -> None:
    text = (
        BASE + 'gate = { alpha = 0.01 }\n\n[gate]\nalpha = 0.1\nfamily = "session"\nmax_recall_drop = 0.2\n'
    )

    assert load(tmp_path, text) == {"alpha": 0.01, "family": "session", "max_recall_drop": 0.2}


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ("alpha = 0", "[gate]: alpha: must be greater than 0, got 0 — set alpha to a number greater than 0"),
        (
            "alpha = 0.7",
            "[gate]: alpha: must be greater than 0 and at most 0.5, got 0.7 — write a level, e.g.",
        ),
        ('alpha = "0.05"', "[gate]: alpha: expected number, got str"),
        (
            'family = "sesion"',
            '[gate]: family: unknown value "sesion" — did you mean "session"? valid values: "test"',
        ),
    ],
)
def test_a_bad_alpha_or_family_names_the_key_and_the_fix(tmp_path: Path, gate: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, BASE + f"\n[gate]\n{gate}\n")

    assert message in str(info.value)


def test_family_belongs_to_the_session_not_a_brief(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, BASE + 'gate = { family = "session" }\n')

    assert "[briefs.b.gate]: family: unknown key — family belongs in [gate] (the session's" in str(info.value)
