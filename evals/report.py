"""Eval output: a terminal table, a JSON file, and a Markdown report with a comparison plot."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evals.harness import EvalRun

COLUMNS = ["hit@1", "hit@5", "mrr@10", "ndcg@10", "support", "answer_support", "citation_precision",
           "refusal_precision", "refusal_recall", "false_refusal_rate", "false_answers", "filter_precision",
           "smalltalk", "latency_p50_ms", "latency_p95_ms"]
SHORT = {"citation_precision": "cit.prec", "refusal_precision": "ref.prec", "refusal_recall": "ref.rec",
         "filter_precision": "filt.prec", "latency_p50_ms": "p50 ms", "latency_p95_ms": "p95 ms",
         "answer_support": "ans.sup", "false_refusal_rate": "false.ref", "false_answers": "false.ans",
         "smalltalk": "talk"}


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if isinstance(value, float) and value > 1.5 else f"{value:.3f}" \
        if isinstance(value, float) else str(value)


def table(run: EvalRun) -> str:
    names = list(run.summaries)
    width = max(len(n) for n in names) + 2
    head = "config".ljust(width) + " ".join(SHORT.get(c, c).rjust(9) for c in COLUMNS)
    lines = [head, "-" * len(head)]
    for name in names:
        row = run.summaries[name]
        lines.append(name.ljust(width) + " ".join(_fmt(row.get(c)).rjust(9) for c in COLUMNS))
    return "\n".join(lines)


def worst(run: EvalRun, config: str, n: int = 8) -> list[dict[str, Any]]:
    """The answerable questions this configuration handled worst (no relevant hit, or no support)."""
    rows = []
    for j in run.details[config]:
        if not j.item.answerable:
            if j.grounded:
                rows.append({"id": j.item.id, "kind": j.item.kind, "question": j.item.question,
                             "problem": "répond alors que le corpus ne le permet pas", "answer": j.answer[:200]})
            continue
        first = next((i + 1 for i, rel in enumerate(j.ranks) if rel), None)
        if first is None or not j.support:
            rows.append({"id": j.item.id, "kind": j.item.kind, "question": j.item.question,
                         "problem": ("aucun document attendu dans le top 10" if first is None
                                     else f"premier document attendu au rang {first}, "
                                     + ("réponse non étayée" if j.grounded else "refus à tort")),
                         "expected": j.item.expected_docs[:2], "got": j.hit_keys[:3], "answer": j.answer[:200]})
    return rows[:n]


def to_json(run: EvalRun) -> dict[str, Any]:
    return {
        "meta": run.meta,
        "summaries": run.summaries,
        "questions": {name: [{"id": j.item.id, "kind": j.item.kind, "ranks": j.ranks, "support": j.support,
                              "grounded": j.grounded, "citation_precision": j.citation_precision,
                              "latency_ms": round(j.latency_ms, 1), "hits": j.hit_keys}
                             for j in judged] for name, judged in run.details.items()},
    }


def plot(run: EvalRun, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ["hit@1", "hit@5", "mrr@10", "ndcg@10", "support", "citation_precision", "refusal_recall"]
    names = list(run.summaries)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [run.summaries[name].get(m) or 0 for m in metrics]
        ax.bar([x + i * width for x in range(len(metrics))], values, width, label=name)
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(metrics))])
    ax.set_xticklabels([SHORT.get(m, m) for m in metrics])
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Sève — {run.meta['questions']} questions, {run.meta['documents']} documents")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(run: EvalRun, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "eval.json", "markdown": out_dir / "eval.md", "plot": out_dir / "eval.png"}
    paths["json"].write_text(json.dumps(to_json(run), ensure_ascii=False, indent=1), encoding="utf-8")
    plot(run, paths["plot"])
    lines = ["# Évaluation de Sève", "", f"- questions : {run.meta['questions']} ({run.meta['gold']})",
             f"- modèle : {run.meta['embedding_model']}, passages de {run.meta['chunk_size']} jetons",
             "- refus : porte de réponse à plusieurs signaux (assistant/gate.json)", "", "```", table(run), "```", "",
             f"![comparaison]({paths['plot'].name})", ""]
    for name in run.details:
        lines += [f"## Questions les plus mal traitées : {name}", ""]
        for row in worst(run, name):
            lines.append(f"- **{row['id']}** ({row['kind']}) {row['question']} — {row['problem']}")
        lines.append("")
    paths["markdown"].write_text("\n".join(lines), encoding="utf-8")
    return paths


__all__ = ["table", "worst", "to_json", "write", "plot", "asdict"]
