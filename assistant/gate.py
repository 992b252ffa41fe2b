"""The answerability gate: does the corpus answer this question, or only talk about its topic?

One dense-cosine threshold calibrated on our own corpus did not transfer (it answered near-domain
questions on other corpora and refused English and typo'd ones here). The gate reads several signals
instead, each scale-free across corpora:

- `dense`: the best chunk's cosine with the question (retrieval's own confidence);
- `best_sentence`: the chosen sentence's score (dense + word overlap), i.e. how well the quote fits;
- `hits_cover`: the share of the question's content words found in the top passages;
- `answer_cover`: the share found in the quoted sentences and the headings they stand under;
- `entities`: the share of the question's names, acronyms and figures present in the top passages;
- `unknown`: the share of the question's words the index has never seen (after typo correction);
- `type_ok`: 1 when the question asks for a figure, date or name and the answer has one (or asks none).

A logistic model over them is fitted by `python -m evals.calibrate_gate` on questions over a corpus
that is not the shipped one (evals/transfer/dev); its coefficients live in gate.json beside this file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.question import EN_FR, Question, french_terms
from index.lexical import analyze

GATE_FILE = Path(__file__).with_name("gate.json")
FEATURES = ("dense", "best_sentence", "hits_cover", "answer_cover", "entities", "unknown", "type_ok")

# Words of a question that say how to answer, not what about.
_GENERIC = set(analyze(
    "exemple exemples donne donner donnez citer cite parle parlez parler dire dit sais savoir connais connait "
    "peux pouvez trouve trouver cherche veux voudrais aimerais explique expliquer expliquez signifie signifier "
    "veut vouloir définition définir différence différences entre question corpus document documents rapport "
    "selon concrètement exactement vraiment principal principaux principales important importants chose choses "
    "fait faire font existe existent avoir quoi"))
_EN_STOP = set("the a an of and or to in on for with about is are was were be been what which who whom whose "
               "where when why how does do did can could should would there their this that these those you your "
               "me my tell give show any some many much list name it its they them as at by from".split())
_TYPED = re.compile(r"\d|\b(19|20)\d\d\b")


@dataclass(frozen=True)
class Signals:
    dense: float
    best_sentence: float
    hits_cover: float
    answer_cover: float
    entities: float
    unknown: float
    type_ok: float

    def vector(self) -> list[float]:
        return [float(getattr(self, name)) for name in FEATURES]


def question_terms(question: Question, corrections: Mapping[str, str] | None = None) -> list[str]:
    """The question's content terms, analyzed like the index (English words read through the glossary)."""
    text = question.text
    if question.lang == "en":
        words = re.findall(r"[A-Za-z0-9%]+", text)
        kept = [w for w in words if w.lower() not in _EN_STOP and w.lower() not in EN_FR]
        text = " ".join(kept) + " " + french_terms(text)
    terms = []
    for term in analyze(text):
        term = (corrections or {}).get(term, term)
        if term not in _GENERIC and term not in terms:
            terms.append(term)
    return terms


def _entities(text: str) -> list[str]:
    """Names, acronyms and figures of a question: what a passage must mention to be about the same thing."""
    found = re.findall(r"\b\d[\d  .,]*%?|\b[A-Z]{2,}\w*\b", text)
    found += re.findall(r"(?<=[\w,;:'’] )[A-ZÉÈ][a-zéèêëïîôûç]+(?:[- ][A-ZÉÈ][a-zéèêëïîôûç]+)*", text)
    return [e.strip() for e in found if e.strip() and e.strip().lower() not in _EN_STOP]


def coverage(terms: Sequence[str], texts: Iterable[str]) -> float:
    if not terms:
        return 1.0
    have: set[str] = set()
    for text in texts:
        have.update(analyze(text))
    return sum(t in have for t in terms) / len(terms)


def signals(question: Question, *, dense: float, best_sentence: float, hit_texts: Sequence[str],
            answer_texts: Sequence[str], known: Mapping[str, int] | None,
            corrections: Mapping[str, str] | None = None) -> Signals:
    terms = question_terms(question, corrections)
    entities = _entities(question.text) if question.lang == "fr" else []
    joined = " ".join(hit_texts)
    entity_terms = [analyze(e) for e in entities]
    entity_terms = [t for t in entity_terms if t]
    have = set(analyze(joined))
    entity_share = sum(all(x in have for x in t) for t in entity_terms) / len(entity_terms) if entity_terms else 1.0
    unknown = sum(1 for t in terms if known is not None and known.get(t, 0) == 0) / len(terms) if terms else 0.0
    needs = question.kind in ("figure", "date")
    type_ok = 1.0 if not needs or any(_TYPED.search(t) for t in answer_texts) else 0.0
    return Signals(dense=dense, best_sentence=best_sentence, hits_cover=coverage(terms, hit_texts),
                   answer_cover=coverage(terms, answer_texts), entities=entity_share, unknown=unknown,
                   type_ok=type_ok)


@dataclass(frozen=True)
class GateModel:
    """Logistic model: p(answerable) = sigmoid(bias + sum(w * (x - mean) / scale)); answer when p >= threshold."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    note: str = ""

    def probability(self, s: Signals) -> float:
        z = self.bias + sum(w * (x - m) / sc for w, x, m, sc in
                            zip(self.weights, s.vector(), self.mean, self.scale, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def answerable(self, s: Signals) -> bool:
        return self.probability(s) >= self.threshold

    def to_json(self) -> dict[str, Any]:
        return {"features": list(FEATURES), **asdict(self)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> GateModel:
        if list(raw.get("features", [])) != list(FEATURES):
            raise ValueError(f"gate.json: features {raw.get('features')} != {list(FEATURES)}")
        return cls(tuple(raw["weights"]), float(raw["bias"]), tuple(raw["mean"]), tuple(raw["scale"]),
                   float(raw["threshold"]), str(raw.get("note", "")))


@lru_cache(maxsize=4)
def load_gate(path: str = str(GATE_FILE)) -> GateModel:
    return GateModel.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
