"""Unparsed tool calls in a final answer: each shape the issue names, and prose that only looks close."""

from __future__ import annotations

import pytest

from pytest_specbench.verdicts.unparsed import unparsed_tool_call

FENCED = '```json\n{"name": "create_feature", "arguments": {"title": "Login"}}\n```'


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        pytest.param("functions.list_files:", "functions.list_files:", id="functions-bare"),
        pytest.param('\nfunctions.read_file:{"path": "a.py"}', "functions.read_file:", id="functions-args"),
        pytest.param(
            '<tool_call>\n{"name": "list_files", "arguments": {}}\n</tool_call>', "<tool_call>", id="tag"
        ),
        pytest.param(f"I'll create it now.\n{FENCED}", '```json {"name": "create_feature", …}', id="fenced"),
        pytest.param(
            '```\n{"name": "read_file", "parameters": {"path": "x"}}\n```',
            '```json {"name": "read_file", …}',
            id="fence-without-language",
        ),
        pytest.param(
            "<tool_response>\nREADME.md\ntodo/cli.py\n</tool_response>", "<tool_response>", id="echo"
        ),
    ],
)
def test_each_shape_is_named(answer: str, shown: str) -> None:
    assert unparsed_tool_call(answer) == shown


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param("I wrote 3 features. Done.", id="prose"),
        pytest.param("The helpers live in functions.py: see there.", id="functions-mid-sentence"),
        pytest.param("Calls were wrapped in <tool_call> tags by the template.", id="tag-in-prose"),
        pytest.param(
            '```json\n{"name": "login", "title": "User login"}\n```', id="fenced-data-without-arguments"
        ),
        pytest.param('```json\n{"name": "create_feature", "arguments": \n```', id="fenced-broken-json"),
        pytest.param('{"name": "create_feature", "arguments": {}}', id="unfenced-json"),
        pytest.param("Results came back in `<tool_response>` blocks.", id="response-tag-in-prose"),
    ],
)
def test_near_misses_are_answers(answer: str) -> None:
    assert unparsed_tool_call(answer) is None
