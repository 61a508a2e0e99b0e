"""Re-record the example suite's `scripted-writer` cassette and snapshot (no key, no network).

`scripted-writer` is not a real model: its answers are a fixed script served by
`pytest_specbench.testing.FakeProvider` on 127.0.0.1, so the suite has one recorded run
that replays in CI with no key and no network (`record_mode = "none"` in specbench.toml).
Run this after a change to the harness that the cassette reports as drift:

    python evals/rerecord_scripted.py

It serves the script, points a copy of specbench.toml at it, runs
`pytest evals/ --specbench-models scripted-writer --specbench-record-mode=all --snapshot-update`
and removes the copy; then `git diff evals/cassettes evals/__snapshots__` shows what changed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pytest_specbench.testing import FakeProvider, Reply, call

EVALS = Path(__file__).resolve().parent
MODEL = "scripted-writer"

# Each feature: its title, description and requirements (title, description, acceptance criteria).
SPEC: list[tuple[str, str, list[tuple[str, str, list[str]]]]] = [
    (
        "Adding tasks",
        "`todo add TITLE` creates a task with the next free id.",
        [
            (
                "Add a task",
                "A title creates a pending task.",
                ["Given `todo add Buy milk`, it prints `added 1: Buy milk`"],
            ),
            (
                "Options at creation",
                "Due date, priority and tags may be given.",
                ["Given `--due 2026-01-31`, the task is due then"],
            ),
        ],
    ),
    (
        "Listing and filtering",
        "`todo list` shows tasks, filtered by tag, status or overdue.",
        [
            (
                "List tasks",
                "Each task is a line with a done mark, id and title.",
                ["A done task shows `[x]`, a pending one `[ ]`"],
            ),
            (
                "Filter by tag",
                "`--tag` keeps tasks with that tag.",
                ["Given tasks tagged home and work, `--tag home` lists only home"],
            ),
            (
                "Overdue filter",
                "`--overdue` keeps pending tasks due before today.",
                ["A task due yesterday is listed; one due tomorrow is not"],
            ),
        ],
    ),
    (
        "Completing tasks",
        "`todo done ID` marks a task as done.",
        [
            (
                "Mark as done",
                "The task becomes done and its title is printed.",
                ["Given task 1, `todo done 1` prints `done: <title>`"],
            ),
            (
                "Unknown id on done",
                "An id with no task is an error.",
                ["`todo done 99` prints `todo: no task 99` and exits 2"],
            ),
        ],
    ),
    (
        "Editing tasks",
        "`todo edit ID TITLE` retitles a task.",
        [
            (
                "Retitle",
                "The task keeps its id and gets the new title.",
                ["`todo edit 1 New` prints `edited: New`"],
            ),
            (
                "Unknown id on edit",
                "An id with no task is an error.",
                ["`todo edit 99 X` exits 2 with `no task 99`"],
            ),
        ],
    ),
    (
        "Removing tasks",
        "`todo remove ID` deletes a task.",
        [
            (
                "Remove a task",
                "The task is gone from the list.",
                ["After `todo remove 1`, `todo list` does not show task 1"],
            ),
            (
                "Unknown id on remove",
                "An id with no task is an error.",
                ["`todo remove 99` exits 2 with `no task 99`"],
            ),
        ],
    ),
    (
        "Undo",
        "`todo undo` restores the list as it was before the last change.",
        [
            (
                "Undo the last change",
                "The previous saved list comes back.",
                ["After add then undo, the added task is gone; it prints `undone`"],
            ),
            (
                "Nothing to undo",
                "With no earlier state, nothing changes.",
                ["On a fresh store, `todo undo` prints `nothing to undo`"],
            ),
        ],
    ),
    (
        "Storage",
        "Tasks persist in a JSON file, `TODO_FILE` or the default path.",
        [
            (
                "Persistence",
                "Every change is saved to the file.",
                ["A task added in one run is listed in the next"],
            ),
            (
                "File location",
                "`TODO_FILE` overrides the default path.",
                ["With `TODO_FILE=/tmp/t.json`, tasks are written there"],
            ),
        ],
    ),
    (
        "Export",
        "`todo export` writes all tasks as CSV or Markdown.",
        [
            (
                "CSV export",
                "One row per task with a header row.",
                ["`todo export --format csv` starts with a header line"],
            ),
            (
                "Markdown export",
                "One checklist line per task.",
                ["A done task is exported as `- [x] <title>`"],
            ),
        ],
    ),
    (
        "Priorities",
        "Each task has a priority given at creation.",
        [
            (
                "Priority option",
                "`--priority` sets it; unknown values are refused.",
                ["`todo add X --priority urgent` exits 2"],
            ),
        ],
    ),
    (
        "Tags",
        "Tasks carry tags, given with `--tag` and used to filter.",
        [
            (
                "Tag parsing",
                "Several `--tag` options give several tags.",
                ["`--tag a --tag b` gives the task tags a and b"],
            ),
        ],
    ),
    (
        "Due dates",
        "A task may have a due date in ISO format.",
        [
            (
                "Due date format",
                "`--due` takes YYYY-MM-DD; other text is refused.",
                ["`--due tomorrow` exits 2 with an error"],
            ),
            (
                "Due date shown",
                "A listed task with a due date shows it.",
                ["A task due 2026-01-31 is listed with `due 2026-01-31`"],
            ),
        ],
    ),
]


def script() -> list[Reply]:
    """Read the code, create the features, then their requirements, then answer."""
    features = [call("create_feature", title=title, description=text) for title, text, _ in SPEC]
    requirements = [
        call("create_requirement", feature_id=f"F-{n:04d}", title=t, description=d, acceptance_criteria=c)
        for n, (_, _, reqs) in enumerate(SPEC, 1)
        for t, d, c in reqs
    ]
    total = len(requirements)
    return [
        Reply(tool_calls=[call("list_files")], input_tokens=1200, output_tokens=20),
        Reply(tool_calls=[call("read_file", path="todo/cli.py")], input_tokens=1500, output_tokens=25),
        Reply(tool_calls=features, input_tokens=3400, output_tokens=600),
        Reply(tool_calls=requirements, input_tokens=4800, output_tokens=2400),
        Reply.final(f"Wrote {len(SPEC)} features and {total} requirements covering the todo command."),
    ]


def main() -> int:
    config = (EVALS / "specbench.toml").read_text()
    with FakeProvider(strict_models=True) as provider:
        provider.script(MODEL, script())
        line = re.compile(r'(base_url = ")http://127\.0\.0\.1:\d+/v1(" +# scripted-writer)')
        pointed = line.sub(rf"\g<1>{provider.openai_base_url}\g<2>", config)
        assert pointed != config, "specbench.toml: the scripted-writer base_url line was not found"
        copy = EVALS / ".specbench.rerecord.toml"
        copy.write_text(pointed)
        try:
            argv = ["-m", "pytest", str(EVALS), f"--specbench-config={copy}"]
            argv += [f"--specbench-cassettes={EVALS / 'cassettes'}", f"--specbench-models={MODEL}"]
            argv += ["--specbench-record-mode=all", "--snapshot-update", "-q"]
            return subprocess.run([sys.executable, *argv], check=False).returncode
        finally:
            copy.unlink()


if __name__ == "__main__":
    sys.exit(main())
