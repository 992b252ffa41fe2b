"""Calibrate the refusal threshold on questions, not by guess.

Indexes a corpus with the configured model, asks answerable and off-topic questions
(`calibration_questions.jsonl`), and picks the threshold on the best chunk's score that maximises
balanced accuracy (ties: the middle of the best interval). Prints the figures and writes them to JSON.

    python -m evals.calibrate_refusal [--corpus PATH ...] [--out evals/calibration.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from assistant.factory import make_assistant, make_embedders, make_ingestor
from assistant.settings import Settings

HERE = Path(__file__).parent
ROOT = HERE.parent
DEFAULT_CORPUS = [ROOT.parent / "shared" / "seeds", ROOT / "tests" / "data" / "mini", ROOT / "corpus"]


def sweep(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float, list[dict]]:
    candidates = np.unique(np.concatenate([pos, neg]))
    rows = []
    for t in candidates:
        recall_answer = float((pos >= t).mean())
        recall_refuse = float((neg < t).mean())
        rows.append({"threshold": float(t), "answered": recall_answer, "refused": recall_refuse,
                     "balanced_accuracy": (recall_answer + recall_refuse) / 2})
    best = max(r["balanced_accuracy"] for r in rows)
    tied = [r["threshold"] for r in rows if r["balanced_accuracy"] == best]
    # every threshold in (max score below the interval, min tied] gives the same result: take the middle
    low = max([s for s in np.concatenate([pos, neg]) if s < min(tied)], default=min(tied) - 0.01)
    return float((low + min(tied)) / 2), best, rows


def _summary(scores: np.ndarray) -> dict[str, float]:
    return {"n": len(scores), "min": float(scores.min()), "median": float(np.median(scores)),
            "max": float(scores.max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="*", type=Path, default=[p for p in DEFAULT_CORPUS if p.exists()])
    parser.add_argument("--questions", type=Path, default=HERE / "calibration_questions.jsonl")
    parser.add_argument("--out", type=Path, default=HERE / "calibration.json")
    args = parser.parse_args()

    base = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp), "models_dir": base.resolved_models_dir})
        passages, embedder = make_embedders(settings)
        report = make_ingestor(settings, passages, embedder).ingest(args.corpus)
        assistant = make_assistant(settings, embedder)
        questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line]
        scored = []
        for q in questions:
            # the gate the assistant applies: the best dense cosine under the filters read in the question
            retrieval, _ = assistant.retrieve_planned(assistant.plan(q["question"]), settings.top_k)
            top = retrieval.hits[0] if retrieval.hits else None
            scored.append({**q, "top_score": round(retrieval.dense_best, 4),
                           "top_title": top.metadata.get("title") if top else None})
    pos = np.array([s["top_score"] for s in scored if s["answerable"]])
    neg = np.array([s["top_score"] for s in scored if not s["answerable"]])
    threshold, best, _ = sweep(pos, neg)
    result = {
        "model": settings.embedding_model_label,
        "corpus": [str(p.relative_to(ROOT.parent)) if p.is_relative_to(ROOT.parent) else str(p) for p in args.corpus],
        "chunks": report.chunks_added,
        "answerable": _summary(pos),
        "off_topic": _summary(neg),
        "threshold": round(threshold, 4),
        "balanced_accuracy": best,
        "questions": scored,
    }
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"answerable top scores: min {pos.min():.3f} median {np.median(pos):.3f} max {pos.max():.3f} (n={len(pos)})")
    print(f"off-topic  top scores: min {neg.min():.3f} median {np.median(neg):.3f} max {neg.max():.3f} (n={len(neg)})")
    print(f"threshold {threshold:.4f}  balanced accuracy {best:.3f}  -> {args.out}")
    for s in sorted(scored, key=lambda s: s["top_score"]):
        wrong = (s["top_score"] >= threshold) != s["answerable"]
        if wrong:
            print(f"  misclassified ({s['top_score']:.3f}, answerable={s['answerable']}): {s['question']}")


if __name__ == "__main__":
    main()
