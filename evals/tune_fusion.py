"""Tune the hybrid fusion on the gold set: dense and lexical rankings are computed once per question,
then every (k, dense weight, lexical weight, depth) is scored by hit@5 and MRR@10 on answerable questions.

    python -m evals.tune_fusion [--gold FILE] [--out evals/fusion_tuning.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from assistant.factory import make_assistant, make_embedders, make_ingestor
from assistant.settings import Settings
from evals.harness import DEFAULT_CORPUS, DEFAULT_GOLD, HERE, doc_key, load_gold, relevant_doc
from index.hybrid import rrf


def score(rankings, items, corpus: Path) -> dict[str, float]:
    hit5 = mrr = 0.0
    for ranking, item in zip(rankings, items, strict=True):
        ranks, found = [], []
        for hit in ranking[:10]:
            doc = relevant_doc(hit, doc_key(hit.metadata, corpus), item.expected_docs)
            ranks.append(doc is not None and doc not in found)
            if doc and doc not in found:
                found.append(doc)
        hit5 += any(ranks[:5])
        mrr += next((1 / (i + 1) for i, r in enumerate(ranks) if r), 0.0)
    return {"hit@5": round(hit5 / len(items), 4), "mrr@10": round(mrr / len(items), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=HERE / "fusion_tuning.json")
    args = parser.parse_args()
    base = Settings()
    settings = base.model_copy(update={"data_dir": base.data_dir / "eval", "models_dir": base.resolved_models_dir})
    passages, embedder = make_embedders(settings)
    make_ingestor(settings, passages, embedder).ingest([args.corpus])
    assistant = make_assistant(settings, embedder)
    items = [i for i in load_gold(args.gold) if i.answerable]
    dense, lexical = [], []
    for item in items:
        plan = assistant.plan(item.question, item.history)
        dense.append(assistant.retriever.search(plan.standalone, 50, plan.applied, mode="dense").hits)
        lexical.append(assistant.retriever.search(plan.standalone, 50, plan.applied, mode="lexical").hits)
    rows = [{"config": "dense", **score(dense, items, args.corpus)},
            {"config": "lexical", **score(lexical, items, args.corpus)}]
    for k, wd, wl, depth in itertools.product([1, 5, 10, 20, 60], [1.0], [0.5, 0.75, 1.0, 1.5, 2.0, 3.0],
                                              [10, 20, 30, 50]):
        fused = [rrf([d[:depth], lx[:depth]], k=k, weights=[wd, wl], limit=10) for d, lx in zip(dense, lexical,
                                                                                              strict=True)]
        rows.append({"config": "rrf", "k": k, "dense_weight": wd, "lexical_weight": wl, "depth": depth,
                     **score(fused, items, args.corpus)})
    best = max((r for r in rows if r["config"] == "rrf"), key=lambda r: (r["mrr@10"], r["hit@5"]))
    args.out.write_text(json.dumps({"questions": len(items), "best": best, "rows": rows}, indent=1),
                        encoding="utf-8")
    for row in rows[:2]:
        print(row)
    print("best:", best)
    top = sorted((r for r in rows if r["config"] == "rrf"), key=lambda r: (-r["mrr@10"], -r["hit@5"]))[:8]
    for row in top:
        print(row)


if __name__ == "__main__":
    main()
