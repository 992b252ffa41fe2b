"""Serving at scale, one command: ingest speed, latency at 20,000 and 100,000 chunks, 16 clients, memory.

    python -m evals.bench_scale [--sizes 20000,100000] [--clients 16] [--load-seconds 60] [--requests 100]

1. Ingest: 1,200 generated illustrative case examples (evals/generate_examples.py) go through the real ingest
   (`seve ingest`'s code path: loading, chunking, passage and sentence vectors, Chroma, lexical copy), with
   each passage encoder (torch fp32, the default, and int8 ONNX); against plain model encoding of the same
   chunk texts by the same encoder, in the same run (the ratio says what the pipeline costs on top).
2. Indexes of 20,000 and 100,000 chunks: the sample corpus and the generated examples, then chunks made of
   their sentences recombined (3 to 6 sentences from random chunks), with the mean of their real passage
   vectors plus noise (encoding 100,000 texts would take the model hours on 2 cores and would not change how
   fast the index answers). Built once, kept under .seve/bench/.
3. At each size, a real `seve serve` (default settings: int8 question encoder) on a free loopback port:
   `/api/search` and `/api/chat` p50/p95, one request at a time; then `--clients` concurrent clients asking
   `/api/chat` for `--load-seconds` (requests/s, errors, p50/p95); peak RSS of the server (VmHWM).

The table is printed and written to evals/results-scale.md (and .json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from assistant.factory import make_embedder, make_ingestor, make_lexical, make_store
from assistant.settings import Settings
from evals.bench_latency import QUESTIONS_FILE, peak_rss_mib, percentile
from evals.generate_examples import write as write_examples
from evals.harness import DEFAULT_CORPUS, ROOT
from evals.serving import free_port, rss_mib, stop, wait_http
from index.hybrid import IndexWriter
from ingest.models import Chunk
from ingest.pipeline import embedding_text
from ingest.structure import sentence_texts

BENCH = ROOT / ".seve" / "bench"
BUILD_VERSION = "1"
OUT = ROOT / "evals" / "results-scale"


def questions() -> list[str]:
    rows = [json.loads(x) for x in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [r["question"] for r in rows if not r.get("history")]


def examples_folder() -> Path:
    folder = BENCH / "exemples-generes"
    if not (folder / "exemples.jsonl").exists():
        write_examples(folder / "exemples.jsonl", 1200)
    return folder


# --------------------------------------------------------------------------- 1. ingest


def bench_ingest(base: Settings, encoder: str, log) -> dict:
    settings = base.model_copy(update={"data_dir": BENCH / f"ingest-{encoder}", "passage_encoder": encoder})
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    embedder = make_embedder(settings, "passage")
    embedder.warm_up()
    ingestor = make_ingestor(settings, embedder)
    started = time.perf_counter()
    report = ingestor.ingest([examples_folder()])
    seconds = time.perf_counter() - started
    # plain encoding of the same texts by the same encoder (a sample: the rate is what is compared)
    store = ingestor.store.vector  # type: ignore[attr-defined]
    sample = [Chunk(h.doc_id, h.text, h.start, h.end, h.metadata) for h in store.chunks(store.ids()[:400])]
    texts = [embedding_text(c) for c in sample]
    started = time.perf_counter()
    embedder.embed_passages(texts)
    plain = len(texts) / (time.perf_counter() - started)
    row = {"encoder": encoder, "documents": report.documents, "chunks": report.chunks_added,
           "seconds": round(seconds, 1), "chunks_per_s": round(report.chunks_added / seconds, 1),
           "plain_encoding_chunks_per_s": round(plain, 1),
           "ratio_to_plain": round(report.chunks_added / seconds / plain, 2)}
    log(f"ingest [{encoder}] {row}")
    return row


# --------------------------------------------------------------------------- 2. indexes


def build_index(base: Settings, size: int, log) -> Path:
    """The sample corpus + the generated examples, really ingested, then recombined chunks up to `size`."""
    data = BENCH / f"scale-{size}"
    marker = data / "bench.json"
    if marker.exists() and json.loads(marker.read_text())["version"] == BUILD_VERSION:
        return data
    shutil.rmtree(data, ignore_errors=True)
    settings = base.model_copy(update={"data_dir": data})
    seed = BENCH / "seed-index"
    if not (seed / "bench.json").exists():  # the real part, ingested once for every size
        shutil.rmtree(seed, ignore_errors=True)
        started = time.perf_counter()
        make_ingestor(base.model_copy(update={"data_dir": seed})).ingest(
            [DEFAULT_CORPUS, examples_folder()])
        (seed / "bench.json").write_text(json.dumps({"version": BUILD_VERSION}))
        log(f"seed index ingested in {time.perf_counter() - started:.0f} s")
    shutil.copytree(seed, data)
    embedder = make_embedder(settings)
    store = make_store(settings, embedder)
    lexical = make_lexical(settings, store)
    writer = IndexWriter(store, lexical)
    ids = store.ids()
    real = store.chunks(ids)
    vectors = {cid: np.asarray(v, dtype=np.float32) for cid, v in zip(
        ids, store._collection.get(ids=ids, include=["embeddings"])["embeddings"], strict=True)}
    pools = [(h, [s for s in sentence_texts(h.text) if len(s) > 30]) for h in real]
    pools = [(h, s) for h, s in pools if s]
    rng = random.Random(size)
    noise = np.random.default_rng(size)
    started = time.perf_counter()
    batch: list[Chunk] = []
    batch_vectors: list[np.ndarray] = []
    for i in range(size - len(real)):
        picked = [pools[rng.randrange(len(pools))] for _ in range(rng.randint(3, 6))]
        parts = [rng.choice(sentences) for _, sentences in picked]
        first = picked[0][0]
        vector = np.mean([vectors[h.chunk_id] for h, _ in picked], axis=0) + noise.normal(0, 0.01, embedder.dim)
        meta = {**first.metadata, "title": f"{first.metadata.get('title', 'Document')} (recomposé {i // 4})"}
        text = " ".join(parts)
        start = (i % 4) * 4000
        batch.append(Chunk(f"syn-{i // 4}", text, start, start + len(text), meta))
        batch_vectors.append(vector / np.linalg.norm(vector))
        if len(batch) == 5000:
            writer.upsert(batch, np.stack(batch_vectors))
            batch, batch_vectors = [], []
    if batch:
        writer.upsert(batch, np.stack(batch_vectors))
    writer.set_document_count(len(set(h.doc_id for h in real)) + (size - len(real) + 3) // 4)
    log(f"index {size}: {store.count()} chunks ({time.perf_counter() - started:.0f} s to add the recombined ones)")
    marker.write_text(json.dumps({"version": BUILD_VERSION, "chunks": store.count()}))
    return data


# --------------------------------------------------------------------------- 3. serving


def _sequential(client: httpx.Client, url: str, qs: list[str], n: int) -> dict:
    search, chat = [], []
    for q in (qs * (n // len(qs) + 1))[:n]:
        started = time.perf_counter()
        client.get(url + "/api/search", params={"q": q, "k": 5}).raise_for_status()
        search.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        client.post(url + "/api/chat", json={"message": q}).raise_for_status()
        chat.append((time.perf_counter() - started) * 1000)
    return {"search_p50": round(percentile(search, 50), 1), "search_p95": round(percentile(search, 95), 1),
            "chat_p50": round(percentile(chat, 50), 1), "chat_p95": round(percentile(chat, 95), 1)}


async def _load(url: str, qs: list[str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds

    async def client(index: int) -> None:
        rng = random.Random(index)
        async with httpx.AsyncClient(timeout=60) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    r = await http.post(url + "/api/chat", json={"message": rng.choice(qs)})
                    if r.status_code != 200:
                        errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                        continue
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.monotonic() - started
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies),
            "req_per_s": round(len(latencies) / elapsed, 1), "errors": sum(errors.values()), "error_kinds": errors,
            "load_p50": round(percentile(latencies, 50), 1) if latencies else None,
            "load_p95": round(percentile(latencies, 95), 1) if latencies else None}


def bench_serving(data: Path, size: int, args: argparse.Namespace, log, chroma_url: str | None = None) -> dict:
    """One `seve serve` on the index in `data` (embedded), or on a `chroma run` serving it (client/server: the
    API process has its own data dir with a synced lexical copy; the vector index lives in the Chroma server)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SEVE_DATA_DIR": str(data), "SEVE_MODELS_DIR": str(Settings().resolved_models_dir.resolve())}
    if chroma_url:
        api_dir = BENCH / f"api-{size}"
        shutil.rmtree(api_dir, ignore_errors=True)
        api_dir.mkdir(parents=True)
        shutil.copy(data / "lexical-seve.sqlite", api_dir / "lexical-seve.sqlite")  # a synced copy, as after a run
        env.update({"SEVE_DATA_DIR": str(api_dir), "SEVE_CHROMA_URL": chroma_url})
    log_file = open(BENCH / f"serve-{size}{'-cs' if chroma_url else ''}.log", "wb")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--log-level",
                             "warning"], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_http(url + "/api/health", proc, timeout=600)
        startup = time.perf_counter() - started
        health = httpx.get(url + "/api/health", timeout=30).json()
        qs = questions()
        with httpx.Client(timeout=60) as client:
            for q in qs[:10]:  # warm-up
                client.post(url + "/api/chat", json={"message": q})
            row = {"size": size, "mode": "client/server" if chroma_url else "embedded", "chunks": health["chunks"],
                   "startup_s": round(startup, 1),
                   "rss_after_start_mib": round(rss_mib(proc.pid)), **_sequential(client, url, qs, args.requests)}
        row.update(asyncio.run(_load(url, qs, args.clients, args.load_seconds)))
        row["peak_rss_mib"] = round(peak_rss_mib(proc.pid))
    finally:
        stop(proc)
        log_file.close()
    log(f"serve {size}: {row}")
    return row


# --------------------------------------------------------------------------- report


GOALS = {20000: (20, 50), 100000: (40, 80)}


def table(ingest: list[dict], serving: list[dict]) -> str:
    lines = ["## Ingest (1,200 generated examples)", "",
             "| passage encoder | chunks | s | chunks/s | plain encoding chunks/s | ratio |",
             "|---|---|---|---|---|---|"]
    for r in ingest:
        lines.append(f"| {r['encoder']} | {r['chunks']} | {r['seconds']} | {r['chunks_per_s']} | "
                     f"{r['plain_encoding_chunks_per_s']} | {r['ratio_to_plain']} |")
    lines += ["", "## Serving (`seve serve`, int8 question encoder)", "",
              "| chunks | Chroma | search p50 / p95 ms | chat p50 / p95 ms | goal p50 search / chat | clients | "
              "req/s | errors | load p50 / p95 ms | `seve serve` RSS start / peak MiB | start s |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in serving:
        goal = GOALS.get(r["size"])
        server = f" (server {r['chroma_server_peak_rss_mib']} MiB)" if "chroma_server_peak_rss_mib" in r else ""
        lines.append(f"| {r['chunks']} | {r['mode']}{server} | {r['search_p50']} / {r['search_p95']} | "
                     f"{r['chat_p50']} / {r['chat_p95']} | "
                     f"{f'≤ {goal[0]} / ≤ {goal[1]}' if goal else '—'} | {r['clients']} | {r['req_per_s']} | "
                     f"{r['errors']} | {r['load_p50']} / {r['load_p95']} | {r['rss_after_start_mib']} / "
                     f"{r['peak_rss_mib']} | {r['startup_s']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--requests", type=int, default=100, help="sequential requests per endpoint and size")
    parser.add_argument("--encoders", default="torch,onnx-int8", help="passage encoders for the ingest part")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--embedded-only", action="store_true", help="no client/server run")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    BENCH.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    base = Settings(data_dir=BENCH, models_dir=Settings().resolved_models_dir.resolve())
    ingest = [] if args.skip_ingest else [bench_ingest(base, e.strip(), log) for e in args.encoders.split(",")]
    serving = []
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    for size in sizes:
        serving.append(bench_serving(build_index(base, size, log), size, args, log))
    if sizes and not args.embedded_only:  # the largest index again, its vectors in a `chroma run` server
        data = build_index(base, sizes[-1], log)
        chroma = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(data / "chroma"),
                                   "--host", "127.0.0.1", "--port", str(port := free_port())],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", chroma, timeout=300)
            row = bench_serving(data, sizes[-1], args, log, chroma_url=f"http://127.0.0.1:{port}")
            row["chroma_server_peak_rss_mib"] = round(peak_rss_mib(chroma.pid))
            serving.append(row)
        finally:
            stop(chroma)
    text = (f"# Scale benchmark ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)\n\n"
            f"`python -m evals.bench_scale` — see the module's docstring for what is measured.\n\n"
            + table(ingest, serving) + "\n")
    print(text)
    args.out.with_suffix(".md").write_text(text, encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps({"ingest": ingest, "serving": serving}, indent=1,
                                                        ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
