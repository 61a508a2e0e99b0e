"""pytest entry point: options, hooks and fixtures, each forwarding to a small module.

Registered under `pytest11`, so `import pytest_specbench` alone has no side effects,
and the model SDKs and the MCP SDK are imported only by runs that use them.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_specbench.agent.tools import RunPaths, Transport
from pytest_specbench.config.settings import (
    BARE,
    BriefConfig,
    ModelConfig,
    RecordMode,
    RunSettings,
    ScaffoldConfig,
)
from pytest_specbench.errors import ConfigError, InfrastructureError, ResultsFileError
from pytest_specbench.report.ci import junit_properties
from pytest_specbench.report.html import HtmlReport
from pytest_specbench.report.progress import Progress, ProgressMode
from pytest_specbench.report.summary import ResultsCollector
from pytest_specbench._session.runner import OPENED_KEY, RECORD_KEY, Runner
from pytest_specbench._session.session import SESSION_KEY, SpecbenchSession

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

    from pytest_specbench.agent.tools import MCPToolSession
    from pytest_specbench.models.types import ModelClient
    from pytest_specbench._run.result import SampledRun, SpecRun
    from pytest_specbench.scaffold import ScaffoldedTools

PARAMETRIZED = frozenset({"model", "brief"})


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the --specbench-* options, the selection options and their ini twins."""
    group = parser.getgroup("specbench", "evaluate LLMs on agentic spec writing (pytest-specbench)")
    group.addoption(
        "--specbench-config",
        dest="specbench_config",
        default=None,
        metavar="PATH",
        help="specbench.toml to use (default: ini specbench_config, else evals/specbench.toml).",
    )
    group.addoption(
        "--models",
        dest="specbench_models",
        default=None,
        metavar="IDS",
        help="Comma-separated model ids to run (default: all in the config).",
    )
    group.addoption(
        "--briefs",
        dest="specbench_briefs",
        default=None,
        metavar="IDS",
        help="Comma-separated brief ids to run (default: all in the config).",
    )
    group.addoption(
        "--scaffolds",
        dest="specbench_scaffolds",
        default=None,
        metavar="IDS",
        help="Comma-separated scaffolds to run each pair with: bare, full or a [scaffolds.<id>] "
        "(default: bare). Test ids of non-bare runs end in -<scaffold>.",
    )
    group.addoption(
        "--specbench-strict",
        dest="specbench_strict",
        action="store_true",
        default=False,
        help="A model whose API key is missing is an error, not a skip (for CI gates).",
    )
    group.addoption(
        "--specbench-report",
        dest="specbench_report",
        default=None,
        metavar="DIR",
        help="Write DIR/results.json and DIR/transcripts/<test_id>.jsonl.",
    )
    group.addoption(
        "--specbench-transport",
        dest="specbench_transport",
        default=Transport.MEMORY.value,
        choices=[t.value for t in Transport],
        help="How the reference MCP server runs: in-process memory (default) or a stdio subprocess.",
    )
    group.addoption(
        "--specbench-record-mode",
        dest="specbench_record_mode",
        default=None,
        choices=[mode.value for mode in RecordMode],
        help="off (default): live; none: replay cassettes only, a missing one or drift is an error; "
        "once: replay where a cassette exists, else run live and record; all: run live and re-record.",
    )
    group.addoption(
        "--specbench-cassettes",
        dest="specbench_cassettes",
        default=None,
        metavar="DIR",
        help="Where cassettes live, one <test id>.jsonl per test (default: cassettes/ beside the config).",
    )
    group.addoption(
        "--specbench-html",
        dest="specbench_html",
        default=None,
        metavar="PATH",
        help="Write one self-contained HTML report (overview, charts, side by side, transcripts) to PATH.",
    )
    group.addoption(
        "--specbench-progress",
        dest="specbench_progress",
        default=ProgressMode.AUTO.value,
        choices=[m.value for m in ProgressMode],
        help="Live progress of running tests: auto (live on a TTY, else a line per finished run), on, off.",
    )
    group.addoption(
        "--specbench-repeats",
        dest="specbench_repeats",
        default=None,
        type=_positive,
        metavar="N",
        help="Samples per run, over the config's repeats (run concurrently; min_passes of them must pass).",
    )
    group.addoption(
        "--specbench-baseline",
        dest="specbench_baseline",
        default=None,
        metavar="PATH",
        help="An accepted results.json: each test in it also gets the no_regression check.",
    )
    parser.addini("specbench_baseline", "Accepted results.json to gate against, relative to the rootdir.")
    parser.addini("specbench_config", "specbench.toml to use, relative to the rootdir.", default="")
    parser.addini("specbench_record_mode", "off, none, once or all (the command line wins).", default="")
    parser.addini("specbench_cassettes", "Cassette directory, relative to the rootdir.", default="")
    parser.addini("specbench_report", "Directory for results.json and transcripts.", default="")
    parser.addini("specbench_html", "Write the HTML report to this path.", default="")
    parser.addini("specbench_strict", "Missing API keys are errors, not skips.", type="bool", default=False)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise pytest.UsageError(f"--specbench-repeats: expected a whole number of at least 1, got {text!r}")
    return int(text)


def pytest_configure(config: pytest.Config) -> None:
    """Resolve options, validate the config and, on the controller, collect results."""
    config.addinivalue_line("markers", "specbench: a model × brief run of pytest-specbench")
    try:
        session = SpecbenchSession.from_config(config)
        session.load_if_present()
        session.load_baseline()
    except (ConfigError, ResultsFileError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(SnapshotDefaults(), "specbench-snapshot")
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist
        collector = ResultsCollector(session.report_dir, session.redact, session.baseline_models())
        config.pluginmanager.register(collector, "specbench-results")
        mode = ProgressMode(config.getoption("specbench_progress"))
        if mode is not ProgressMode.OFF:
            directory = session.local_dir / "progress"
            progress = Progress(mode, directory, collector.records.get, session.show_progress)
            config.pluginmanager.register(progress, "specbench-progress")
        if session.html_path is not None:
            page = HtmlReport(session.html_path, collector, session.transcript_dir)
            config.pluginmanager.register(page, "specbench-html")
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(WorkerSetup(session), "specbench-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    """On the controller, once every worker is gone: stop the session's local model servers."""
    session = config.stash.get(SESSION_KEY, None)
    if session is not None and not hasattr(config, "workerinput"):
        session.stop_local_servers()


class WorkerSetup:
    """Tells each xdist worker where the session's shared state lives; registered only with xdist."""

    def __init__(self, session: SpecbenchSession) -> None:
        self.session = session

    def pytest_configure_node(self, node: Any) -> None:
        """Hand a new worker the shared directories (local servers, progress) and the controller's pid."""
        node.workerinput["specbench_local_dir"] = str(self.session.local_dir)
        node.workerinput["specbench_owner_pid"] = os.getpid()
        if self.session.progress_dir is not None:
            node.workerinput["specbench_progress_dir"] = str(self.session.progress_dir)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize every test that uses a run over the selected models × briefs (× scaffolds, if used)."""
    if not PARAMETRIZED & set(metafunc.fixturenames):
        return
    session = metafunc.config.stash[SESSION_KEY]
    with_scaffold = "scaffold" in metafunc.fixturenames
    try:
        params = session.runs() if with_scaffold else session.pairs()
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    metafunc.parametrize(("model", "brief", "scaffold") if with_scaffold else ("model", "brief"), params)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Attach the run's record (a plain dict) to each report; an infrastructure error is its one line."""
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(InfrastructureError):
        # The message names the cause and the fix; the frames through the fixtures add nothing.
        report.longrepr = f"{call.excinfo.typename}: {call.excinfo.value}"
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "model" in params and "brief" in params:
        report.specbench = _record_for(item, params)
        if report.when == "teardown":  # where --junitxml reads a test's properties
            report.user_properties.extend(junit_properties(report.specbench))
    return report


def _record_for(item: pytest.Item, params: dict[str, Any]) -> dict[str, Any]:
    from pytest_specbench._run.result import base_record

    record = item.stash.get(RECORD_KEY, None)
    return record or base_record(item.name, params["model"], params["brief"], params.get("scaffold", BARE))


@pytest.fixture
def model() -> ModelConfig:
    """The model under test, parametrized from specbench.toml."""
    raise pytest.UsageError("`model` is parametrized from specbench.toml; is the config loaded?")


@pytest.fixture
def brief() -> BriefConfig:
    """The brief under test, parametrized from specbench.toml."""
    raise pytest.UsageError("`brief` is parametrized from specbench.toml; is the config loaded?")


@pytest.fixture
def scaffold() -> ScaffoldConfig:
    """The scaffold under test (bare unless --scaffolds selects more), parametrized like model and brief."""
    raise pytest.UsageError("`scaffold` is parametrized from --scaffolds; is the config loaded?")


@pytest.fixture
def specbench_settings(request: pytest.FixtureRequest, model: ModelConfig, brief: BriefConfig) -> RunSettings:
    """The run's limits and sampling settings, model over brief over [defaults]."""
    return request.config.stash[SESSION_KEY].settings(model, brief)


@pytest.fixture
def specbench_paths(brief: BriefConfig, tmp_path: Any) -> RunPaths:
    """The run's workspace, specs directory and codebase (a copy of the brief's), all under tmp_path."""
    return RunPaths.create(brief, tmp_path)


@pytest.fixture
def specbench_portal() -> Iterator[BlockingPortal]:
    """An event loop in a thread, where the async MCP and model clients live during a test."""
    from anyio.from_thread import start_blocking_portal

    with start_blocking_portal() as portal:
        yield portal


@pytest.fixture
def model_client(
    request: pytest.FixtureRequest,
    model: ModelConfig,
    brief: BriefConfig,
    specbench_settings: RunSettings,
    specbench_paths: RunPaths,
    specbench_portal: BlockingPortal,
) -> Iterator[ModelClient]:
    """`model`'s client (skipped without its key) or the replay of its cassette, its turns redacted."""
    session = request.config.stash[SESSION_KEY]
    params = getattr(request.node, "callspec", None)
    scaffold_id = getattr(getattr(params, "params", {}).get("scaffold"), "id", BARE.id)
    opened = session.open_model(
        model,
        specbench_settings,
        request.node.name,
        paths=specbench_paths,
        labels={"brief": brief.id, "scaffold": scaffold_id},
    )
    with specbench_portal.wrap_async_context_manager(opened) as client:
        request.node.stash[OPENED_KEY] = client
        yield client


@pytest.fixture
def mcp_server(
    request: pytest.FixtureRequest,
    brief: BriefConfig,
    specbench_paths: RunPaths,
    specbench_settings: RunSettings,
    specbench_portal: BlockingPortal,
) -> Iterator[MCPToolSession]:
    """A client session connected to the brief's MCP server (the reference one unless the brief names one)."""
    from pytest_specbench.agent.tools import open_tool_session

    specbench = request.config.stash[SESSION_KEY]
    timeout_s, redact = specbench_settings.tool_timeout_s, specbench.redact
    opened = open_tool_session(brief, specbench_paths, specbench.transport, timeout_s, redact=redact)
    with specbench_portal.wrap_async_context_manager(opened) as session:
        yield session


@pytest.fixture
def specbench_tools(
    mcp_server: MCPToolSession,
    scaffold: ScaffoldConfig,
    specbench_paths: RunPaths,
    specbench_settings: RunSettings,
    specbench_portal: BlockingPortal,
) -> Iterator[ScaffoldedTools]:
    """The tools the model is offered: the brief's MCP server plus the scaffold's (none for bare)."""
    from pytest_specbench.scaffold import open_scaffolded_tools

    directory = specbench_paths.workspace / "scaffold"
    opened = open_scaffolded_tools(mcp_server, scaffold, directory, specbench_settings.tool_timeout_s)
    with specbench_portal.wrap_async_context_manager(opened) as tools:
        yield tools


@pytest.fixture
def spec_run(
    request: pytest.FixtureRequest,
    model: ModelConfig,
    brief: BriefConfig,
    scaffold: ScaffoldConfig,
    specbench_settings: RunSettings,
    specbench_portal: BlockingPortal,
    tmp_path: Path,
) -> SpecRun | SampledRun:
    """The finished run of `model` on `brief` with `scaffold`: its tree, transcript, stats and checks."""
    runner = Runner(request.config.stash[SESSION_KEY])
    if specbench_settings.repeats > 1:
        return runner.run_samples(request.node, specbench_portal, model, brief, scaffold, tmp_path)
    # One sample: the fixtures a test may also request, so it sees the very objects of the run.
    tools = request.getfixturevalue("specbench_tools")
    return runner.run(
        request.node,
        specbench_portal,
        request.getfixturevalue("model_client"),
        tools,
        model,
        brief,
        request.getfixturevalue("specbench_paths"),
        scaffold=scaffold,
        reminder=tools.reminder,
    )


class SnapshotDefaults:
    """Makes `snapshot` render spec trees as Markdown in tests that use `spec_run`.

    Registered in pytest_configure, after syrupy's own plugin, so this `snapshot`
    overrides syrupy's and receives it as its base.
    """

    @pytest.fixture
    def snapshot(self, request: pytest.FixtureRequest, snapshot: Any) -> Any:
        """syrupy's snapshot, with the spec-tree Markdown extension where a run is under test."""
        if "spec_run" not in request.fixturenames:
            return snapshot
        from pytest_specbench.report.snapshot import SpecTreeSnapshotExtension

        return snapshot.use_extension(SpecTreeSnapshotExtension)
