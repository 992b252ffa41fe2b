"""Generative answers against extractive ones, on the gold set: quality, citation checks and latency.

    python -m evals.bench_llm [--limit N] [--ids G001,G002] [--out evals/results-llm]

Both modes answer every question over the same index, with the same embedding model. For the `llm` mode
(the local GGUF model unless SEVE_LLM_URL is set) it prints and records:
- support (an expected string in the answer or in a cited passage, as `seve eval`) and answer-text support,
  for both modes;
- citation precision: the share of generated sentences whose cited passage holds all their figures and
  names (their key facts); supported share: the same and at least half of their words;
- how often the generated answer was kept, and why it was replaced (fallback_reason);
- LLM calls made for unanswerable questions (the gate must keep this at 0);
- time to first visible text and total time, p50/p95, for both modes.
Sentences are checked against the text the citation points to (its span of the document, as indexed, before
instructions are removed), not against what the model was shown.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from assistant.citations import coverage, figures, names
from assistant.factory import make_assistant, make_embedders, make_generator, make_ingestor
from assistant.models import Answer
from assistant.settings import Settings
from evals.harness import DEFAULT_CORPUS, DEFAULT_GOLD, GoldItem, load_gold, normalize
from ingest.models import fold

CLAIM = re.compile(r"(.+?)\s*\[(\d+)\]", re.DOTALL)


def claims_of(text: str) -> list[tuple[str, int]]:
    return [(" ".join(t.split()), int(n)) for t, n in CLAIM.findall(text) if t.strip()]


def key_facts_in(sentence: str, passage: str) -> bool:
    folded = fold(passage)
    return figures(sentence) <= figures(passage) and all(n in folded for n in names(sentence))


def supported(answer: Answer, item: GoldItem) -> tuple[bool, bool]:
    wanted = [normalize(a) for a in item.expected_answers]
    if not wanted or not answer.grounded:
        return False, False
    cited = [normalize(c.chunk.text) for c in answer.citations]
    text = normalize(answer.answer)
    return any(w in text or any(w in c for c in cited) for w in wanted), any(w in text for w in wanted)


def timed(assistant: Any, item: GoldItem) -> tuple[Answer, float, float]:
    started = time.perf_counter()
    first = None
    answer = None
    for event in assistant.stream(item.question, item.history, item.filters):
        if event.kind in ("token", "replace") and event.data and first is None:
            first = time.perf_counter() - started
        if event.kind == "done":
            answer = event.data
    total = time.perf_counter() - started
    assert answer is not None
    return answer, first if first is not None else total, total


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", default=str(DEFAULT_GOLD))
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions (0: all)")
    parser.add_argument("--ids", default="", help="only these question ids, comma-separated")
    parser.add_argument("--data-dir", default=".seve/eval-llm")
    parser.add_argument("--out", default="evals/results-llm")
    args = parser.parse_args()

    base = Settings(data_dir=Path(args.data_dir), models_dir=Settings().resolved_models_dir)
    passages, embedder = make_embedders(base)
    make_ingestor(base, passages, embedder).ingest([Path(args.corpus)])
    extractive = make_assistant(base, embedder).warm_up()
    llm_settings = base.model_copy(update={"answer_mode": "llm"})
    generative = make_assistant(llm_settings, embedder).warm_up()
    print(f"backend: {make_generator(llm_settings).name}", flush=True)  # type: ignore[union-attr]

    items = load_gold(Path(args.gold))
    if args.ids:
        wanted = set(args.ids.split(","))
        items = [i for i in items if i.id in wanted]
    if args.limit:
        items = items[: args.limit]

    rows: list[dict[str, Any]] = []
    for item in items:
        calls_before = generative.writer.calls  # type: ignore[union-attr]
        ex, ex_first, ex_total = timed(extractive, item)
        ge, ge_first, ge_total = timed(generative, item)
        calls = generative.writer.calls - calls_before  # type: ignore[union-attr]
        # a citation shows its span of the document (assistant.passages): check sentences against that text
        lexical = generative.retriever.lexical
        by_n = {c.n: (lexical.window(c.chunk.doc_id, c.start, c.end, 0, 0)[1] if lexical else "") or c.chunk.text
                for c in ge.citations}
        checks = []
        if ge.mode == "llm":
            for sentence, n in claims_of(ge.answer):
                passage = by_n.get(n, "")
                facts = bool(passage) and key_facts_in(sentence, passage)
                checks.append({"sentence": sentence, "n": n, "facts": facts,
                               "supported": facts and coverage(sentence, passage) >= 0.5})
        rows.append({
            "id": item.id, "kind": item.kind, "answerable": item.answerable, "question": item.question,
            "extractive": {"answer": ex.answer, "grounded": ex.grounded, "support": supported(ex, item)[0],
                           "text_support": supported(ex, item)[1], "first": ex_first, "total": ex_total},
            "llm": {"answer": ge.answer, "grounded": ge.grounded, "mode": ge.mode, "fallback": ge.fallback_reason,
                    "support": supported(ge, item)[0], "text_support": supported(ge, item)[1],
                    "first": ge_first, "total": ge_total, "calls": calls, "sentences": checks},
        })
        r = rows[-1]["llm"]
        print(f"{item.id} {item.kind:11s} ex={int(rows[-1]['extractive']['support'])} llm={int(r['support'])} "
              f"mode={r['mode']:10s} fb={r['fallback'] or '-':11s} first={ge_first:5.1f}s total={ge_total:5.1f}s",
              flush=True)

    summary = summarize(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"summary": summary, "rows": rows}, ensure_ascii=False,
                                                   indent=1), encoding="utf-8")
    out.with_suffix(".md").write_text(report(summary, rows), encoding="utf-8")
    print(json.dumps(summary, ensure_ascii=False, indent=1))


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    sentences = [s for r in rows for s in r["llm"]["sentences"]]
    generated = [r for r in answerable if r["llm"]["mode"] == "llm"]

    def share(values: list[bool]) -> float:
        return round(sum(values) / len(values), 3) if values else float("nan")

    return {
        "questions": len(rows), "answerable": len(answerable),
        "extractive_support": share([r["extractive"]["support"] for r in answerable]),
        "llm_support": share([r["llm"]["support"] for r in answerable]),
        "extractive_text_support": share([r["extractive"]["text_support"] for r in answerable]),
        "llm_text_support": share([r["llm"]["text_support"] for r in answerable]),
        "generated_kept": len(generated),
        "fallback_reasons": dict(Counter(r["llm"]["fallback"] for r in rows if r["llm"]["fallback"])),
        "generated_sentences": len(sentences),
        "citation_precision": share([s["facts"] for s in sentences]),
        "supported_sentence_share": share([s["supported"] for s in sentences]),
        "llm_calls_on_unanswerable": sum(r["llm"]["calls"] for r in rows if not r["answerable"]),
        "refusals_kept_unanswerable": sum(not r["llm"]["grounded"] for r in rows if not r["answerable"]),
        "unanswerable": len(rows) - len(answerable),
        "llm_first_p50_s": round(pct([r["llm"]["first"] for r in rows if r["llm"]["calls"]], 0.5), 2),
        "llm_first_p95_s": round(pct([r["llm"]["first"] for r in rows if r["llm"]["calls"]], 0.95), 2),
        "llm_total_p50_s": round(pct([r["llm"]["total"] for r in rows if r["llm"]["calls"]], 0.5), 2),
        "llm_total_p95_s": round(pct([r["llm"]["total"] for r in rows if r["llm"]["calls"]], 0.95), 2),
        "extractive_total_p50_ms": round(1000 * pct([r["extractive"]["total"] for r in rows], 0.5), 1),
        "extractive_total_p95_ms": round(1000 * pct([r["extractive"]["total"] for r in rows], 0.95), 1),
        "mean_llm_calls_per_question": round(statistics.mean(r["llm"]["calls"] for r in rows), 3) if rows else 0,
    }


def report(summary: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    lines = ["# Generative answers (llm) against extractive ones, gold set", "", "```",
             json.dumps(summary, ensure_ascii=False, indent=1), "```", ""]
    for r in rows:
        lines += [f"## {r['id']} ({r['kind']}) {r['question']}", "",
                  f"- extractive (support {int(r['extractive']['support'])}): {r['extractive']['answer'][:400]}",
                  f"- llm → {r['llm']['mode']} {r['llm']['fallback'] or ''} (support {int(r['llm']['support'])}, "
                  f"{r['llm']['first']:.1f} s / {r['llm']['total']:.1f} s): {r['llm']['answer'][:400]}", ""]
        lines += [f"  - [{s['n']}] facts={int(s['facts'])} supported={int(s['supported'])}: {s['sentence'][:160]}"
                  for s in r["llm"]["sentences"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
