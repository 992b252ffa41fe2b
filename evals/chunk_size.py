"""Pick the chunk size by measurement: for each size, index the corpus and ask the calibration questions.

For each answerable question we check whether its expected string appears in the top retrieved
chunks (hit@1, hit@5) and in the extractive answer (support), and we time the ingest.

    python -m evals.chunk_size [--sizes 128 256 384 512] [--corpus PATH ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from assistant.factory import make_assistant, make_embedder, make_ingestor
from assistant.settings import Settings
from evals.calibrate_refusal import DEFAULT_CORPUS, HERE


def measure(size: int, corpus: list[Path], questions: list[dict], embedder, base: Settings) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp), "models_dir": base.resolved_models_dir,
                                           "chunk_size": size, "chunk_overlap": max(8, size // 8)})
        started = time.perf_counter()
        report = make_ingestor(settings, embedder).ingest(corpus)
        ingest_s = time.perf_counter() - started
        assistant = make_assistant(settings, embedder)
        hit1 = hit5 = support = 0
        for q in questions:
            hits = assistant.retriever.retrieve(q["question"], 5)
            found = [q["expect"] in h.text for h in hits]
            hit1 += bool(found[:1] and found[0])
            hit5 += any(found)
            support += q["expect"] in assistant.chat(q["question"]).answer
    n = len(questions)
    return {"chunk_size": size, "chunks": report.chunks_added, "ingest_s": round(ingest_s, 1),
            "hit@1": round(hit1 / n, 3), "hit@5": round(hit5 / n, 3), "support": round(support / n, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[128, 192, 256, 384, 512])
    parser.add_argument("--corpus", nargs="*", type=Path, default=[p for p in DEFAULT_CORPUS if p.exists()])
    parser.add_argument("--questions", type=Path, default=HERE / "calibration_questions.jsonl")
    parser.add_argument("--out", type=Path, default=HERE / "chunk_size.json")
    args = parser.parse_args()
    questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line]
    questions = [q for q in questions if q.get("expect")]
    base = Settings()
    embedder = make_embedder(base).warm_up()
    rows = []
    print(f"{'size':>5} {'chunks':>7} {'ingest s':>9} {'hit@1':>6} {'hit@5':>6} {'support':>8}")
    for size in args.sizes:
        row = measure(size, args.corpus, questions, embedder, base)
        rows.append(row)
        print(f"{size:>5} {row['chunks']:>7} {row['ingest_s']:>9} {row['hit@1']:>6} {row['hit@5']:>6} "
              f"{row['support']:>8}", flush=True)
    args.out.write_text(json.dumps({"questions": len(questions), "rows": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
