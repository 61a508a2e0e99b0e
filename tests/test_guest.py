"""A guest in other suites: the plugin touches only the tests that opt in, under prefixed names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

OWN_FIXTURES = """
import pytest


@pytest.fixture
def model():
    return "my-orm-model"


@pytest.fixture
def brief():
    return {"title": "a brief of the application's own"}


@pytest.fixture
def scaffold():
    return "a scaffold of the application's own"
"""
OWN_TESTS = """
def test_model(model, brief, scaffold):
    assert model == "my-orm-model"
    assert brief["title"].startswith("a brief")
    assert scaffold.startswith("a scaffold")


def test_plain():
    assert True
"""


def test_a_project_with_its_own_model_and_brief_fixtures_and_no_config_is_untouched(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makeconftest(OWN_FIXTURES)
    pytester.makepyfile(test_own_app=OWN_TESTS)

    result = pytester.runpytest("-p", "no:cacheprovider", *xdist_args)

    result.assert_outcomes(passed=2)
    lines = result.stdout.lines  # no table, no line of ours: nothing of ours ran
    assert not [line for line in lines if line.startswith("specbench") or "= specbench" in line]


def test_an_eval_suite_beside_the_projects_own_model_fixture_works(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    name = suite.model("alpha")
    suite.brief("notes", min_features=1, min_requirements=1)
    suite.write("def test_spec(spec_run, specbench_model):\n    spec_run.verify()\n")
    pytester.makeconftest(OWN_FIXTURES)
    pytester.makepyfile(test_own_app=OWN_TESTS)
    provider.script(name, writing_one())

    result = pytester.runpytest(*xdist_args)

    result.assert_outcomes(passed=3)  # the app's two tests, untouched, and the one eval
    result.stdout.fnmatch_lines(["*test_spec[[]alpha-notes[]]*PASSED*"])
    assert "test_model[" not in result.stdout.str()


def test_a_suites_own_models_option_keeps_its_name(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
def pytest_addoption(parser):
    parser.addoption("--models", default="none", help="the application's own option")


def pytest_configure(config):
    config.own_models = config.getoption("--models")
"""
    )
    pytester.makepyfile(
        test_own_app="def test_option(request):\n    assert request.config.own_models == 'x'\n"
    )

    result = pytester.runpytest("--models", "x")

    result.assert_outcomes(passed=1)
    assert "deprecated" not in result.stdout.str()


def test_the_old_selection_options_still_select_and_warn(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    suite.model("alpha")
    suite.model("beta")
    suite.brief("notes")
    suite.write()

    result = pytester.runpytest("--models", "beta", "--collect-only", "-q")

    result.stdout.fnmatch_lines(["*test_spec[[]beta-notes[]]*"])
    assert "alpha-notes" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*--models is deprecated: use --specbench-models*"])
    result.stdout.fnmatch_lines(["*ignore::pytest_specbench.SpecbenchDeprecationWarning*"])


def test_a_suite_that_errors_on_warnings_is_told_how_to_silence_the_old_names(
    suite: Any, pytester: pytest.Pytester
) -> None:
    suite.model("alpha")
    suite.brief("notes")
    suite.write()
    pytester.makeini("[pytest]\nspecbench_config = specbench.toml\nfilterwarnings = error\n")

    strict = pytester.runpytest("--models", "alpha", "--collect-only", "-q")
    silenced = pytester.runpytest(
        "--models",
        "alpha",
        "--collect-only",
        "-q",
        "-W",
        "ignore::pytest_specbench.SpecbenchDeprecationWarning",
    )

    assert strict.ret != 0
    assert "--models is deprecated: use --specbench-models" in strict.stdout.str() + strict.stderr.str()
    assert silenced.ret == 0
    silenced.stdout.fnmatch_lines(["*test_spec[[]alpha-notes[]]*"])


def test_the_old_fixture_names_work_for_a_test_that_opted_in_and_warn(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    suite.model("alpha")
    suite.brief("notes")
    suite.write(
        """
import pytest


@pytest.mark.specbench
def test_ids(model, brief, scaffold):
    assert (model.id, brief.id, scaffold.id) == ("alpha", "notes", "bare")
"""
    )

    result = pytester.runpytest("-W", "default::pytest_specbench.SpecbenchDeprecationWarning")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*the fixture `model` of pytest-specbench is deprecated: request `specbench_model`*"]
    )


def writing_one() -> list[Reply]:
    feature = call("create_feature", title="Notes", description="Taking notes.")
    requirement = call(
        "create_requirement",
        feature_id="F-0001",
        title="Add a note",
        description="d",
        acceptance_criteria=["c"],
    )
    return [Reply(tool_calls=[feature, requirement]), Reply.final("Wrote 1 feature and 1 requirement.")]


# --- one run path: what once reached a single run and missed the samples -------------------------------


def test_every_sample_gets_the_briefs_system_prompt_and_its_record_says_where_it_came_from(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    name = suite.model("alpha")
    suite.brief("notes", min_features=1, min_requirements=1, repeats=3, system_prompt="CUSTOM PROMPT 7")
    suite.write("def test_spec(spec_run):\n    spec_run.verify()\n    assert len(spec_run.samples) == 3\n")
    systems: list[str] = []

    def first(body: dict[str, Any]) -> Reply:
        systems.append(body["messages"][0]["content"])
        return writing_one()[0]

    provider.script(name, [first, Reply.final("Wrote 1 feature and 1 requirement.")])

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(passed=1)
    assert len(systems) == 3 and all("CUSTOM PROMPT 7" in s for s in systems), systems
    (record,) = json.loads((pytester.path / "out" / "results.json").read_text())
    assert record["source"] == "live"
    assert [s["source"] for s in record["per_sample"]] == ["live", "live", "live"]
    result.stdout.fnmatch_lines(["*test_spec[[]alpha-notes[]]*PASSED 3/3*live*"])


def test_a_model_client_override_under_repeats_is_refused_with_the_way_out(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    name = suite.model("alpha")
    suite.brief("notes", min_features=1, min_requirements=1, repeats=2)
    suite.write()
    pytester.makeconftest(
        """
import pytest


class Logged:
    def __init__(self, inner):
        self.inner = inner

    async def generate(self, system, messages, tools):
        return await self.inner.generate(system, messages, tools)


@pytest.fixture
def model_client(model_client):
    yield Logged(model_client)
"""
    )
    provider.script(name, writing_one())

    result = pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*`model_client` is overridden, and this test runs 2 samples*override `specbench_client_factory`*"]
    )


def test_a_client_factory_override_reaches_every_sample(
    suite: Any,
    provider: FakeProvider,
    pytester: pytest.Pytester,
    xdist_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    log = tmp_path / "turns.log"
    monkeypatch.setenv("SPECBENCH_TURNS_LOG", str(log))
    name = suite.model("alpha")
    suite.brief("notes", min_features=1, min_requirements=1, repeats=3)
    suite.write("def test_spec(spec_run):\n    spec_run.verify()\n")
    pytester.makeconftest(
        """
import contextlib
import os

import pytest


class Counted:
    def __init__(self, inner, path):
        self.inner, self.path = inner, path

    async def generate(self, system, messages, tools):
        with open(self.path, "a") as log:
            log.write("turn\\n")
        return await self.inner.generate(system, messages, tools)


@pytest.fixture
def specbench_client_factory(specbench_client_factory):
    log = os.environ["SPECBENCH_TURNS_LOG"]

    @contextlib.asynccontextmanager
    async def opened(sample, paths):
        async with specbench_client_factory(sample, paths) as client:
            yield Counted(client, log)

    return opened
"""
    )
    provider.script(name, writing_one())

    result = pytester.runpytest(*xdist_args)

    result.assert_outcomes(passed=1)
    assert len(log.read_text().splitlines()) == 6  # 3 samples × 2 turns, every one through the user's wrapper


def test_ini_paths_resolve_against_the_rootdir_from_a_subdirectory(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    name = suite.model("alpha")
    suite.brief("notes", min_features=1, min_requirements=1)
    suite.write("def test_spec(spec_run):\n    spec_run.verify()\n")
    pytester.makeini(
        "[pytest]\nspecbench_config = specbench.toml\n"
        "specbench_report = out\nspecbench_html = out/page.html\n"
    )
    provider.script(name, writing_one())
    first = pytester.runpytest()
    first.assert_outcomes(passed=1)
    (pytester.path / "accepted.json").write_text((pytester.path / "out" / "results.json").read_text())
    pytester.makeini(
        "[pytest]\nspecbench_config = specbench.toml\nspecbench_report = out\n"
        "specbench_html = out/page.html\nspecbench_baseline = accepted.json\n"
    )
    (pytester.path / "out" / "results.json").unlink()
    subdirectory = pytester.mkdir("sub")
    provider.script(name, writing_one())

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(subdirectory)
        second = pytester.runpytest(str(pytester.path), "--rootdir", str(pytester.path))

    second.assert_outcomes(passed=1)
    assert (pytester.path / "out" / "results.json").exists()
    assert (pytester.path / "out" / "page.html").exists()
    assert not (subdirectory / "out").exists()
    (record,) = json.loads((pytester.path / "out" / "results.json").read_text())
    gate = next(c for c in record["checks"] if c["name"] == "no_regression")
    assert gate["passed"] and "no regression" in gate["detail"], gate  # the baseline was found and read
