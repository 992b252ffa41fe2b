"""What the partner-key check costs: the gate alone, and /api/chat and /api/search of a real `seve serve`
with a key against without one, in the same run.

1. The gate alone (`Gate.check`, in this process): no key; a key with its origin and quotas counted in memory;
   the same with quotas on a real Redis (Debian's redis-server, when installed).
2. A real `seve serve` over the sample corpus: the same questions asked with `X-Seve-Key` + `Origin` and
   without (and, as a control, without a key but with as many header bytes), interleaved (each mode takes
   each place in turn), so all see the same machine state; also
   the cheapest answering request (`/api/examples?k=1`), where the key's cost is least hidden by the answer's.

    python -m evals.bench_keys [--requests 100] [--out evals/results-keys.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from assistant.factory import make_embedder, make_ingestor
from assistant.partners import Gate, KeyStore, Quotas
from assistant.settings import Settings
from evals.bench_latency import QUESTIONS_FILE, percentile
from evals.calibrate_refusal import DEFAULT_CORPUS
from evals.serving import free_port, wait_http

ORIGIN = "https://partenaire.example"
OWN = frozenset({"http://127.0.0.1:8000"})


def gate_timings(gate: Gate, key: str | None, origin: str | None, n: int) -> list[float]:
    """Microseconds per check."""
    out = []
    for _ in range(n):
        started = time.perf_counter()
        gate.check(key, origin, OWN, client="127.0.0.1")
        out.append((time.perf_counter() - started) * 1e6)
    return out


def redis_url(tmp: Path) -> tuple[subprocess.Popen | None, str | None]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        return None, None
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}"
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    return None, None


def gate_alone(tmp: Path, n: int) -> dict[str, dict[str, float]]:
    store = KeyStore(tmp / "partners.sqlite3")
    key = store.create("Banc d'essai", [ORIGIN], per_minute=10**9, per_day=10**9).key
    rows: dict[str, dict[str, float]] = {}
    memory = Gate(store, Quotas())
    for label, args in (("no key", (None, None)), ("key + origin, quotas in memory", (key, ORIGIN))):
        gate_timings(memory, *args, 200)  # warm-up
        values = gate_timings(memory, *args, n)
        rows[label] = {"p50_us": statistics.median(values), "p95_us": percentile(values, 95)}
    proc, url = redis_url(tmp)
    if url:
        try:
            on_redis = Gate(store, Quotas(url))
            gate_timings(on_redis, key, ORIGIN, 200)
            values = gate_timings(on_redis, key, ORIGIN, n)
            rows["key + origin, quotas on Redis (loopback)"] = {"p50_us": statistics.median(values),
                                                                "p95_us": percentile(values, 95)}
        finally:
            proc.terminate()
    return rows


def request(client: httpx.Client, route: str, question: str, headers: dict[str, str]) -> httpx.Response:
    if route == "chat":
        return client.post("/api/chat", json={"message": question}, headers=headers)
    if route == "search":
        return client.get("/api/search", params={"q": question, "k": 10}, headers=headers)
    # the cheapest answering route (one example card, no query): what the key adds, with little else around it
    return client.get("/api/examples", params={"k": 1}, headers=headers)


def served(tmp: Path, corpus: list[Path], requests: int) -> tuple[dict[str, dict[str, float]], int]:
    base = Settings()
    settings = base.model_copy(update={"data_dir": tmp / "index", "models_dir": base.resolved_models_dir})
    report = make_ingestor(settings, make_embedder(base, "passage").warm_up()).ingest(corpus)
    key = KeyStore((tmp / "index") / "partners.sqlite3").create(
        "Banc d'essai", [ORIGIN], per_minute=10**9, per_day=10**9).key
    questions = [json.loads(x)["question"] for x in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines() if x]
    port = free_port()
    env = {**os.environ, "SEVE_DATA_DIR": str(tmp / "index"), "SEVE_MODELS_DIR": str(base.resolved_models_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--log-level",
                             "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    # the control sends as many header bytes as the keyed request, in headers Sève ignores
    modes = {"without key": {}, "without key, same header bytes": {"X-Seve-Kez": key, "X-Origin": ORIGIN},
             "with key + origin": {"X-Seve-Key": key, "Origin": ORIGIN}}
    routes = ("chat", "search", "examples")
    times: dict[tuple[str, str], list[float]] = {(r, m): [] for r in routes for m in modes}
    try:
        wait_http(url + "/api/health", proc, timeout=180)
        with httpx.Client(base_url=url, timeout=60) as client:
            for q in questions[:5]:
                client.post("/api/chat", json={"message": q})
            for i in range(requests):
                q = questions[(i * 7) % len(questions)]
                order = list(modes)[i % 3:] + list(modes)[:i % 3]  # each mode takes each place in turn
                for route in routes:
                    for mode in order:
                        started = time.perf_counter()
                        request(client, route, q, modes[mode]).raise_for_status()
                        times[(route, mode)].append((time.perf_counter() - started) * 1000)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rows = {f"/api/{route} {mode}": {"p50_ms": statistics.median(v), "p95_ms": percentile(v, 95)}
            for (route, mode), v in times.items()}
    for route in routes:  # the same question with and without a key, back to back
        for control in ("without key", "without key, same header bytes"):
            pairs = zip(times[(route, "with key + origin")], times[(route, control)], strict=True)
            rows[f"/api/{route} paired {control}"] = {"median_diff_ms": statistics.median(a - b for a, b in pairs)}
    return rows, report.chunks_added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="questions per route and mode")
    parser.add_argument("--checks", type=int, default=20000, help="gate checks timed per case")
    parser.add_argument("--corpus", nargs="*", type=Path, default=[p for p in DEFAULT_CORPUS if p.exists()])
    parser.add_argument("--out", type=Path, default=Path("evals/results-keys.txt"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        alone = gate_alone(Path(tmp), args.checks)
        routes, chunks = served(Path(tmp), args.corpus, args.requests)
    lines = [f"Partner-key check — {time.strftime('%Y-%m-%d %H:%M')} — {os.cpu_count()} CPU",
             "", f"Gate alone ({args.checks} checks per case)", f"{'case':45} {'p50 µs':>8} {'p95 µs':>8}"]
    lines += [f"{label:45} {row['p50_us']:8.1f} {row['p95_us']:8.1f}" for label, row in alone.items()]
    lines += ["", f"Real `seve serve`, {chunks} chunks, {args.requests} questions per route and mode, interleaved",
              f"{'route':50} {'p50 ms':>8} {'p95 ms':>8}"]
    lines += [f"{label:50} {row['p50_ms']:8.2f} {row['p95_ms']:8.2f}" for label, row in routes.items()
              if "p50_ms" in row]
    for route in ("chat", "search", "examples"):
        keyed, bare = routes[f"/api/{route} with key + origin"], routes[f"/api/{route} without key"]
        same = routes[f"/api/{route} without key, same header bytes"]
        lines.append(f"/api/{route}: p50 added by the key {keyed['p50_ms'] - bare['p50_ms']:+.2f} ms (ratio "
                     f"{keyed['p50_ms'] / bare['p50_ms']:.3f}), {keyed['p50_ms'] - same['p50_ms']:+.2f} ms against the "
                     f"same header bytes; median per-question difference "
                     f"{routes[f'/api/{route} paired without key']['median_diff_ms']:+.2f} / "
                     f"{routes[f'/api/{route} paired without key, same header bytes']['median_diff_ms']:+.2f} ms")
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
