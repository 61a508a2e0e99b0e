"""The frozen plan of one test's run: everything a sample needs, resolved once per item."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_specbench.agent.tools import RunPaths, Transport
from pytest_specbench.config.settings import (
    CONTEXT_PARAMETERS,
    FULL_CONTEXT,
    BriefConfig,
    ContextConfig,
    ModelConfig,
    RecordMode,
    RunSettings,
    ScaffoldConfig,
)
from pytest_specbench.redact import Redactor

__all__ = ["RunPlan"]


@dataclass(frozen=True, slots=True)
class RunPlan:
    """One test's run as decided before it starts; a single run is a plan with one sample.

    Built by the session for each item (`Suite.plan`) and read by every sample, so no
    setting can reach one sample and miss another.
    """

    test_id: str
    """The test's name, e.g. `test_spec[gpt-todo-app]`: names its cassettes and transcripts."""
    nodeid: str
    model: ModelConfig
    brief: BriefConfig
    scaffold: ScaffoldConfig
    settings: RunSettings
    """Model over brief over [defaults], with `--specbench-repeats` applied."""
    system_prompt: str
    """The prompt every sample sends: the config's or the built-in one, and the scaffold's paragraph."""
    record_mode: RecordMode
    """The command line over the model's table over the ini option."""
    cassette_dir: Path
    transport: Transport
    """How the reference MCP server runs (an external server runs as its brief says)."""
    redactor: Redactor
    """Scrubs the configured keys and key-shaped text from everything the run writes or shows."""
    root: Path
    """The item's tmp_path: sample 1 lives in it, sample k ≥ 2 in `root/sample-k`."""
    context: ContextConfig = FULL_CONTEXT
    """What of the conversation each request carries (`--specbench-contexts`)."""

    @property
    def samples(self) -> int:
        """How many samples the test runs (`repeats`)."""
        return self.settings.repeats

    @property
    def labels(self) -> dict[str, object]:
        """The `brief` and `scaffold` ids a new cassette's header keeps, and under a context strategy
        other than `full` its id and its parameters: a replay under changed ones is drift."""
        labels: dict[str, object] = {"brief": self.brief.id, "scaffold": self.scaffold.id}
        # A full-context run's header stays as it was, so its cassettes recorded before still match.
        if self.context.id == FULL_CONTEXT.id:
            return labels
        return {**labels, "context": self.context.id, "context_settings": context_settings(self.context)}

    def sample_root(self, number: int) -> Path:
        """Where sample `number` keeps its workspace and its copy of the codebase."""
        return self.root if number == 1 else self.root / f"sample-{number}"

    def paths(self, number: int) -> RunPaths:
        """Make sample `number`'s workspace and copy the brief's codebase into it."""
        root = self.sample_root(number)
        root.mkdir(parents=True, exist_ok=True)
        return RunPaths.create(self.brief, root)

    def label(self, number: int) -> str:
        """`k/N` for a sample of a run with repeats; empty for a single run."""
        return f"{number}/{self.samples}" if self.samples > 1 else ""


def context_settings(context: ContextConfig) -> dict[str, object]:
    """The parameters `context`'s strategy acts on, as a cassette's header keeps them."""
    used = CONTEXT_PARAMETERS[context.strategy]
    return {"strategy": str(context.strategy), **{name: getattr(context, name) for name in used}}
