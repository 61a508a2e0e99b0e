"""Reading a model's window from the server that runs it, each server its own way."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pytest_specbench.models.window import read_window

LLAMA = {"/props": {"default_generation_settings": {"n_ctx": 16384, "temperature": 0.8}, "total_slots": 1}}
VLLM = {"/v1/models": {"object": "list", "data": [{"id": "qwen", "object": "model", "max_model_len": 32768}]}}
LMSTUDIO = {
    "/api/v0/models": {
        "data": [
            {"id": "other", "loaded_context_length": 2048},
            {"id": "qwen", "state": "loaded", "max_context_length": 131072, "loaded_context_length": 8192},
        ]
    }
}
OLLAMA = {"/api/ps": {"models": [{"name": "qwen:7b", "model": "qwen:7b", "context_length": 4096}]}}


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start a loopback server answering GETs from a dict of path → JSON; returns its URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(routes: dict[str, Any]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = routes.get(self.path)
                data = json.dumps(body).encode() if body is not None else b'{"error": "not found"}'
                self.send_response(200 if body is not None else 404)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("routes", "name", "window"),
    [(LLAMA, "any", 16384), (VLLM, "qwen", 32768), (LMSTUDIO, "qwen", 8192), (OLLAMA, "qwen:7b", 4096)],
    ids=["llama-server", "vllm", "lmstudio", "ollama"],
)
def test_each_server_says_its_window(serve: Any, routes: dict[str, Any], name: str, window: int) -> None:
    assert read_window(serve(routes), name) == window


def test_a_server_that_says_nothing_gives_none(serve: Any) -> None:
    assert read_window(serve({}), "qwen") is None
    assert (
        read_window(serve({"/api/ps": {"models": [{"name": "other", "context_length": 4096}, {}]}}), "qwen")
        is None
    )


def test_hosted_apis_and_unreachable_servers_are_not_asked() -> None:
    assert read_window("https://api.openai.com/v1", "gpt-4o") is None
    assert read_window("http://127.0.0.1:9/v1", "qwen", timeout_s=0.5) is None


def test_only_an_openai_compatible_model_without_a_window_asks_its_server(serve: Any) -> None:
    from pytest_specbench.config.settings import ModelConfig, Provider
    from pytest_specbench.models.window import with_server_window

    url = serve(VLLM)
    asked = with_server_window(ModelConfig(id="q", provider=Provider.OPENAI, model="qwen", base_url=url))
    assert asked.context_window == 32768
    configured = ModelConfig(
        id="q", provider=Provider.OPENAI, model="qwen", base_url=url, context_window=4096
    )
    assert with_server_window(configured) is configured
    hosted = ModelConfig(id="g", provider=Provider.OPENAI, model="gpt-4o")  # no base_url: OpenAI itself
    assert with_server_window(hosted) is hosted
    other = ModelConfig(id="c", provider=Provider.ANTHROPIC, model="claude", base_url=url)
    assert with_server_window(other) is other


def test_a_list_of_loaded_models_answers_only_for_the_model_itself(serve: Any) -> None:
    other = serve({"/api/ps": {"models": [{"name": "llama3:8b", "context_length": 2048}]}})
    assert read_window(other, "qwen2.5-coder:7b") is None  # loaded is another model, not this one's window
    lone = serve({"/v1/models": {"data": [{"id": "served-as-anything", "max_model_len": 32768}]}})
    assert read_window(lone, "qwen") == 32768  # vLLM serves one model, whatever name a request uses


def test_a_window_not_said_yet_is_asked_again(serve: Any) -> None:
    from pytest_specbench.config.settings import ModelConfig, Provider
    from pytest_specbench.models.window import with_server_window

    routes: dict[str, Any] = {"/api/ps": {"models": []}}  # Ollama with nothing loaded yet
    model = ModelConfig(id="o", provider=Provider.OPENAI, model="qwen:7b", base_url=serve(routes))
    assert with_server_window(model).context_window is None
    routes.update(OLLAMA)
    assert with_server_window(model).context_window == 4096


def test_a_server_that_answers_no_probe_is_not_asked_again(serve: Any) -> None:
    from pytest_specbench.config.settings import ModelConfig, Provider
    from pytest_specbench.models.window import with_server_window

    routes: dict[str, Any] = {}  # a plain OpenAI-compatible proxy: every probe is a 404
    model = ModelConfig(id="p", provider=Provider.OPENAI, model="qwen", base_url=serve(routes))
    assert with_server_window(model).context_window is None
    routes.update(VLLM)
    assert with_server_window(model).context_window is None  # no second round of probes per test
