"""Every exception pytest-specbench raises on purpose.

The split that matters to a user is *infrastructure* against *verdict*: an
`InfrastructureError` raised while a run is set up or driven turns the test into
an ERROR (something around the model broke), while a model that falls short is an
`AssertionError` from `SpecRun.verify()` and turns the test into a FAIL.

    SpecbenchError
    ├── ConfigError            a broken specbench.toml (raised as pytest.UsageError by the plugin)
    ├── MissingCredentials     a model's API key variable is unset (skip, or error under --specbench-strict)
    ├── ResultsFileError       a results.json to read (a baseline, a compare or merge input) is unusable
    └── InfrastructureError    the run could not be carried out: test ERROR, never FAIL
        ├── ProviderError      the model's API failed after the SDK's own retries
        │   └── ContextOverflow    the request did not fit the model's context window (never retried)
        ├── ContextTruncated   the server cut the conversation to fit its window without saying so
        ├── ServerError        the MCP server could not start, died or stopped answering
        └── CassetteError      a recorded run cannot be replayed: missing, broken, or the run drifted from it

Every message is one line that says what broke and what to do about it. The warnings:

    SpecbenchWarning (UserWarning)
    ├── SpecbenchInconclusiveWarning   the gate could not tell a regression from noise (the test passes;
    │                                  `-W error::pytest_specbench.SpecbenchInconclusiveWarning` fails it)
    └── SpecbenchDeprecationWarning (DeprecationWarning)   an old option or fixture name, and its new one
"""

from __future__ import annotations

__all__ = [
    "CassetteError",
    "ConfigError",
    "ContextOverflow",
    "ContextTruncated",
    "InfrastructureError",
    "MissingCredentials",
    "ProviderError",
    "ResultsFileError",
    "ServerError",
    "SpecbenchDeprecationWarning",
    "SpecbenchError",
    "SpecbenchInconclusiveWarning",
    "SpecbenchWarning",
]


class SpecbenchError(Exception):
    """Base class of every error pytest-specbench raises on purpose."""


class ConfigError(SpecbenchError):
    """A specbench.toml that cannot be used: names the file, the table, the key and the fix."""

    def __init__(self, path: str, where: str, problem: str, fix: str) -> None:
        self.path = path
        self.where = where
        self.problem = problem
        self.fix = fix
        location = f"{path}: [{where}]" if where else path
        super().__init__(f"{location}: {problem} — {fix}")


class MissingCredentials(SpecbenchError):
    """The environment variable that holds a model's API key is not set."""

    def __init__(self, model_id: str, variable: str) -> None:
        self.model_id = model_id
        self.variable = variable
        super().__init__(f"model {model_id!r}: ${variable} is not set (export it, or set api_key_env)")


class ResultsFileError(SpecbenchError):
    """A results.json that cannot be read: missing, not JSON, or written by another version."""

    def __init__(self, path: str, problem: str, fix: str) -> None:
        self.path = path
        super().__init__(f"{path}: {problem} — {fix}")


class InfrastructureError(SpecbenchError):
    """The run could not be carried out; the test is an ERROR, not a verdict on the model."""


class ProviderError(InfrastructureError):
    """The model provider could not be reached or refused the request after the SDK's retries."""


class ServerError(InfrastructureError):
    """The MCP server failed to start, died or stopped answering."""


class CassetteError(InfrastructureError):
    """A cassette is missing, unreadable or no longer matches the run (drift); says where and the fix."""


class SpecbenchWarning(UserWarning):
    """Base class of every warning pytest-specbench issues."""


class SpecbenchDeprecationWarning(SpecbenchWarning, DeprecationWarning):
    """A name that still works for one release: the message gives the new spelling.

    A suite with `filterwarnings = error` fails on it; move to the new name, or silence it with
    `-W ignore::pytest_specbench.SpecbenchDeprecationWarning` (or the same in `filterwarnings`).
    """


class SpecbenchInconclusiveWarning(SpecbenchWarning):
    """`no_regression` could not tell a regression from noise: the test passes, and the warning
    says how many samples per side would tell. `-W error::pytest_specbench.SpecbenchInconclusiveWarning`
    (or `filterwarnings = ["error"]`) makes such a test fail."""


class ContextOverflow(ProviderError):
    """The provider said the request does not fit the model's context window.

    Raised by the adapters; the agent loop turns it into the run's end (a verdict on the
    partial tree) unless the very first request did not fit, which is a configuration ERROR.
    """

    def __init__(self, message: str, *, tokens: int | None = None, window: int | None = None) -> None:
        self.tokens = tokens
        """The tokens the request needed, when the provider said."""
        self.window = window
        """The model's context window in tokens, when the provider said."""
        super().__init__(message)


class ContextTruncated(InfrastructureError):
    """The reported prompt tokens fell while the conversation grew: the server dropped part of it."""
