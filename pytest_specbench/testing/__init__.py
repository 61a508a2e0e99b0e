"""Test doubles for teams testing their own harness code, and for this plugin's own tests.

`FakeProvider` is a real HTTP server on 127.0.0.1 that answers from a script in the OpenAI
(`openai.py`) and Anthropic (`anthropic.py`) wire formats, as JSON or as server-sent events,
closely enough that the real SDKs parse its answers; nothing in an SDK is patched.
`ScriptedClient` is the same script (`script.py`) as an in-process `ModelClient`.

    with FakeProvider() as provider:
        provider.script("fake-model", [
            Reply.tool("create_feature", title="Canvas"),
            Reply(faults=[Fault(status=503)], text="Done."),
        ])
        # a thinking model: Reply(reasoning="First read the code.", text="Done.")
        # point a ModelConfig at provider.openai_base_url or provider.anthropic_base_url
"""

from __future__ import annotations

from pytest_specbench.testing.script import (
    EXHAUSTED,
    Call,
    Fault,
    FaultKind,
    ReasoningAs,
    Reply,
    Step,
    call,
)
from pytest_specbench.testing.scripted import ScriptedClient
from pytest_specbench.testing.server import FakeProvider

__all__ = [
    "EXHAUSTED",
    "Call",
    "FakeProvider",
    "Fault",
    "FaultKind",
    "ReasoningAs",
    "Reply",
    "ScriptedClient",
    "Step",
    "call",
]
