"""The suite: specbench.toml, the selection the options make of it, and each item's plan."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench._run.plan import RunPlan
from pytest_specbench._run.prompts import system_prompt
from pytest_specbench._session.options import Options
from pytest_specbench.config import load_config
from pytest_specbench.config.gate import GateTolerances
from pytest_specbench.config.load import check_min_passes
from pytest_specbench.config.settings import (
    BARE,
    BUILTIN_CONTEXTS,
    FULL_CONTEXT,
    BriefConfig,
    Config,
    ContextConfig,
    ContextStrategy,
    ModelConfig,
    Provider,
    RecordMode,
    RunSettings,
    ScaffoldConfig,
    run_id,
)
from pytest_specbench.errors import ConfigError
from pytest_specbench.redact import Redactor

__all__ = ["Run", "Suite"]

Run = tuple[ModelConfig, BriefConfig, ScaffoldConfig, ContextConfig]


@dataclass(slots=True)
class Suite:
    """specbench.toml, loaded on first use, and what the options select of it."""

    path: Path
    """The config file: named by an option, else the default under the rootdir (which may not exist)."""
    named: bool
    """An option named the file, so it must exist."""
    options: Options
    _config: Config | None = field(default=None, init=False)
    _redactor: Redactor | None = field(default=None, init=False)

    @property
    def present(self) -> bool:
        """There is a config to load: this project has an eval suite."""
        return self.named or self.path.exists()

    @property
    def config(self) -> Config:
        """The loaded and checked config; a ConfigError when there is none."""
        if self._config is None:
            if not self.path.exists():
                raise ConfigError(
                    str(self.path),
                    "",
                    "no specbench.toml found",
                    "create evals/specbench.toml under the rootdir or pass --specbench-config=PATH",
                )
            config = load_config(self.path)
            self._check_selection(config)
            _check_shared_servers(self._selected(config), config.path)
            check_min_passes(config, self.options.repeats)
            self._config = config
        return self._config

    @property
    def redactor(self) -> Redactor:
        """Scrubs the configured API keys and key-shaped text from whatever the session writes."""
        if self._redactor is None:
            self._redactor = Redactor.from_config(self.config if self.present else None)
        return self._redactor

    def baseline_models(self) -> dict[str, str]:
        """Model id → its `baseline_model`, for the paired comparison on the controller."""
        models = self.config.models.values() if self.present else ()
        return {m.id: m.baseline_model for m in models if m.baseline_model}

    def native_contexts(self) -> frozenset[str]:
        """The ids of the contexts that are the provider's own editing: the effect table says so."""
        contexts = self.config.contexts.values() if self.present else BUILTIN_CONTEXTS.values()
        return frozenset(c.id for c in contexts if c.strategy is ContextStrategy.NATIVE)

    def params(self, with_scaffold: bool, with_context: bool = False) -> list[Any]:
        """One `pytest.param` per selected model × brief (× scaffold × context, where the test uses
        them), with its id and marks."""
        chosen: dict[tuple[str, ...], tuple[Any, ...]] = {}
        for model, brief, scaffold, context in self._selected(self.config):
            values: tuple[Any, ...] = (model, brief)
            values += (scaffold,) if with_scaffold else ()
            values += (context,) if with_context else ()
            chosen.setdefault(tuple(v.id for v in values), values)
        return [_param(*values) for values in chosen.values()]

    def settings(self, model: ModelConfig, brief: BriefConfig) -> RunSettings:
        """The run's settings, with `--specbench-repeats` over the config's `repeats`."""
        settings = self.config.settings_for(model, brief)
        repeats = self.options.repeats
        return dataclasses.replace(settings, repeats=repeats) if repeats else settings

    def record_mode_for(self, model: ModelConfig) -> RecordMode:
        """The command line wins over the model's table, which wins over the ini option (as
        pytest-recording puts its option over a marker): one place decides."""
        options = self.options
        return options.record_mode or model.record_mode or options.ini_record_mode or RecordMode.OFF

    def gate_for(self, brief: BriefConfig) -> GateTolerances:
        """The brief's gate tolerances over `[gate]` over the defaults."""
        return self.config.gate_for(brief)

    def plan(self, item: pytest.Item, run: Run, root: Path) -> RunPlan:
        """The frozen plan of `item`'s run, its samples kept under `root` (the item's tmp_path)."""
        from pytest_specbench import replay

        model, brief, scaffold, context = run
        if context.strategy is ContextStrategy.NATIVE and model.provider is not Provider.ANTHROPIC:
            pytest.skip(
                f"context {context.id!r} is the provider's own context editing, which only Anthropic's "
                f"API has (clear_tool_uses_20250919); model {model.id!r} is {model.provider} — use mask "
                "or summary"
            )
        settings = self.settings(model, brief)
        mode = self.record_mode_for(model)
        cassettes = self.options.cassette_dir or (self.config.path.parent / "cassettes")
        return RunPlan(
            test_id=item.name,
            nodeid=item.nodeid,
            model=replay.with_run_window(model, mode, replay.cassette_path(cassettes, item.name)),
            brief=brief,
            scaffold=scaffold,
            settings=settings,
            system_prompt=system_prompt(brief, self.config.system_prompt_for(brief), scaffold),
            record_mode=mode,
            cassette_dir=cassettes,
            transport=self.options.transport,
            redactor=self.redactor,
            root=root,
            context=context,
        )

    def _check_selection(self, config: Config) -> None:
        options = self.options
        for option, wanted, known in (
            ("--specbench-models", options.model_ids, config.models),
            ("--specbench-briefs", options.brief_ids, config.briefs),
            ("--specbench-scaffolds", options.scaffold_ids, config.scaffolds),
            ("--specbench-contexts", options.context_ids, config.contexts),
        ):
            unknown = [i for i in wanted if i not in known]
            if unknown:
                raise ConfigError(
                    str(config.path),
                    "",
                    f"{option} names unknown id(s) {', '.join(unknown)}",
                    f"known: {', '.join(known)}",
                )

    def _selected(self, config: Config) -> list[Run]:
        options = self.options
        models = [m for i, m in config.models.items() if not options.model_ids or i in options.model_ids]
        briefs = [b for i, b in config.briefs.items() if not options.brief_ids or i in options.brief_ids]
        scaffolds = [config.scaffolds[i] for i in options.scaffold_ids]
        contexts = [config.contexts[i] for i in options.context_ids]
        pairs = [(m, b) for m in models for b in briefs if not m.briefs or b.id in m.briefs]
        return [(m, b, s, c) for m, b in pairs for s in scaffolds for c in contexts]


def _param(model: ModelConfig, brief: BriefConfig, *axes: ScaffoldConfig | ContextConfig) -> Any:
    reason = model.xfail or brief.xfail
    # raises=AssertionError: only a verdict is the expected failure; an infrastructure
    # fault of a known-bad model must still show as an ERROR.
    marks = [pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError)] if reason else []
    values = (model, brief, *axes)
    scaffold = next((a for a in axes if isinstance(a, ScaffoldConfig)), BARE)
    context = next((a for a in axes if isinstance(a, ContextConfig)), FULL_CONTEXT)
    test_id = run_id(model.id, brief.id, scaffold.id, context.id)
    return pytest.param(*values, id=test_id, marks=[pytest.mark.specbench, *marks])


def _check_shared_servers(runs: list[Run], path: Path) -> None:
    """Refuse two runs on a URL server that cannot tell them apart: the second would find the first's tree."""
    users: dict[str, list[str]] = {}
    for model, brief, scaffold, context in runs:
        if brief.server is not None and brief.server.url is not None and brief.server.shared:
            users.setdefault(brief.server.url, []).append(run_id(model.id, brief.id, scaffold.id, context.id))
    for url, ids in users.items():
        if len(ids) > 1:
            brief_id = next(b.id for _, b, _, _ in runs if b.server is not None and b.server.url == url)
            raise ConfigError(
                str(path),
                f"briefs.{brief_id}.server",
                f"url {url} is shared by {len(ids)} runs ({', '.join(ids)}): each would find the trees "
                "and ids of the runs before it",
                "put a per-run placeholder in the URL so your server can give each run its own tree, "
                f'e.g. url = "{url}?workspace={{workspace}}", or select one run with '
                "--specbench-models/--specbench-briefs",
            )
