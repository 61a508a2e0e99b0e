"""The plugin end to end: pytester runs of a suite whose model is a scripted loopback server."""

from __future__ import annotations

import json

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

pytestmark = pytest.mark.usefixtures("provider")


def spec_script(features: int, requirements: int) -> list[Reply]:
    """A model that writes `features` features, then `requirements` requirements, then stops."""
    make_features = [
        call("create_feature", title=f"Feature {i}", description=f"What feature {i} does.")
        for i in range(1, features + 1)
    ]
    make_requirements = [
        call(
            "create_requirement",
            feature_id=f"F-{(i % features) + 1:04d}",
            title=f"Requirement {i}",
            description=f"The system shall do thing {i}.",
            acceptance_criteria=[f"Given {i}, then {i}"],
        )
        for i in range(1, requirements + 1)
    ]
    return [
        Reply(tool_calls=[call("list_files")], input_tokens=100, output_tokens=10),
        Reply(tool_calls=make_features, input_tokens=200, output_tokens=20),
        Reply(tool_calls=make_requirements, input_tokens=300, output_tokens=30),
        Reply.final(f"Wrote {features} features and {requirements} requirements."),
    ]


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_scripted_run_counts_everywhere(
    suite, provider: FakeProvider, pytester: pytest.Pytester, protocol: str, xdist_args: list[str]
) -> None:
    name = suite.model("writer", protocol)
    provider.script(name, spec_script(features=3, requirements=7))
    suite.brief("notes", min_requirements=5, min_features=2)
    suite.write()

    result = pytester.runpytest("--snapshot-update", "--specbench-report=out", *xdist_args)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*specbench*", "test_spec[[]writer-notes[]]*PASSED*3*7*4*11*610*65*"])
    snapshot = pytester.path / "__snapshots__" / "test_suite_specs" / "test_spec[writer-notes].md"
    text = snapshot.read_text()
    assert text.count("\n## F-") == 3 and text.count("\n### R-") == 7
    (record,) = json.loads((pytester.path / "out" / "results.json").read_text())
    assert (record["features"], record["requirements"], record["turns"], record["tool_calls"]) == (
        3,
        7,
        4,
        11,
    )
    assert record["outcome"] == "passed" and record["input_tokens"] == 610
    assert (pytester.path / "out" / "transcripts" / "test_spec[writer-notes].jsonl").is_file()

    again = pytester.runpytest(*xdist_args)
    again.assert_outcomes(passed=1)


def test_ids_are_model_brief_pairs_and_selection_filters(suite, pytester: pytest.Pytester) -> None:
    for model_id in ("alpha", "beta"):
        suite.model(model_id)
    for brief_id in ("notes", "todo"):
        suite.brief(brief_id)
    suite.write()

    everything = pytester.runpytest("--collect-only", "-q")
    everything.stdout.fnmatch_lines(
        [
            "*test_spec[[]alpha-notes[]]",
            "*test_spec[[]alpha-todo[]]",
            "*test_spec[[]beta-notes[]]",
            "*4 tests*",
        ]
    )
    selected = pytester.runpytest(
        "--collect-only", "-q", "--specbench-models", "beta", "--specbench-briefs", "todo"
    )
    selected.stdout.fnmatch_lines(["*test_spec[[]beta-todo[]]", "*1 test*"])
    by_k = pytester.runpytest("--collect-only", "-q", "-k", "alpha and notes")
    by_k.stdout.fnmatch_lines(["*test_spec[[]alpha-notes[]]", "*1/4 tests*"])


def test_a_model_runs_only_the_briefs_it_names(suite, pytester: pytest.Pytester) -> None:
    suite.model("alpha")
    suite.model("local", briefs=["todo"])
    for brief_id in ("notes", "todo"):
        suite.brief(brief_id)
    suite.write()

    result = pytester.runpytest("--collect-only", "-q")

    result.stdout.fnmatch_lines(
        [
            "*test_spec[[]alpha-notes[]]",
            "*test_spec[[]alpha-todo[]]",
            "*test_spec[[]local-todo[]]",
            "*3 tests*",
        ]
    )


def test_unknown_model_id_is_a_usage_error_listing_the_known(suite, pytester: pytest.Pytester) -> None:
    suite.model("alpha")
    suite.brief("notes")
    suite.write()

    result = pytester.runpytest("--specbench-models", "gamma")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--specbench-models names unknown id(s) gamma*known: alpha*"])


def test_broken_config_is_a_usage_error_naming_file_table_and_key(suite, pytester: pytest.Pytester) -> None:
    suite.model("alpha", max_turns="80")
    suite.brief("notes")
    suite.write()

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*specbench.toml: [[]models.alpha[]]: max_turns: expected int*remove the quotes*"]
    )
    assert "Traceback" not in result.stderr.str()


def test_missing_key_skips_and_strict_errors(
    suite, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist_args: list[str]
) -> None:
    suite.model("remote", base_url="https://api.example.invalid/v1", api_key_env="SPECBENCH_UNSET_KEY")
    suite.brief("notes")
    suite.write()
    monkeypatch.delenv("SPECBENCH_UNSET_KEY", raising=False)

    skipped = pytester.runpytest("-rs", *xdist_args)
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*$SPECBENCH_UNSET_KEY is not set*"])

    strict = pytester.runpytest("--specbench-strict", *xdist_args)
    strict.assert_outcomes(errors=1)
    strict.stdout.fnmatch_lines(["*MissingCredentials*SPECBENCH_UNSET_KEY*"])


def test_check_failures_fail_the_test_with_every_failed_check(
    suite, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    name = suite.model("short")
    provider.script(name, [*spec_script(1, 2)[:3], Reply.final("Done: see specs/SPEC.md")])
    suite.brief("notes", min_requirements=150, min_features=4)
    suite.write("def test_spec(spec_run):\n    spec_run.verify()\n")

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*short on notes: 3 of 12 checks failed*",
            '*no_false_claims: says "see specs/SPEC.md" — no such file*',
            "*min_requirements: 2 < 150*",
            "*min_features: 1 < 4*",
        ]
    )
    result.stdout.fnmatch_lines(["*FAILED*no_false_claims*"])
    (record,) = json.loads((pytester.path / "out" / "results.json").read_text())
    assert record["outcome"] == "failed"
    assert [c["name"] for c in record["checks"] if not c["passed"]] == [
        "no_false_claims",
        "min_requirements",
        "min_features",
    ]


def test_run_stopped_by_max_turns_fails_terminated(
    suite, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    name = suite.model("looper")
    provider.script(name, [Reply.tool("list_files")] * 5)
    suite.brief("notes")
    suite.write("def test_spec(spec_run):\n    spec_run.verify()\n", defaults="max_turns = 3\n")

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*terminated: max_turns=3 reached without a final answer*"])


def test_unreachable_provider_is_an_error_not_a_failure(
    suite, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    suite.model("down", base_url="http://127.0.0.1:9/v1", max_retries=0)
    suite.brief("notes")
    suite.write()

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*ProviderError*cannot connect to http://127.0.0.1:9/v1*", "*ERROR*cannot connect*"]
    )
    (record,) = json.loads((pytester.path / "out" / "results.json").read_text())
    assert record["outcome"] == "error" and "cannot connect" in record["error"]


def test_xfail_model_is_a_strict_expected_failure(
    suite, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    name = suite.model("weak", xfail="too small for the job")
    provider.script(name, [Reply.final("I cannot.")])
    suite.brief("notes", min_requirements=1)
    suite.write("def test_spec(spec_run):\n    spec_run.verify()\n")

    result = pytester.runpytest()

    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["*XFAILED*min_requirements: 0 < 1*"])


def test_fixtures_on_their_own(suite, pytester: pytest.Pytester) -> None:
    suite.model("alpha")
    suite.brief("notes")
    suite.write(
        """
def test_tools(mcp_server, specbench_portal, specbench_brief, specbench_model):
    tools = specbench_portal.call(mcp_server.list_tools)
    assert {"create_feature", "read_file", "get_spec_tree"} <= {t.name for t in tools}
    assert specbench_model.id == "alpha" and specbench_brief.id == "notes"
"""
    )

    pytester.runpytest().assert_outcomes(passed=1)


def test_each_run_reads_its_own_copy_of_the_codebase(
    suite, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    suite.model("alpha")
    suite.model("beta")
    suite.brief("notes")
    suite.write(
        """
def test_codebase(specbench_paths, specbench_brief, specbench_model):
    assert specbench_paths.codebase != specbench_brief.codebase
    assert sorted(p.name for p in specbench_paths.codebase.iterdir()) == ["README.md", "app.py"]
    (specbench_paths.codebase / "HACKED.md").write_text("written by a run")
    (specbench_paths.codebase / "app.py").write_text("changed by a run")
"""
    )

    pytester.runpytest(*xdist_args).assert_outcomes(passed=2)

    source = pytester.path / "codebases" / "notes"
    assert sorted(p.name for p in source.iterdir()) == ["README.md", "app.py"]
    assert "changed" not in (source / "app.py").read_text()


def test_help_lists_the_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")

    result.stdout.fnmatch_lines(
        [
            "*specbench*",
            "*--specbench-config=PATH*",
            "*--specbench-models=IDS*",
            "*--specbench-briefs=IDS*",
            "*--specbench-scaffolds=IDS*",
            "*--specbench-strict*",
            "*--specbench-report=DIR*",
            "*--specbench-transport=*",
            "*--specbench-html=PATH*",
            "*--specbench-progress=*",
        ]
    )
