"""Start real servers for tests (seve serve, chroma run) on free loopback ports, and stop them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evals.serving import BIN, free_port, running, stop, wait_http

__all__ = ["BIN", "CHROMIUM", "chroma_server", "chromium", "free_port", "redis_server", "running", "seve_server",
           "wait_http"]

CHROMIUM = os.environ.get("SEVE_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags, Chromium keeps trying to reach Google's hosts on this closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium(extra_args: tuple[str, ...] = ()) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Debian's Chromium (installed by `make test`) driven by Playwright: (browser, Playwright's devices)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium introuvable à {CHROMIUM} : lancez `make test` (il installe le paquet chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + list(extra_args))
        try:
            yield browser, p.devices
        finally:
            browser.close()


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    port = free_port()
    cmd = [str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with running(cmd, f"http://127.0.0.1:{port}/api/v2/heartbeat", log=path.parent / "chroma.log"):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def seve_server(corpus: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """`seve ingest CORPUS`, then `seve serve` on a free loopback port (both with `env` over os.environ); yields
    its URL. The server's output goes to `log`."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(corpus)], env={**os.environ, **env},
                   check=True, capture_output=True)
    port = free_port()
    cmd = [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--log-level", "warning"]
    with running(cmd, f"http://127.0.0.1:{port}/api/health", env=env, log=log):
        yield f"http://127.0.0.1:{port}"


REDIS_SERVER = "/usr/bin/redis-server"


@contextmanager
def redis_server(path: Path) -> Iterator[str]:
    """A real Redis (Debian's redis-server, installed by `make redis`) on a free loopback port, no persistence."""
    import subprocess
    import time

    import redis

    if not Path(REDIS_SERVER).exists():
        raise RuntimeError(f"{REDIS_SERVER} introuvable : lancez `make test` (il installe le paquet redis-server)")
    port = free_port()
    path.mkdir(parents=True, exist_ok=True)
    log = open(path / "redis.log", "wb")
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(path)], stdout=log, stderr=subprocess.STDOUT)
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start (see {path / 'redis.log'})") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop(proc, timeout=10)
        log.close()
