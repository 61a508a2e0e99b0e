from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_specbench import config as config_module
from pytest_specbench.config import DEFAULT_CONFIG, find_config, load_config, schema
from pytest_specbench.config.settings import (
    Config,
    ModelConfig,
    Protocol,
    Provider,
    ProviderExtras,
    RecordMode,
    RunSettings,
    ServerConfig,
)
from pytest_specbench.errors import ConfigError

MODEL = '[models.m]\nprovider = "openai"\nmodel = "gpt"\n'
BRIEF = '[briefs.b]\ncodebase = "code"\nprompt = "Write specs."\n'

FULL = """
[defaults]
max_turns = 50
timeout_s = 600
temperature = 0.2

[models.qwen36-lmstudio]
provider = "openai"
model = "qwen/qwen3.6-35b-a3b"
base_url = "http://localhost:1234/v1"
api_key_env = "LMSTUDIO_API_KEY"
max_tokens = 8192
stream = true
request_timeout_s = 900
max_turns = 30

[models.claude]
provider = "anthropic"
model = "claude-sonnet-4-5"
xfail = "too expensive"

[models."gemma.local"]
provider = "llamacpp"
model_path = "../models/gemma.gguf"
n_ctx = 8192
n_threads = 1
n_parallel = 2
protocol = "anthropic"

[briefs.todo-app]
codebase = "codebases/todo-app"
prompt_file = "briefs/todo-app.md"
min_requirements = 20
min_features = 4
max_turns = 40
timeout_s = 1200
server = { command = ["srv", "{workspace}"], env = { K = "{codebase}" }, specs_dir = "{workspace}/o" }

[briefs.remote]
codebase = "codebases/todo-app"
prompt = "Write the specs."
xfail = "server is flaky"

[briefs.remote.server]
url = "http://127.0.0.1:8085/mcp"
"""


def write(tmp_path: Path, text: str) -> Path:
    """A config file next to the directories and files its paths name."""
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "codebases" / "todo-app").mkdir(parents=True, exist_ok=True)
    (tmp_path / "briefs").mkdir(exist_ok=True)
    (tmp_path / "briefs" / "todo-app.md").write_text("Specify the todo app.\n", encoding="utf-8")
    path = tmp_path / "specbench.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Config:
    return load_config(write(tmp_path, text))


def failure(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return info.value


def assert_says(error: ConfigError, *fragments: str) -> None:
    message = str(error)
    assert "specbench.toml" in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# --- a valid config ---------------------------------------------------------------------------------


def test_full_config_loads_every_table(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    assert config.path == tmp_path / "specbench.toml"
    assert list(config.models) == ["qwen36-lmstudio", "claude", "gemma.local"]
    assert list(config.briefs) == ["todo-app", "remote"]
    assert config.defaults == {"max_turns": 50, "timeout_s": 600.0, "temperature": 0.2}


def test_model_fields(tmp_path: Path) -> None:
    qwen = load(tmp_path, FULL).models["qwen36-lmstudio"]
    assert qwen.provider is Provider.OPENAI
    assert (qwen.model, qwen.base_url, qwen.api_key_env) == (
        "qwen/qwen3.6-35b-a3b",
        "http://localhost:1234/v1",
        "LMSTUDIO_API_KEY",
    )
    assert (qwen.max_tokens, qwen.stream, qwen.xfail) == (8192, True, None)
    assert qwen.overrides == {"request_timeout_s": 900.0, "max_turns": 30}
    assert qwen.extra.given() == {}


def test_model_record_mode(tmp_path: Path) -> None:
    model = load(tmp_path, MODEL + 'record_mode = "once"\n' + BRIEF).models["m"]
    assert model.record_mode is RecordMode.ONCE
    assert load(tmp_path, MODEL + BRIEF).models["m"].record_mode is None


def test_model_defaults(tmp_path: Path) -> None:
    claude = load(tmp_path, FULL).models["claude"]
    assert claude.provider is Provider.ANTHROPIC
    assert (claude.base_url, claude.api_key_env, claude.max_tokens, claude.stream) == (
        None,
        None,
        4096,
        False,
    )
    assert claude.xfail == "too expensive"


def test_llamacpp_extras_and_model_path_resolution(tmp_path: Path) -> None:
    gemma = load(tmp_path, FULL).models["gemma.local"]
    assert gemma.provider is Provider.LLAMACPP
    assert gemma.model == "gemma.local"
    # Resolved against the config's directory, and allowed not to exist yet.
    assert gemma.extra.given() == {
        "model_path": tmp_path.parent / "models" / "gemma.gguf",
        "n_ctx": 8192,
        "n_threads": 1,
        "n_parallel": 2,
        "protocol": Protocol.ANTHROPIC,
    }
    assert gemma.protocol is Protocol.ANTHROPIC


def test_provider_extras_are_the_schemas_provider_keys() -> None:
    """One typed field per provider-specific key of a model table (the retired chat_format aside)."""
    keys = {key for key, spec in schema.MODEL_KEYS.items() if spec.dest is schema.Dest.EXTRA}

    assert {f.name for f in dataclasses.fields(ProviderExtras)} == keys - {"chat_format"}
    model = ModelConfig("m", Provider.ANTHROPIC, "claude", extra={"thinking": "adaptive", "effort": "low"})
    assert model.extra == ProviderExtras(thinking="adaptive", effort="low") and model.thinking
    assert model.extra.given() == {"thinking": "adaptive", "effort": "low"}


def test_brief_fields_and_paths(tmp_path: Path) -> None:
    brief = load(tmp_path, FULL).briefs["todo-app"]
    assert brief.codebase == tmp_path / "codebases" / "todo-app"
    assert brief.codebase.is_absolute()
    assert brief.prompt == "Specify the todo app.\n"
    assert (brief.min_requirements, brief.min_features, brief.xfail) == (20, 4, None)
    assert brief.overrides == {"max_turns": 40, "timeout_s": 1200.0}
    assert brief.extra == {}


def test_external_stdio_server(tmp_path: Path) -> None:
    server = load(tmp_path, FULL).briefs["todo-app"].server
    assert server == ServerConfig(
        command=("srv", "{workspace}"), env={"K": "{codebase}"}, specs_dir="{workspace}/o"
    )


def test_server_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "srv.js").write_text("// a server\n")
    (tmp_path / "bin").mkdir()
    command = '["node", "srv.js", "--root", "bin", "{config_dir}/later.js", "missing.js", "{workspace}"]'
    text = MODEL + BRIEF + f'server = {{ command = {command}, specs_dir = "relspecs" }}\n'
    server = load(tmp_path, text).briefs["b"].server
    assert server is not None
    here = str(tmp_path)
    assert server.command == (
        "node", f"{here}/srv.js", "--root", f"{here}/bin", f"{here}/later.js", "missing.js", "{workspace}"
    )  # fmt: skip
    assert server.specs_dir == f"{here}/relspecs"


def test_a_config_dir_with_braces_stays_literal(tmp_path: Path) -> None:
    home = tmp_path / "odd{dir}"
    home.mkdir()
    (home / "srv.js").write_text("// a server\n")
    text = MODEL + BRIEF + 'server = { command = ["node", "srv.js"], specs_dir = "out" }\n'
    server = load(home, text).briefs["b"].server
    assert server is not None
    assert server.command[1].format() == f"{home}/srv.js"
    assert server.specs_dir.format() == f"{home}/out"


def test_system_prompt_of_a_brief_over_defaults(tmp_path: Path) -> None:
    (tmp_path / "system.md").write_text("Use write_file.\n")
    text = (
        '[defaults]\nsystem_prompt_file = "system.md"\n' + MODEL + BRIEF + '[briefs.c]\ncodebase = "code"\n'
    )
    text += 'prompt = "p"\nsystem_prompt = "Be brief."\n'
    config = load(tmp_path, text)
    assert config.system_prompt == "Use write_file.\n"
    assert config.system_prompt_for(config.briefs["b"]) == "Use write_file.\n"
    assert config.system_prompt_for(config.briefs["c"]) == "Be brief."


def test_external_http_server_and_inline_prompt(tmp_path: Path) -> None:
    brief = load(tmp_path, FULL).briefs["remote"]
    assert brief.server == ServerConfig(url="http://127.0.0.1:8085/mcp")
    assert (brief.prompt, brief.xfail, brief.min_requirements) == ("Write the specs.", "server is flaky", 0)


def test_no_server_means_the_reference_server(tmp_path: Path) -> None:
    assert load(tmp_path, MODEL + BRIEF).briefs["b"].server is None


def test_precedence_model_over_brief_over_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    settings = config.settings_for(config.models["qwen36-lmstudio"], config.briefs["todo-app"])
    assert settings == RunSettings(
        max_turns=30,
        timeout_s=1200.0,
        request_timeout_s=900.0,
        temperature=0.2,
        max_retries=2,
        tool_timeout_s=60.0,
    )


def test_precedence_falls_back_to_defaults_then_built_ins(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    settings = config.settings_for(config.models["claude"], config.briefs["remote"])
    assert settings == RunSettings(max_turns=50, timeout_s=600.0, temperature=0.2)


def test_relative_config_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, MODEL + BRIEF)
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("specbench.toml"))
    assert config.path == tmp_path / "specbench.toml"
    assert config.briefs["b"].codebase == tmp_path / "code"


def test_every_run_setting_is_a_config_key() -> None:
    assert set(schema.RUN_KEYS) == RunSettings.field_names()


def test_public_names() -> None:
    assert config_module.__all__ == ["DEFAULT_CONFIG", "find_config", "load_config"]


# --- broken configs ---------------------------------------------------------------------------------


def test_bad_toml_names_line_and_column(tmp_path: Path) -> None:
    error = failure(tmp_path, MODEL + "[briefs.b]\ncodebase = code\n")
    assert_says(error, "invalid TOML", "line 5, column 12", "fix the syntax at line 5, column 12")


def test_table_declared_twice_is_bad_toml(tmp_path: Path) -> None:
    assert_says(failure(tmp_path, MODEL + MODEL + BRIEF), "invalid TOML", "line 4")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "specbench.toml")
    assert_says(info.value, "file not found", "--specbench-config")


CASES = [
    # (id, config text, fragments of the message: table, key, problem, fix)
    (
        "unknown-top-level-table",
        MODEL + BRIEF + "[modles.x]\n",
        ["modles", "unknown top-level table", 'did you mean "models"?'],
    ),
    (
        "run-key-at-top-level",
        "max_turns = 3\n" + MODEL + BRIEF,
        ["max_turns", "unknown top-level key", "move it under [defaults]"],
    ),
    (
        "defaults-not-a-table",
        "defaults = 3\n" + MODEL + BRIEF,
        ["defaults", "expected table, got int 3", "or a [defaults] table"],
    ),
    (
        "unknown-model-key",
        MODEL + "max_turn = 3\n" + BRIEF,
        ["[models.m]", "max_turn: unknown key", 'did you mean "max_turns"?'],
    ),
    (
        "unknown-brief-key",
        MODEL + BRIEF + "min_feature = 3\n",
        ["[briefs.b]", "min_feature: unknown key", 'did you mean "min_features"?'],
    ),
    (
        "unknown-defaults-key",
        "[defaults]\ntimeout = 3\n" + MODEL + BRIEF,
        ["[defaults]", "timeout: unknown key", 'did you mean "timeout_s"?'],
    ),
    (
        "unknown-key-no-match",
        MODEL + "zzz = 3\n" + BRIEF,
        ["[models.m]", "zzz: unknown key", "remove it; known keys: ", "api_key_env"],
    ),
    (
        "key-of-another-table",
        "[defaults]\nmax_tokens = 3\n" + MODEL + BRIEF,
        ["[defaults]", "max_tokens: unknown key", "belongs in a [models.<id>] table"],
    ),
    (
        "brief-key-in-model",
        MODEL + 'codebase = "code"\n' + BRIEF,
        ["[models.m]", "codebase: unknown key", "belongs in a [briefs.<id>] table"],
    ),
    (
        "dotted-id",
        MODEL + BRIEF + '[models.qwen3.6]\nprovider = "openai"\nmodel = "q"\n',
        ["[models.qwen3]", "6: unknown key", '[models."qwen3.6"]'],
    ),
    (
        "int-as-str",
        '[defaults]\nmax_turns = "80"\n' + MODEL + BRIEF,
        ["[defaults]", 'max_turns: expected int, got str "80"', "remove the quotes: max_turns = 80"],
    ),
    (
        "bool-is-not-int",
        MODEL + "max_tokens = true\n" + BRIEF,
        ["[models.m]", "max_tokens: expected int, got bool true", "whole number"],
    ),
    (
        "float-is-not-int",
        MODEL + BRIEF + "min_features = 2.5\n",
        ["[briefs.b]", "min_features: expected int, got float 2.5"],
    ),
    (
        "number-as-str",
        MODEL + 'timeout_s = "1.5"\n' + BRIEF,
        ["[models.m]", 'timeout_s: expected number, got str "1.5"', "remove the quotes: timeout_s = 1.5"],
    ),
    (
        "bool-is-not-number",
        MODEL + "temperature = false\n" + BRIEF,
        ["temperature: expected number, got bool false"],
    ),
    (
        "bool-as-str",
        MODEL + 'stream = "yes"\n' + BRIEF,
        ["[models.m]", 'stream: expected bool, got str "yes"', "stream = true or stream = false"],
    ),
    (
        "str-as-int",
        '[models.m]\nprovider = "openai"\nmodel = 4\n' + BRIEF,
        ["[models.m]", "model: expected str, got int 4", "double quotes"],
    ),
    ("empty-str", MODEL + 'xfail = ""\n' + BRIEF, ["[models.m]", "xfail: must not be empty"]),
    (
        "zero-turns",
        MODEL + "max_turns = 0\n" + BRIEF,
        ["[models.m]", "max_turns: must be at least 1, got 0", "set max_turns to 1 or more"],
    ),
    (
        "negative-timeout",
        MODEL + BRIEF + "timeout_s = -5\n",
        ["[briefs.b]", "timeout_s: must be greater than 0, got -5", "a number greater than 0"],
    ),
    (
        "zero-request-timeout",
        "[defaults]\nrequest_timeout_s = 0\n" + MODEL + BRIEF,
        ["[defaults]", "request_timeout_s: must be greater than 0"],
    ),
    (
        "nan-timeout",
        "[defaults]\ntool_timeout_s = nan\n" + MODEL + BRIEF,
        ["tool_timeout_s: must be a finite number, got nan"],
    ),
    (
        "negative-temperature",
        "[defaults]\ntemperature = -0.5\n" + MODEL + BRIEF,
        ["temperature: must be at least 0, got -0.5"],
    ),
    (
        "negative-retries",
        "[defaults]\nmax_retries = -1\n" + MODEL + BRIEF,
        ["max_retries: must be at least 0, got -1"],
    ),
    ("zero-max-tokens", MODEL + "max_tokens = 0\n" + BRIEF, ["[models.m]", "max_tokens: must be at least 1"]),
    (
        "negative-min-requirements",
        MODEL + BRIEF + "min_requirements = -1\n",
        ["[briefs.b]", "min_requirements: must be at least 0"],
    ),
    (
        "bad-model-id",
        '[models."my model!"]\nprovider = "openai"\nmodel = "x"\n' + BRIEF,
        ['[models."my model!"]', "may only use letters, digits", "rename it, e.g. [models.my-model]"],
    ),
    (
        "bad-brief-id",
        MODEL + '[briefs."a/b"]\ncodebase = "code"\nprompt = "x"\n',
        ['[briefs."a/b"]', "snapshot file names", "[briefs.a-b]"],
    ),
    (
        "missing-provider",
        '[models.m]\nmodel = "x"\n' + BRIEF,
        ["[models.m]", "provider: required key is missing", 'add provider = "openai"', '"anthropic"'],
    ),
    (
        "missing-model-openai",
        '[models.m]\nprovider = "openai"\n' + BRIEF,
        ["[models.m]", "model: required key is missing", 'add model = "<the name'],
    ),
    (
        "missing-model-anthropic",
        '[models.m]\nprovider = "anthropic"\n' + BRIEF,
        ["[models.m]", "model: required key is missing"],
    ),
    (
        "unknown-provider",
        '[models.m]\nprovider = "open-ai"\nmodel = "x"\n' + BRIEF,
        [
            "[models.m]",
            'provider: unknown provider "open-ai"',
            'did you mean "openai"?',
            '"openai", "anthropic", "llamacpp"',
        ],
    ),
    (
        "unknown-record-mode",
        MODEL + 'record_mode = "replay"\n' + BRIEF,
        [
            "[models.m]",
            'record_mode: unknown record mode "replay"',
            'valid record modes: "off", "none", "once", "all"',
        ],
    ),
    (
        "llamacpp-key-on-openai",
        MODEL + "n_ctx = 4096\n" + BRIEF,
        ["[models.m]", 'n_ctx: only applies to provider "llamacpp"', 'set provider = "llamacpp"'],
    ),
    (
        "model-names-an-unknown-brief",
        MODEL + 'briefs = ["c"]\n' + BRIEF,
        ["[models.m]", 'briefs: names no brief: "c"', "known briefs: b"],
    ),
    (
        "model-briefs-not-a-list",
        MODEL + 'briefs = "b"\n' + BRIEF,
        ["[models.m]", "briefs: expected non-empty array of str", 'briefs = ["todo-app"]'],
    ),
    (
        "retired-chat-format",
        '[models.m]\nprovider = "llamacpp"\nchat_format = "chatml-function-calling"\n' + BRIEF,
        [
            "[models.m]",
            "chat_format: no longer applies",
            "renders the model's own chat template",
            "chat_template_file",
        ],
    ),
    (
        "unknown-protocol",
        '[models.m]\nprovider = "llamacpp"\nprotocol = "antropic"\n' + BRIEF,
        ["[models.m]", 'protocol: unknown protocol "antropic"', 'did you mean "anthropic"?'],
    ),
    (
        "missing-chat-template",
        '[models.m]\nprovider = "llamacpp"\nchat_template_file = "t.jinja"\n' + BRIEF,
        ["[models.m]", "chat_template_file: file not found", "t.jinja"],
    ),
    (
        "protocol-on-openai",
        MODEL + 'protocol = "anthropic"\n' + BRIEF,
        ["[models.m]", 'protocol: only applies to provider "llamacpp"'],
    ),
    (
        "base-url-without-scheme",
        MODEL + 'base_url = "localhost:1234/v1"\n' + BRIEF,
        ["[models.m]", "base_url: not an http(s) URL", 'base_url = "http://localhost:1234/v1"'],
    ),
    (
        "missing-codebase",
        MODEL + '[briefs.b]\nprompt = "x"\n',
        ["[briefs.b]", "codebase: required key is missing", 'add codebase = "codebases/<dir>"'],
    ),
    (
        "missing-prompt",
        MODEL + '[briefs.b]\ncodebase = "code"\n',
        ["[briefs.b]", "neither prompt nor prompt_file is set", 'prompt_file = "briefs/b.md"'],
    ),
    (
        "both-prompts",
        MODEL + BRIEF + 'prompt_file = "briefs/todo-app.md"\n',
        ["[briefs.b]", "both prompt and prompt_file are set", "keep exactly one"],
    ),
    (
        "codebase-not-found",
        MODEL + '[briefs.b]\ncodebase = "nowhere"\nprompt = "x"\n',
        ["[briefs.b]", "codebase: directory not found", "nowhere", "create it, or give a path relative to"],
    ),
    (
        "codebase-is-a-file",
        MODEL + '[briefs.b]\ncodebase = "briefs/todo-app.md"\nprompt = "x"\n',
        ["[briefs.b]", "codebase: is not a directory"],
    ),
    (
        "prompt-file-not-found",
        MODEL + '[briefs.b]\ncodebase = "code"\nprompt_file = "briefs/nope.md"\n',
        ["[briefs.b]", "prompt_file: file not found", "nope.md", "create it"],
    ),
    (
        "server-neither",
        MODEL + BRIEF + 'server = { env = { A = "b" } }\n',
        ["[briefs.b.server]", "has neither command nor url", "command = ["],
    ),
    (
        "server-both",
        MODEL + BRIEF + 'server = { command = ["x"], url = "http://h/mcp" }\n',
        ["[briefs.b.server]", "has both command and url", "set either"],
    ),
    (
        "server-empty-command",
        MODEL + BRIEF + "server = { command = [] }\n",
        ["[briefs.b.server]", "command: expected non-empty array of str, got array"],
    ),
    (
        "server-env-with-url",
        MODEL + BRIEF + 'server = { url = "http://h/mcp", env = { A = "b" } }\n',
        ["[briefs.b.server]", "env: only applies to a stdio server"],
    ),
    (
        "server-bad-placeholder",
        MODEL + BRIEF + 'server = { command = ["x", "{workpace}"] }\n',
        ["[briefs.b.server]", "command: unknown placeholder {workpace}", "{workspace}"],
    ),
    (
        "server-unknown-key",
        MODEL + BRIEF + 'server = { comand = ["x"] }\n',
        ["[briefs.b.server]", "comand: unknown key", 'did you mean "command"?'],
    ),
    (
        "system-prompt-in-a-model",
        MODEL + 'system_prompt = "x"\n' + BRIEF,
        ["[models.m]", "system_prompt: unknown key", "belongs in [defaults] or a [briefs.<id>] table"],
    ),
    (
        "system-prompt-twice",
        MODEL + BRIEF + 'system_prompt = "x"\nsystem_prompt_file = "s.md"\n',
        ["[briefs.b]", "both system_prompt and system_prompt_file are set"],
    ),
    (
        "server-url-unknown-placeholder",
        MODEL + BRIEF + 'server = { url = "http://127.0.0.1:8085/mcp?t={token}" }\n',
        ["[briefs.b.server]", "url: unknown placeholder {token}", "use one of {codebase}, {config_dir}"],
    ),
    (
        "server-url-lone-brace",
        MODEL + BRIEF + 'server = { url = "http://127.0.0.1:8085/mcp/{" }\n',
        ["[briefs.b.server]", "url: bad placeholder in", "write a literal brace as {{ or }}"],
    ),
    (
        "server-not-a-table",
        MODEL + BRIEF + 'server = "node srv.js"\n',
        ["[briefs.b]", 'server: expected table, got str "node srv.js"', "[briefs.b.server]"],
    ),
    ("no-models", BRIEF, ["[models]", "no models defined", "add one, e.g. [models."]),
    ("empty-models", "[models]\n" + BRIEF, ["[models]", "no models defined"]),
    ("no-briefs", MODEL, ["[briefs]", "no briefs defined", "add one, e.g. [briefs."]),
    (
        "keys-directly-in-models",
        '[models]\nprovider = "openai"\n' + BRIEF,
        ["[models]", 'provider: expected a table, got str "openai"', "[models.<id>]"],
    ),
]


@pytest.mark.parametrize(("text", "fragments"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_broken_config_is_a_config_error(tmp_path: Path, text: str, fragments: list[str]) -> None:
    assert_says(failure(tmp_path, text), *fragments)


def test_empty_prompt_file(tmp_path: Path) -> None:
    path = write(tmp_path, MODEL + '[briefs.b]\ncodebase = "code"\nprompt_file = "empty.md"\n')
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_says(info.value, "[briefs.b]", "prompt_file: file is empty", "write the brief into it")


def test_api_key_pasted_into_api_key_env_is_not_echoed(tmp_path: Path) -> None:
    error = failure(tmp_path, MODEL + 'api_key_env = "sk-secret-123"\n' + BRIEF)
    assert_says(error, "[models.m]", "api_key_env: is not an environment variable name", '"OPENAI_API_KEY"')
    assert "sk-secret" not in str(error)


def test_error_carries_its_parts(tmp_path: Path) -> None:
    error = failure(tmp_path, MODEL + "max_turns = 0\n" + BRIEF)
    assert (error.path, error.where) == (str(tmp_path / "specbench.toml"), "models.m")
    assert error.problem.startswith("max_turns: ")
    assert error.fix == "set max_turns to 1 or more"


def test_ambiguous_test_ids_name_both_pairs(tmp_path: Path) -> None:
    text = """
[models.a-b]
provider = "openai"
model = "x"
[models.a]
provider = "openai"
model = "x"
[briefs.c]
codebase = "code"
prompt = "x"
[briefs.b-c]
codebase = "code"
prompt = "x"
"""
    assert_says(
        failure(tmp_path, text),
        'test id "a-b-c" is ambiguous',
        'model "a-b" with brief "c"',
        'model "a" with brief "b-c"',
        'rename model "a-b" or brief "b-c"',
    )


def test_same_ids_in_models_and_briefs_are_fine(tmp_path: Path) -> None:
    text = MODEL + '[briefs.m]\ncodebase = "code"\nprompt = "x"\n'
    assert list(load(tmp_path, text).briefs) == ["m"]


# --- finding the file -------------------------------------------------------------------------------


def test_explicit_path_is_relative_to_the_invocation_dir(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "my.toml").touch()
    found = find_config("my.toml", "ignored.toml", tmp_path / "root", invocation_dir=tmp_path / "here")
    assert found == tmp_path / "here" / "my.toml"


def test_explicit_path_defaults_to_the_current_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my.toml").touch()
    monkeypatch.chdir(tmp_path)
    assert find_config("my.toml", None, tmp_path / "root") == tmp_path / "my.toml"


def test_missing_explicit_path_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_config("nope.toml", None, tmp_path, invocation_dir=tmp_path)
    message = str(info.value)
    assert "nope.toml" in message
    assert "--specbench-config points at a file that does not exist" in message
    assert "the directory pytest was started in" in message


def test_explicit_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        find_config(".", None, tmp_path, invocation_dir=tmp_path)


def test_ini_value_is_relative_to_rootdir(tmp_path: Path) -> None:
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "bench.toml").touch()
    assert find_config(None, "suite/bench.toml", tmp_path) == tmp_path / "suite" / "bench.toml"


def test_missing_ini_value_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_config(None, "suite/bench.toml", tmp_path)
    assert "the ini option specbench_config points at a file that does not exist" in str(info.value)
    assert f"rootdir {tmp_path}" in str(info.value)


@pytest.mark.parametrize("ini_value", [None, ""])
def test_default_is_evals_specbench_toml_even_when_missing(tmp_path: Path, ini_value: str | None) -> None:
    assert find_config(None, ini_value, tmp_path) == tmp_path / "evals" / "specbench.toml"
    assert tmp_path / DEFAULT_CONFIG == tmp_path / "evals" / "specbench.toml"


def test_prices_give_a_cost_and_a_cost_limit_needs_them(tmp_path: Path) -> None:
    priced = MODEL + "price_input_per_mtok = 3\nprice_output_per_mtok = 15\n"
    config = load(tmp_path, "[defaults]\nmax_cost_usd = 0.5\n" + priced + BRIEF)
    model = config.models["m"]
    assert model.prices == (3.0, 15.0)
    assert config.settings_for(model, config.briefs["b"]).max_cost_usd == 0.5

    half = failure(tmp_path, MODEL + "price_input_per_mtok = 3\n" + BRIEF)
    assert "[models.m]: price_input_per_mtok: is set without price_output_per_mtok" in str(half)

    unpriced = failure(tmp_path, MODEL + BRIEF.replace('"Write specs."', '"Write specs."\nmax_cost_usd = 1'))
    problem = "[models.m]: max_cost_usd = 1 applies to its runs (brief 'b'), but it has no prices"
    assert problem in str(unpriced)
    assert "add price_input_per_mtok and price_output_per_mtok" in str(unpriced)
