"""Planning a turn: history + message -> the standalone question, its reading, and the filters.

`Catalogue` knows which filter values the index holds (cached per index version); `Planner` reads the
filters in a question, keeps only those the index can use, and merges them with the explicit ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.condense import condense, is_follow_up, last_user_message
from assistant.question import Question, french_terms, read_turn
from assistant.understand import Understanding, understand, understand_turn
from index.filters import normalize_filters
from index.lexical import LexicalIndex

FACET_KEYS = ("region", "domaine", "acteurs", "type")


@dataclass(frozen=True)
class QueryPlan:
    standalone: str
    applied: dict[str, list[Any]]  # every filter: read in the question (when the index can use it), and explicit
    fallback: dict[str, list[Any]]  # the same without those read in the question
    detected: dict[str, list[Any]]  # read in the question and usable on this index
    wants_examples: bool
    question: Question | None = None
    lexical_query: str = ""  # what the lexical side searches (an English question gets French words)


class Catalogue:
    """The values present in the index for each filter key, and the latest year (cached per index version)."""

    def __init__(self, lexical: LexicalIndex | None) -> None:
        self.lexical = lexical
        self._known: tuple[int, dict[str, set[str]], int | None] | None = None

    def known_values(self) -> tuple[dict[str, set[str]], int | None]:
        if self.lexical is None:
            return {}, None
        version = self.lexical.version()
        if self._known is None or self._known[0] != version:
            docs = self.lexical.documents()
            known: dict[str, set[str]] = {}
            for meta in docs.values():
                for key in FACET_KEYS:
                    value = meta.get(key)
                    known.setdefault(key, set()).update(value if isinstance(value, list) else [value] if value else [])
            years = [m["annee"] for m in docs.values() if isinstance(m.get("annee"), int)]
            self._known = (version, known, max(years) if years else None)
        return self._known[1], self._known[2]

    def has_examples(self) -> bool:
        return self.lexical is not None and bool(self.lexical.documents({"doc_type": ["exemple"]}))

    def usable(self, detected: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
        """Filters read in a question apply only for keys the index has values for: a corpus of web pages
        without `acteurs` metadata must not lose every passage to « acteurs : fondation »."""
        known, latest = self.known_values()
        usable = {}
        for key, values in detected.items():
            base = "acteurs" if key == "acteurs_tous" else key
            if base in ("annee", "annee_min", "annee_max") and latest is None:
                continue
            if base in FACET_KEYS and not known.get(base):
                continue
            usable[key] = values
        return usable


class Planner:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def understand(self, message: str, history: Sequence[Any]) -> Understanding:
        known, latest = self.catalogue.known_values()
        return understand_turn(message, last_user_message(history), known, latest, is_follow_up(message))

    def read_filters(self, query: str) -> dict[str, list[Any]]:
        """Filters read in a free query of the example finder."""
        known, latest = self.catalogue.known_values()
        return normalize_filters(understand(query + " exemples", known, latest).filters)

    def plan(self, message: str, history: Sequence[Any] = (), filters: Mapping[str, Any] | None = None,
             detect_filters: bool = True) -> QueryPlan:
        """What to search for: the standalone question and the filters (read in it, and explicit)."""
        explicit = normalize_filters(filters)
        standalone = condense(message, history)
        understood = self.understand(message, history)
        detected = self.catalogue.usable(normalize_filters(understood.filters)) if detect_filters else {}
        base = {"doc_type": ["exemple"]} if understood.wants_examples and "doc_type" not in explicit else {}
        if base and not self.catalogue.known_values()[0].get("type") and not self.catalogue.has_examples():
            base = {}  # a corpus without case-example records: look for examples in its text
        question = read_turn(message, standalone)
        lexical_query = standalone
        if question.lang == "en":
            lexical_query = f"{standalone} {french_terms(standalone)}"
        return QueryPlan(standalone, {**base, **detected, **explicit}, {**base, **explicit}, detected,
                         understood.wants_examples, question, lexical_query)
