"""Start real servers for tests (seve serve, chroma run) on free loopback ports, and stop them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evals.serving import BIN, free_port, running, wait_http

__all__ = ["BIN", "chroma_server", "free_port", "redis_server", "running", "wait_http"]


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    port = free_port()
    cmd = [str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with running(cmd, f"http://127.0.0.1:{port}/api/v2/heartbeat", log=path.parent / "chroma.log"):
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
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
