"""The package's public names and its promise of a cheap, side-effect-free import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pytest_specbench


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(pytest_specbench) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(pytest_specbench, name)).__name__ == "module"}
    assert sorted(pytest_specbench.__all__) == sorted(public - modules - {"annotations"})


def test_import_loads_no_model_or_mcp_sdk() -> None:
    code = (
        "import sys, pytest_specbench, pytest_specbench.plugin; "
        "print(sorted(m for m in ('openai', 'anthropic', 'mcp', 'llama_cpp') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- the public surface: extended, never renamed (each pin is a superset check) ----------------------


def test_entry_point_is_the_plugin_module() -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "specbench"]
    assert entry.value == "pytest_specbench.plugin"


def test_import_paths_of_the_test_doubles_and_the_server() -> None:
    from pytest_specbench import server, testing

    assert {"FakeProvider", "ScriptedClient", "Reply", "Fault", "Call", "Step", "call", "EXHAUSTED"} <= set(
        testing.__all__
    )
    assert "ReasoningAs" in testing.__all__ and {"reasoning", "reasoning_as"} <= set(
        testing.Reply.__dataclass_fields__
    )
    assert callable(server.build_server) and callable(server.server_command)


def test_config_schema_keeps_every_key() -> None:
    from pytest_specbench.config import schema

    run = {"max_turns", "timeout_s", "request_timeout_s", "temperature", "max_retries", "tool_timeout_s"}
    run |= {"max_tool_calls", "max_total_tokens", "loop_threshold", "stop_on_loop", "max_cost_usd"}
    run |= {"repeats", "min_passes", "max_concurrency"}
    assert run <= set(schema.RUN_KEYS)
    model = {"provider", "model", "base_url", "api_key_env", "max_tokens", "stream", "xfail", "model_path"}
    model |= {"price_input_per_mtok", "price_output_per_mtok", "baseline_model"}
    assert model | {"n_ctx", "record_mode", "known_failures", "context_window"} <= set(schema.MODEL_KEYS)
    thinking = {"reasoning_effort", "thinking", "thinking_budget_tokens", "effort"}
    assert thinking | {"reasoning_format", "reasoning_budget", "reasoning"} <= set(schema.MODEL_KEYS)
    brief = {"codebase", "prompt", "prompt_file", "min_requirements", "min_features", "xfail", "server"}
    brief |= {"forbidden_topics", "reference_features", "min_feature_recall", "tree_quality"}
    brief |= {"max_empty_features", "max_requirements_without_criteria", "max_duplicate_titles"}
    brief |= {
        "max_placeholders",
        "gate",
        "system_prompt",
        "system_prompt_file",
        "min_criteria_per_requirement",
    }
    assert brief <= set(schema.BRIEF_KEYS)
    assert {"system_prompt", "system_prompt_file"} | run <= set(schema.DEFAULTS_KEYS)
    gate = {"max_requirements_drop", "max_features_drop", "max_recall_drop", "max_tokens_increase"}
    assert gate | {"max_cost_increase"} <= set(schema.GATE_KEYS)
    assert {"command", "url", "env", "specs_dir"} <= set(schema.SERVER_KEYS)
    assert {"tools", "remind"} <= set(schema.SCAFFOLD_KEYS)
    assert {"strategy", "keep_last", "summary_at"} <= set(schema.CONTEXT_KEYS)


def test_options_and_fixtures_stay(pytester: pytest.Pytester) -> None:
    help_text = pytester.runpytest("--help").stdout.str()
    for option in ("--specbench-config", "--models", "--briefs", "--scaffolds", "--specbench-strict"):
        assert option in help_text  # the old selection options: deprecated aliases for one release
    for option in ("--specbench-models", "--specbench-briefs", "--specbench-scaffolds"):
        assert option in help_text
    for option in ("--specbench-report", "--specbench-transport", "specbench_config", "specbench_report"):
        assert option in help_text
    for option in ("--specbench-record-mode", "--specbench-cassettes", "specbench_record_mode"):
        assert option in help_text
    for option in ("--specbench-html", "specbench_html", "--specbench-progress"):
        assert option in help_text
    for option in ("--specbench-baseline", "specbench_baseline", "--specbench-repeats"):
        assert option in help_text
    fixtures = pytester.runpytest("--fixtures").stdout.str()
    for name in ("spec_run", "model", "brief", "scaffold", "specbench_tools", "mcp_server", "model_client"):
        assert f"\n{name} " in fixtures or f"\n{name}\n" in fixtures or f"{name} -- " in fixtures
    for name in ("specbench_portal", "specbench_paths", "specbench_settings", "specbench_model"):
        assert name in fixtures
    for name in ("specbench_brief", "specbench_scaffold", "specbench_plan", "specbench_client_factory"):
        assert name in fixtures


def test_results_record_keeps_its_fields() -> None:
    from pytest_specbench._run.record import base_record, stats_fields
    from pytest_specbench.agent.stats import RunStats
    from pytest_specbench.config.settings import BriefConfig, ModelConfig, Provider

    model = ModelConfig(id="m", provider=Provider.OPENAI, model="gpt")
    brief = BriefConfig(id="b", codebase=Path("."), prompt="p")
    record = base_record("test_spec[m-b]", model, brief) | stats_fields(RunStats())
    fields = {"version", "test_id", "model", "brief", "scaffold", "provider", "model_name", "turns"}
    fields |= {"tool_calls", "tool_errors", "tool_errors_by_kind", "input_tokens", "output_tokens", "seconds"}
    assert fields | {"retries", "max_identical_streak", "scaffold_calls", "truncated_turns"} <= set(record)
    assert {"reasoning_tokens", "reasoning_turns", "cache_read_input_tokens"} <= set(record)


def test_check_names_keep_their_order() -> None:
    """Check names are config values (`known_failures`) and results.json keys: new ones go last."""
    from pytest_specbench.config.checks import CHECK_NAMES

    pinned = ["no_loop", "terminated", "final_response", "files_exist", "no_false_claims"]
    pinned += ["min_requirements", "min_features", "feature_recall", "on_topic", "tree_quality"]
    assert list(CHECK_NAMES[: len(pinned) + 1]) == [*pinned, "min_criteria_per_requirement"]


def test_cassette_names_and_modes_stay(tmp_path: Path) -> None:
    from pytest_specbench.replay import RecordMode, cassette_path

    assert [m.value for m in RecordMode] == ["off", "none", "once", "all"]
    assert cassette_path(tmp_path, "test_spec[m-b]").name == "test_spec.m-b.jsonl"
    assert cassette_path(tmp_path, "test_spec[m-b]", 2).name == "test_spec.m-b.sample-2.jsonl"


def test_the_specbench_command_keeps_its_subcommands() -> None:
    from pytest_specbench.cli import SUBCOMMANDS

    assert {"compare", "merge"} <= set(SUBCOMMANDS)
