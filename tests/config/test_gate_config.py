"""`[gate] alpha` and `[gate] family`: the level of the gate's tests and the p-values adjusted together."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pytest_specbench.config import load_config, schema
from pytest_specbench.config.gate import TOLERANCES, GateFamily, GateTolerances
from pytest_specbench.errors import ConfigError
from pytest_specbench.verdicts.regression import GATE_DEFAULTS

BASE = (
    '[models.m]\nprovider = "openai"\nmodel = "gpt"\n\n[briefs.b]\ncodebase = "code"\nprompt = "Specify."\n'
)


def load(tmp_path: Path, text: str) -> GateTolerances:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "specbench.toml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "specbench.toml")
    return config.gate_for(config.briefs["b"])


def test_alpha_and_family_load_and_a_brief_may_set_its_own_alpha(tmp_path: Path) -> None:
    text = (
        BASE + 'gate = { alpha = 0.01 }\n\n[gate]\nalpha = 0.1\nfamily = "session"\nmax_recall_drop = 0.2\n'
    )

    gate = load(tmp_path, text)

    assert gate == GateTolerances(alpha=0.01, family=GateFamily.SESSION, max_recall_drop=0.2)
    assert gate.fields() == {
        "max_requirements_drop": 0.1,
        "max_features_drop": 0.1,
        "max_recall_drop": 0.2,
        "max_tokens_increase": None,
        "max_cost_increase": None,
        "alpha": 0.01,
        "family": "session",
    }
    assert (gate.level, gate.session) == (0.01, True)


def test_the_gate_type_holds_every_gate_key_and_reads_its_record_field_back() -> None:
    keys = {*schema.GATE_KEYS, *schema.SESSION_GATE_KEYS}

    assert keys == {f.name for f in dataclasses.fields(GateTolerances)} == {*TOLERANCES, "alpha", "family"}
    assert GateTolerances().fields() == GATE_DEFAULTS  # alpha and family only when set
    gate = GateTolerances(max_tokens_increase=0.5, alpha=0.01, family=GateFamily.SESSION)
    assert GateTolerances.from_fields(json.loads(json.dumps(gate.fields()))) == gate
    assert GateTolerances.from_fields({"max_features_drop": None, "alpha": "x"}) == GateTolerances(
        max_features_drop=None
    )
    assert GateTolerances.from_fields(None) == GateTolerances()


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
