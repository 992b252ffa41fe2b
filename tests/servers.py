"""Start real servers for tests (seve serve, chroma run) on free loopback ports, and stop them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evals.serving import BIN, free_port, running, wait_http

__all__ = ["BIN", "chroma_server", "free_port", "running", "wait_http"]


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    port = free_port()
    cmd = [str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with running(cmd, f"http://127.0.0.1:{port}/api/v2/heartbeat", log=path.parent / "chroma.log"):
        yield f"http://127.0.0.1:{port}"
