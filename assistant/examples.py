"""Case-example cards and facet counts for the example finder (API, Gradio tab, chat answers)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from assistant.sources import public_source, safe_url
from index.store import ScoredChunk

FACET_KEYS = ("region", "domaine", "acteurs", "type", "annee")
CARD_FIELDS = ("title", "resume", "region", "territoire", "domaine", "acteurs", "partenaires", "type", "annee",
               "url", "record_id")


def example_card_from_metadata(doc_id: str, meta: dict[str, Any], score: float | None = None,
                               snippet: str = "") -> dict[str, Any]:
    card: dict[str, Any] = {"doc_id": doc_id}
    for key in CARD_FIELDS:
        value = meta.get(key)
        card[key] = value if value not in ("", []) else None
    card["acteurs"] = card["acteurs"] or []
    card["url"] = safe_url(card["url"])
    card["partenaires"] = card["partenaires"] or []
    card["source"] = public_source(meta)
    card["score"] = round(score, 4) if score is not None else None
    card["snippet"] = snippet or str(meta.get("resume") or "")
    card["illustratif"] = bool(meta.get("illustratif"))
    return card


def example_card(hit: ScoredChunk) -> dict[str, Any]:
    return example_card_from_metadata(hit.doc_id, hit.metadata, hit.score)


def facet_counts(docs: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """How many documents carry each value of each facet (list values count once per value)."""
    counters: dict[str, Counter[str]] = {key: Counter() for key in FACET_KEYS}
    for meta in docs:
        for key in FACET_KEYS:
            value = meta.get(key)
            values = value if isinstance(value, list) else [value] if value not in (None, "") else []
            counters[key].update(str(v) for v in values)
    return {key: dict(sorted(c.items(), key=lambda p: (-p[1], p[0]))) for key, c in counters.items()}
