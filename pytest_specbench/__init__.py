"""pytest-specbench: evaluate LLMs on agentic spec writing over MCP tools, as a pytest suite.

Importing the package has no side effects and loads no model or MCP SDK; the
pytest plugin itself is `pytest_specbench.plugin`, registered under `pytest11`.

PYTEST_DONT_REWRITE: the package builds its own assertion messages, and the marker
keeps pytest from warning when a pytester run finds it already imported.
"""

from __future__ import annotations

from pytest_specbench._run.prompts import DEFAULT_SYSTEM_PROMPT, NEUTRAL_SYSTEM_PROMPT
from pytest_specbench._run.result import Sample, SpecRun
from pytest_specbench.agent.loop import Limits, ToolOutcome, ToolSession, run_agent
from pytest_specbench.agent.stats import RunStats
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import (
    BriefConfig,
    Config,
    ContextConfig,
    ModelConfig,
    RunSettings,
    ScaffoldConfig,
)
from pytest_specbench.errors import (
    CassetteError,
    ConfigError,
    ContextOverflow,
    ContextTruncated,
    InfrastructureError,
    MissingCredentials,
    ProviderError,
    ResultsFileError,
    ServerError,
    SpecbenchDeprecationWarning,
    SpecbenchError,
    SpecbenchInconclusiveWarning,
    SpecbenchWarning,
)
from pytest_specbench.models.types import (
    AssistantTurn,
    ModelClient,
    Reasoning,
    ToolCall,
    ToolSpec,
    Usage,
)
from pytest_specbench.tree import Feature, Requirement, SpecTree
from pytest_specbench.verdicts.checks import Check

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "NEUTRAL_SYSTEM_PROMPT",
    "AssistantTurn",
    "BriefConfig",
    "CassetteError",
    "Check",
    "Config",
    "ConfigError",
    "ContextConfig",
    "ContextOverflow",
    "ContextTruncated",
    "Feature",
    "InfrastructureError",
    "Limits",
    "MissingCredentials",
    "ModelClient",
    "ModelConfig",
    "ProviderError",
    "Reasoning",
    "Requirement",
    "ResultsFileError",
    "RunSettings",
    "RunStats",
    "Sample",
    "ScaffoldConfig",
    "ServerError",
    "SpecRun",
    "SpecTree",
    "SpecbenchDeprecationWarning",
    "SpecbenchError",
    "SpecbenchInconclusiveWarning",
    "SpecbenchWarning",
    "ToolCall",
    "ToolOutcome",
    "ToolSession",
    "ToolSpec",
    "Transcript",
    "Usage",
    "run_agent",
]
