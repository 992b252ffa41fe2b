"""Two real `seve serve` processes on one data dir and one real Redis: a key created by the CLI works in both,
its quota is counted once across both, and SEVE_REQUIRE_KEY=1 turns key-less calls away."""

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, redis_server, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MINI = Path(__file__).parent / "data" / "mini"
PARTNER = "https://partenaire.example"


def test_two_api_processes_share_keys_and_quotas_on_redis(converted_model_dir, tmp_path):
    env = {"SEVE_DATA_DIR": str(tmp_path / "index"), "SEVE_MODELS_DIR": str(converted_model_dir.parent),
           "SEVE_REQUIRE_KEY": "1"}
    full_env = {**os.environ, **env}
    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(MINI)], env=full_env, check=True,
                   capture_output=True)
    with redis_server(tmp_path / "redis") as redis_url, ExitStack() as stack:
        urls = []
        for i in range(2):
            port = free_port()
            cmd = [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--log-level", "warning"]
            stack.enter_context(running(cmd, f"http://127.0.0.1:{port}/api/health",
                                        env={**env, "SEVE_RATE_LIMIT_STORAGE": redis_url},
                                        log=tmp_path / f"serve{i}.log"))
            urls.append(f"http://127.0.0.1:{port}")
        # the key is created while both processes run: they read it from the shared database file
        out = subprocess.run([sys.executable, "-m", "assistant.cli", "keys", "create", "--name", "Alpha", "--origin",
                              PARTNER, "--per-minute", "3", "--json"], env=full_env, check=True, capture_output=True,
                             text=True)
        key = json.loads(out.stdout)["key"]
        headers = {"X-Seve-Key": key, "Origin": PARTNER}
        codes = []
        for url in (urls[0], urls[1], urls[0], urls[1]):
            r = httpx.get(url + "/api/search", params={"q": "alliance"}, headers=headers, timeout=30)
            codes.append(r.status_code)
        assert codes == [200, 200, 200, 429]
        assert 1 <= int(r.headers["Retry-After"]) <= 60 and r.json()["error"] == "quota_exceeded"
        for url in urls:
            anonymous = httpx.post(url + "/api/chat", json={"message": "Qu'est-ce que le mécénat ?"}, timeout=30)
            assert anonymous.status_code == 401 and anonymous.json()["error"] == "key_required"
            assert httpx.get(url + "/api/health", timeout=30).status_code == 200
