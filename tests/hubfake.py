"""The Hugging Face hub, played by a local HTTP server (pytest-httpserver on 127.0.0.1),
with HF_ENDPOINT pointing at it. Import the ``hub`` fixture into a test module."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

CONFIGS = Path(__file__).parent / "catalog" / "fixtures" / "configs"
COMMIT = "0123456789abcdef0123456789abcdef01234567"

# meta-llama/Llama-3.1-8B-Instruct's model.safetensors.index.json: total_size in bytes
# of its bf16 weights (https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/
# model.safetensors.index.json).
LLAMA_31_8B_TOTAL_SIZE = 16_060_522_496


@pytest.fixture
def hub(httpserver: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("").rstrip("/"))
    return httpserver


@pytest.fixture
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> str:
    """HF_ENDPOINT at a port on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    return endpoint


def serve_file(hub: Any, repo_id: str, filename: str, body: bytes | str) -> None:
    hub.expect_request(f"/{repo_id}/resolve/main/{filename}").respond_with_data(
        body,
        content_type="application/json",
        headers={"X-Repo-Commit": COMMIT, "ETag": f'"{filename}-etag"'},
    )


def serve_missing(hub: Any, repo_id: str, filename: str) -> None:
    hub.expect_request(f"/{repo_id}/resolve/main/{filename}").respond_with_data(
        "Entry not found",
        status=404,
        headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT},
    )


def serve_repo(
    hub: Any, repo_id: str, config: bytes | str | dict, total_size: int | None = None
) -> None:
    """A repo with this config.json, and a safetensors index when ``total_size`` is
    given (else no index, as for a single-file checkpoint)."""
    body = json.dumps(config) if isinstance(config, dict) else config
    serve_file(hub, repo_id, "config.json", body)
    if total_size is None:
        serve_missing(hub, repo_id, "model.safetensors.index.json")
    else:
        index = {"metadata": {"total_size": total_size}, "weight_map": {}}
        serve_file(hub, repo_id, "model.safetensors.index.json", json.dumps(index))
