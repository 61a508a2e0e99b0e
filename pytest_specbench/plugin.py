"""pytest entry point: options, hooks and fixtures, each forwarding to a small module.

Registered under `pytest11`, so `import pytest_specbench` alone has no side effects,
and the model SDKs and the MCP SDK are imported only by runs that use them.

A guest in other suites: only a test that requests `spec_run` or a `specbench_*` fixture
(directly or through another fixture, such as the deprecated `model`), or carries the
`specbench` marker, is parametrized, reported and configured by this plugin. A project's own
`model`, `brief` or `scaffold` fixtures are never touched.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_specbench._session import deprecated
from pytest_specbench._session.runner import RECORD_KEY, ClientFactory, PluginClients, Runner, remember
from pytest_specbench._session.session import SESSION_KEY, SpecbenchSession
from pytest_specbench.agent.tools import RunPaths, Transport
from pytest_specbench.config.settings import (
    BARE,
    FULL_CONTEXT,
    BriefConfig,
    ContextConfig,
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

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

    from pytest_specbench._record import Record
    from pytest_specbench._run.plan import RunPlan
    from pytest_specbench._run.result import SpecRun
    from pytest_specbench.agent.tools import MCPToolSession
    from pytest_specbench.models.types import ModelClient
    from pytest_specbench.scaffold import ScaffoldedTools

PARAMETRIZED = ("specbench_model", "specbench_brief", "specbench_scaffold", "specbench_context")
MARKER = "specbench"


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
        "--specbench-models",
        dest="specbench_models",
        default=None,
        metavar="IDS",
        help="Comma-separated model ids to run (default: all in the config). Was --models.",
    )
    group.addoption(
        "--specbench-briefs",
        dest="specbench_briefs",
        default=None,
        metavar="IDS",
        help="Comma-separated brief ids to run (default: all in the config). Was --briefs.",
    )
    group.addoption(
        "--specbench-scaffolds",
        dest="specbench_scaffolds",
        default=None,
        metavar="IDS",
        help="Comma-separated scaffolds to run each pair with: bare, full or a [scaffolds.<id>] "
        "(default: bare). Test ids of non-bare runs end in -<scaffold>. Was --scaffolds.",
    )
    group.addoption(
        "--specbench-contexts",
        dest="specbench_contexts",
        default=None,
        metavar="IDS",
        help="Comma-separated context strategies to run each pair with: full, mask, summary, native "
        "(Anthropic's own context editing) or a [contexts.<id>] (default: full). Test ids of non-full "
        "runs end in -<context>.",
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
        "--specbench-strict-snapshots",
        dest="specbench_strict_snapshots",
        action="store_true",
        default=False,
        help="Hold live runs to their snapshots exactly too (by default only replays are: a live "
        "run's tree differs by CPU, build and threads, so its difference is reported, not failed).",
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
    parser.addini(
        "specbench_strict_snapshots",
        "Live runs' trees must match their snapshots.",
        type="bool",
        default=False,
    )


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise pytest.UsageError(f"--specbench-repeats: expected a whole number of at least 1, got {text!r}")
    return int(text)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser) -> Generator[None]:
    """After the root conftests added their options: the deprecated aliases, where the names are free."""
    yield
    deprecated.add_option_aliases(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Resolve options, validate the config and, on the controller, collect results."""
    config.addinivalue_line("markers", f"{MARKER}: a model × brief run of pytest-specbench (opts a test in)")
    deprecated.apply_option_aliases(config)
    session = SpecbenchSession.from_config(config)
    try:
        session.start()
    except (ConfigError, ResultsFileError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(SnapshotDefaults(), "specbench-snapshot")
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist
        _register_controller(config, session)


def _register_controller(config: pytest.Config, session: SpecbenchSession) -> None:
    options = session.options
    models = session.suite.baseline_models()
    collector = ResultsCollector(
        options.report_dir, session.redact, models, options.html_path, session.suite.native_contexts()
    )
    config.pluginmanager.register(collector, "specbench-results")
    mode = ProgressMode(config.getoption("specbench_progress"))
    if mode is not ProgressMode.OFF:
        directory = session.local_dir / "progress"
        progress = Progress(mode, directory, collector.records.get, session.show_progress)
        config.pluginmanager.register(progress, "specbench-progress")
    if options.html_path is not None:
        page = HtmlReport(options.html_path, collector, session.transcript_dir)
        config.pluginmanager.register(page, "specbench-html")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(WorkerSetup(session), "specbench-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    """On the controller, once every worker is gone: stop the session's local model servers.

    An xdist worker that ran a spec run holds the SDKs' heap (`mcp`'s and a provider's types) and
    ends right after this hook, so the interpreter's last collections are told to skip it
    (`gc.freeze()`): about 0.3 CPU-s a worker, which the controller waits for (bench/RESULTS.md,
    issue 25). Never the controller: it may be a process that lives on (`pytest.main()`, an
    in-process pytester run), and a frozen heap hides referrers from `gc.get_referrers`.
    """
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return
    if not hasattr(config, "workerinput"):
        session.clients.stop_local_servers()
    elif session.ran:
        gc.freeze()


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


def _opted_in(metafunc: pytest.Metafunc) -> bool:
    """The test is this plugin's: it asks for a run or a `specbench_*` fixture, or carries the marker."""
    names = metafunc.fixturenames
    wanted = "spec_run" in names or any(name.startswith("specbench_") for name in names)
    return wanted or metafunc.definition.get_closest_marker(MARKER) is not None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the plugin's tests over the selected models × briefs (× scaffolds, if used)."""
    if not _opted_in(metafunc):
        return
    suite = metafunc.config.stash[SESSION_KEY].suite
    with_scaffold, with_context = (name in metafunc.fixturenames for name in PARAMETRIZED[2:])
    try:
        params = suite.params(with_scaffold, with_context)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    names = PARAMETRIZED[:2] + (PARAMETRIZED[2],) * with_scaffold + (PARAMETRIZED[3],) * with_context
    metafunc.parametrize(names, params)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Attach the run's record (a plain dict) to each of the plugin's reports; an infrastructure error
    is its one line."""
    report = yield
    params = getattr(getattr(item, "callspec", None), "params", {})
    if PARAMETRIZED[0] not in params or PARAMETRIZED[1] not in params:
        return report  # not one of ours
    if call.excinfo is not None and call.excinfo.errisinstance(InfrastructureError):
        # The message names the cause and the fix; the frames through the fixtures add nothing.
        report.longrepr = f"{call.excinfo.typename}: {call.excinfo.value}"
    report.specbench = _record_for(item, params)
    if report.when == "teardown":  # where --junitxml reads a test's properties
        report.user_properties.extend(junit_properties(report.specbench))
    return report


def _record_for(item: pytest.Item, params: dict[str, Any]) -> Record:
    from pytest_specbench._run.record import base_record

    record = item.stash.get(RECORD_KEY, None)
    scaffold = params.get(PARAMETRIZED[2], BARE)
    return record or base_record(item.name, params[PARAMETRIZED[0]], params[PARAMETRIZED[1]], scaffold)


@pytest.fixture
def specbench_model() -> ModelConfig:
    """The model under test, parametrized from specbench.toml."""
    raise pytest.UsageError("`specbench_model` is parametrized from specbench.toml; is the config loaded?")


@pytest.fixture
def specbench_brief() -> BriefConfig:
    """The brief under test, parametrized from specbench.toml."""
    raise pytest.UsageError("`specbench_brief` is parametrized from specbench.toml; is the config loaded?")


@pytest.fixture
def specbench_scaffold() -> ScaffoldConfig:
    """The scaffold under test (bare unless --specbench-scaffolds selects more), parametrized likewise."""
    raise pytest.UsageError("`specbench_scaffold` is parametrized from specbench.toml; is the config loaded?")


@pytest.fixture
def specbench_context() -> ContextConfig:
    """The context strategy under test (full unless --specbench-contexts selects more)."""
    raise pytest.UsageError("`specbench_context` is parametrized from specbench.toml; is the config loaded?")


@pytest.fixture
def model(specbench_model: ModelConfig) -> ModelConfig:
    """Deprecated: `specbench_model`, the model under test."""
    deprecated.warn_fixture("model")
    return specbench_model


@pytest.fixture
def brief(specbench_brief: BriefConfig) -> BriefConfig:
    """Deprecated: `specbench_brief`, the brief under test."""
    deprecated.warn_fixture("brief")
    return specbench_brief


@pytest.fixture
def scaffold(specbench_scaffold: ScaffoldConfig) -> ScaffoldConfig:
    """Deprecated: `specbench_scaffold`, the scaffold under test."""
    deprecated.warn_fixture("scaffold")
    return specbench_scaffold


@pytest.fixture
def specbench_plan(
    request: pytest.FixtureRequest, specbench_model: ModelConfig, specbench_brief: BriefConfig, tmp_path: Path
) -> RunPlan:
    """The frozen plan of this test's run: settings with repeats applied, system prompt, record mode."""
    suite = request.config.stash[SESSION_KEY].suite
    # The scaffold axis only where the test asks for it (spec_run does): a test of the server alone
    # is not run once per scaffold.
    names = request.fixturenames
    scaffold = request.getfixturevalue(PARAMETRIZED[2]) if PARAMETRIZED[2] in names else BARE
    context = request.getfixturevalue(PARAMETRIZED[3]) if PARAMETRIZED[3] in names else FULL_CONTEXT
    return suite.plan(request.node, (specbench_model, specbench_brief, scaffold, context), tmp_path)


@pytest.fixture
def specbench_settings(specbench_plan: RunPlan) -> RunSettings:
    """The run's limits and sampling settings, model over brief over [defaults], repeats applied."""
    return specbench_plan.settings


@pytest.fixture
def specbench_paths(specbench_plan: RunPlan) -> RunPaths:
    """Sample 1's workspace, specs directory and codebase (a copy of the brief's), all under tmp_path."""
    return specbench_plan.paths(1)


@pytest.fixture
def specbench_portal() -> Iterator[BlockingPortal]:
    """An event loop in a thread, where the async MCP and model clients live during a test."""
    from anyio.from_thread import start_blocking_portal

    with start_blocking_portal() as portal:
        yield portal


@pytest.fixture
def specbench_client_factory(request: pytest.FixtureRequest, specbench_plan: RunPlan) -> ClientFactory:
    """`(sample, paths) -> async context manager of a ModelClient`: each sample's client, live or replayed.

    Override it to wrap or replace the client of every sample, repeats included.
    """
    return PluginClients(request.config.stash[SESSION_KEY], specbench_plan, request.node)


@pytest.fixture
def model_client(
    request: pytest.FixtureRequest,
    specbench_client_factory: ClientFactory,
    specbench_paths: RunPaths,
    specbench_portal: BlockingPortal,
) -> Iterator[ModelClient]:
    """Sample 1's client (skipped without its key) or the replay of its cassette, its turns redacted."""
    opened = specbench_client_factory(1, specbench_paths)
    with specbench_portal.wrap_async_context_manager(opened) as client:
        yield remember(request.node, "model_client", client)


@pytest.fixture
def mcp_server(
    specbench_plan: RunPlan,
    specbench_paths: RunPaths,
    specbench_portal: BlockingPortal,
) -> Iterator[MCPToolSession]:
    """Sample 1's client session to the brief's MCP server (the reference one unless the brief names one)."""
    from pytest_specbench.agent.tools import open_tool_session

    plan = specbench_plan
    timeout_s = plan.settings.tool_timeout_s
    opened = open_tool_session(plan.brief, specbench_paths, plan.transport, timeout_s, redact=plan.redactor)
    with specbench_portal.wrap_async_context_manager(opened) as session:
        yield session


@pytest.fixture
def specbench_tools(
    request: pytest.FixtureRequest,
    mcp_server: MCPToolSession,
    specbench_plan: RunPlan,
    specbench_paths: RunPaths,
    specbench_portal: BlockingPortal,
) -> Iterator[ScaffoldedTools]:
    """The tools sample 1 is offered: the brief's MCP server plus the scaffold's (none for bare)."""
    from pytest_specbench.scaffold import open_scaffolded_tools

    directory = specbench_paths.workspace / "scaffold"
    timeout_s = specbench_plan.settings.tool_timeout_s
    opened = open_scaffolded_tools(mcp_server, specbench_plan.scaffold, directory, timeout_s)
    with specbench_portal.wrap_async_context_manager(opened) as tools:
        yield remember(request.node, "specbench_tools", tools)


@pytest.fixture
def spec_run(
    request: pytest.FixtureRequest,
    specbench_scaffold: ScaffoldConfig,
    specbench_context: ContextConfig,
    specbench_plan: RunPlan,
    specbench_portal: BlockingPortal,
) -> SpecRun:
    """The finished run of the model on the brief with the scaffold: its tree, transcript, stats and
    checks; with repeats, every sample in `.samples`."""
    return Runner(request.config.stash[SESSION_KEY]).run(request, specbench_plan, specbench_portal)


class SnapshotDefaults:
    """Makes `snapshot` render spec trees as Markdown in tests that use `spec_run`.

    Registered in pytest_configure, after syrupy's own plugin, so this `snapshot`
    overrides syrupy's and receives it as its base.
    """

    @pytest.fixture
    def snapshot(self, request: pytest.FixtureRequest, snapshot: Any) -> Any:
        """syrupy's snapshot, with the spec-tree Markdown extension where a run is under test.

        A deterministic run (a replay) is held to its snapshot exactly; a live run's difference is
        reported in its record, its line and the report, unless --specbench-strict-snapshots.
        """
        if "spec_run" not in request.fixturenames:
            return snapshot
        from pytest_specbench.report.snapshot import LiveSpecTreeSnapshotExtension, SpecTreeSnapshotExtension

        run: SpecRun = request.getfixturevalue("spec_run")
        strict = request.config.stash[SESSION_KEY].options.strict_snapshots
        if run.deterministic or strict or request.config.getoption("update_snapshots", False):
            return snapshot.use_extension(SpecTreeSnapshotExtension)
        return snapshot.use_extension(LiveSpecTreeSnapshotExtension.for_run(_noting(request.node)))


def _noting(item: pytest.Item) -> Any:
    """Keeps a live run's snapshot diff in its record, where the table, the page and CI read it."""

    def note(diff: str) -> None:
        record = item.stash.get(RECORD_KEY, None)
        if record is not None:
            record["snapshot_diff"] = diff

    return note
