"""The system prompt a run sends: the config's, else the built-in one for its server, then the scaffold's."""

from __future__ import annotations

from pytest_specbench.config.settings import BARE, BriefConfig, ScaffoldConfig
from pytest_specbench.scaffold.composite import scaffold_prompt

__all__ = ["DEFAULT_SYSTEM_PROMPT", "NEUTRAL_SYSTEM_PROMPT", "system_prompt"]

DEFAULT_SYSTEM_PROMPT = """\
You are a senior product analyst writing a specification for an existing codebase.
Read the code with the tools list_files, read_file and search_code. Write the specification \
with create_feature (top-level features, and child features with parent_id) and \
create_requirement (each with concrete, testable acceptance criteria). Use get_spec_tree to \
review what you have written, and update_item or delete_item to fix it. Specify only what the \
code does or clearly intends; do not invent features it does not have.
When the specification is complete, stop calling tools and reply with a short summary of \
what you wrote."""
"""The system prompt of a run on the reference server, unless the config sets one."""

NEUTRAL_SYSTEM_PROMPT = """\
You are a senior product analyst writing a specification for an existing codebase.
Use the tools you are given to read the code and to write the specification as the brief asks. \
Specify only what the code does or clearly intends; do not invent features it does not have.
When the specification is complete, stop calling tools and reply with a short summary of \
what you wrote."""
"""The system prompt of a run on an external server, unless the config sets one: it names no tool."""


def system_prompt(brief: BriefConfig, configured: str | None = None, scaffold: ScaffoldConfig = BARE) -> str:
    """The configured prompt, else the built-in one for the brief's server; then the scaffold's paragraph."""
    base = configured or (DEFAULT_SYSTEM_PROMPT if brief.server is None else NEUTRAL_SYSTEM_PROMPT)
    return "\n\n".join(part for part in (base, scaffold_prompt(scaffold)) if part)
