"""Answer composition: the best supporting sentences of the retrieved chunks, each cited [n].

Pure functions over retrieved chunks and sentence scores: numbering, citation building and refusal
decisions do not touch a model, so they are tested without one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from assistant.i18n import t
from assistant.models import Answer, Citation
from assistant.question import Question, read_question
from index.store import ScoredChunk
from ingest.models import fold
from ingest.structure import strip_inline_markup

_STOP = set(
    "le la les un une des de du d l et en à au aux pour par sur dans avec est sont qui que quoi quel quelle "
    "quels quelles comment pourquoi combien ce cette ces il elle ils elles on nous vous je tu se sa son ses leur "
    "leurs y a ont été être fait faire plus moins pas ne ou où mais donc car the of and to in is what how "
    "dont quand entre vers chez ainsi aussi tout tous toute toutes lors".split()
)
SNIPPET_CHARS = 320
_FOOTNOTE = re.compile(r"(?<=\S)\[\d{1,3}\]|\s\[\d{1,3}\](?=[\s.,;:]|$)")


def content_terms(text: str) -> set[str]:
    return {w[:6] for w in re.findall(r"\w+", fold(text)) if len(w) > 2 and w not in _STOP}


_MARKUP_LINE = re.compile(r"(?m)^[ \t]{0,3}(?:#{1,6}[ \t]+|[-*+•][ \t]+|>[ \t]?)")


def plain(text: str) -> str:
    """Text without Markdown markup (headings, list markers, bold), on one line: what a reader sees."""
    return " ".join(strip_inline_markup(_MARKUP_LINE.sub("", text)).split())


def snippet_of(chunk: ScoredChunk, limit: int = SNIPPET_CHARS) -> str:
    text = plain(chunk.text)
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


_FACT_LINE = re.compile(r"^(Partenaires|Acteurs|Territoire|Région|Domaine|Année) : ")
FIGURE = re.compile(r"\d|\b(deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|treize|quinze|vingt|"
                    r"trente|quarante|cinquante|soixante|cent|cents|mille|million|millions|milliards?|"
                    r"moitié|tiers|quart|dizaine|vingtaine|trentaine|centaine|cinquantaine)\b", re.IGNORECASE)
_YEARS_ONLY = re.compile(r"\b(?:19|20)\d\d(?:-(?:19|20)?\d\d)?\b|\b\d{1,2}(?:er)? (?:janvier|février|mars|avril|mai|"
                         r"juin|juillet|août|septembre|octobre|novembre|décembre)\b", re.IGNORECASE)
DATE = re.compile(r"\b(19|20)\d\d\b|\b\d{1,2}(er)? (janvier|février|mars|avril|mai|juin|juillet|août|"
                   r"septembre|octobre|novembre|décembre)\b", re.IGNORECASE)
_DEFINES = re.compile(r"\b(est|sont|désigne|désignent|signifie|consiste|permet|c'est-à-dire|pour)\b|[:(]")
_PROPER = re.compile(r"\b[A-ZÉ][a-zé]+ [A-ZÉ]|\b[A-Z]{2,}\b")
_LABELS = re.compile(r"\b(partenaires?|acteurs?|territoire|r[ée]gion|domaine)\b", re.IGNORECASE)


def answer_type_bonus(question: str | Question, sentence: str) -> float:
    """Prefer sentences of the kind the question asks for (assistant.question, French or English): a
    figure, a date, a definition, a name.

    The weights are set by hand and kept small next to the dense score (cosines of 0.8-0.9); their effect
    is measured by `seve eval` (support and citation precision), not assumed.
    """
    read = question if isinstance(question, Question) else read_question(question)
    question = read.text
    bonus = 0.0
    if read.kind == "figure":
        # a year (« depuis 2023 ») is not the figure a « combien » asks for
        bonus += 0.05 if FIGURE.search(_YEARS_ONLY.sub(" ", sentence)) else -0.04
    elif read.kind == "date":
        bonus += 0.04 if DATE.search(sentence) else -0.03
    if read.kind == "definition" and _DEFINES.search(sentence):
        bonus += 0.02
    if read.kind == "name" and _PROPER.search(sentence):
        bonus += 0.02
    for acronym in re.findall(r"\b[A-Z]{2,}\b", question):
        if re.search(rf"\b{acronym}\b", sentence):
            bonus += 0.03
    if _FACT_LINE.search(sentence) and not _LABELS.search(question):
        bonus -= 0.2
    return bonus


def lexical_overlap(question: str, text: str) -> float:
    q = content_terms(question)
    return len(q & content_terms(text)) / len(q) if q else 0.0


def _number(hits: Sequence[ScoredChunk], used_ranks: Sequence[int]) -> dict[int, int]:
    numbers: dict[int, int] = {}
    for rank in used_ranks:
        numbers.setdefault(rank, len(numbers) + 1)
    return numbers


def _citations(hits: Sequence[ScoredChunk], numbers: dict[int, int],
               spans: dict[int, tuple[int, int]]) -> list[Citation]:
    citations = []
    for rank, n in sorted(numbers.items(), key=lambda p: p[1]):
        hit = hits[rank]
        start, end = spans.get(rank, (hit.start, hit.end))
        citations.append(Citation(n=n, chunk=hit, snippet=snippet_of(hit), start=start, end=end))
    return citations


def compose_examples(hits: Sequence[ScoredChunk], *, lang: str = "fr", max_examples: int = 4) -> Answer | None:
    """A list of case examples when the question asks for examples and the hits contain some."""
    ranks: list[int] = []
    seen_docs: set[str] = set()
    for rank, hit in enumerate(hits):
        if hit.metadata.get("doc_type") == "exemple" and hit.doc_id not in seen_docs:
            seen_docs.add(hit.doc_id)
            ranks.append(rank)
        if len(ranks) >= max_examples:
            break
    if not ranks:
        return None
    numbers = _number(hits, ranks)
    lines = [t("examples_intro", lang)]
    for rank in ranks:
        meta = hits[rank].metadata
        where = ", ".join(str(meta[k]) for k in ("territoire", "region") if meta.get(k))
        year = f", {meta['annee']}" if meta.get("annee") else ""
        summary = plain(str(meta.get("resume") or "")) or _record_summary(hits[rank])
        lines.append(f"- « {meta.get('title', '')} » ({where}{year}) : {summary} [{numbers[rank]}]")
    return Answer(answer="\n".join(lines), citations=_citations(hits, numbers, {}), grounded=True)


def _record_summary(hit: ScoredChunk) -> str:
    """The first sentence of a record's text that is not its title nor a line of facts."""
    title = str(hit.metadata.get("title") or "").strip()
    for block in hit.text.split("\n\n")[1:]:  # a record's text opens with its title
        text = plain(_FOOTNOTE.sub("", block))
        if text and text != title and not _FACT_LINE.search(text):
            return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    return snippet_of(hit)


def refusal(question: str, closest: Sequence[ScoredChunk], lang: str = "fr", suggest: int = 3) -> Answer:
    """Says the corpus does not support an answer; names the closest documents, asserts nothing."""
    titles: list[str] = []
    kept: list[ScoredChunk] = []
    for hit in closest:
        title = str(hit.metadata.get("title") or "")
        if title and title not in titles:
            titles.append(title)
            kept.append(hit)
        if len(titles) >= suggest:
            break
    text = t("refusal", lang)
    if titles:
        text += " " + t("closest", lang, titles=", ".join(f"« {x} »" for x in titles))
    citations = [Citation(n=i + 1, chunk=h, snippet=snippet_of(h), start=h.start, end=h.end)
                 for i, h in enumerate(kept)]
    return Answer(answer=text, citations=citations, grounded=False)


FILTER_LABELS = {
    "fr": {"region": "région", "domaine": "domaine", "acteurs": "acteurs", "type": "type",
           "doc_type": "type de document", "annee": "année", "acteurs_tous": "acteurs", "annee_min": "depuis",
           "annee_max": "jusqu'à"},
    "en": {"region": "region", "domaine": "domain", "acteurs": "actors", "type": "type",
           "doc_type": "document type", "annee": "year", "acteurs_tous": "actors", "annee_min": "since",
           "annee_max": "until"},
}


def describe_filters(filters: Mapping[str, list[Any]], lang: str = "fr") -> str:
    labels = FILTER_LABELS.get(lang, FILTER_LABELS["fr"])
    joiners = {"fr": (" ou ", " et "), "en": (" or ", " and ")}.get(lang, (" ou ", " et "))
    return ", ".join(f"{labels.get(k, k)} : {joiners[k == 'acteurs_tous'].join(str(v) for v in values)}"
                     for k, values in filters.items())


def no_match(filters: Mapping[str, list[Any]], closest: Sequence[ScoredChunk], lang: str = "fr") -> Answer:
    """Nothing matches the filters read in the question: say so, then show the closest without them."""
    head = t("no_match", lang, criteria=describe_filters(filters, lang))
    nearby = compose_examples(closest, lang=lang) if closest else None
    if nearby is None:
        return Answer(answer=head, citations=[], grounded=False)
    body = nearby.answer.split("\n", 1)[1] if "\n" in nearby.answer else ""
    return Answer(answer=f"{head}\n{body}".rstrip(), citations=nearby.citations, grounded=False)


def presentation(kind: str, lang: str = "fr", documents: int = 0) -> Answer:
    """Small talk (« Bonjour », « qui es-tu ? », « merci ») gets a short word about Sève, no retrieval."""
    key = {"thanks": "smalltalk_thanks", "bye": "smalltalk_bye"}.get(kind, "smalltalk_intro")
    return Answer(answer=t(key, lang, documents=documents), citations=[], grounded=False, kind="smalltalk")
