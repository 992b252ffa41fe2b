"""Extractive answers that answer: corpus sentences chosen by the kind of question, each cited [n].

- a list question quotes the items of the list under the matching heading (read in the document
  around the retrieved chunk, since a list often runs past a chunk's end);
- a definition question prefers a sentence that defines the term (« X est… », « on appelle X… »);
- a comparison quotes one passage for each compared term;
- a figure, date or name question takes the neighbouring sentence when that is where the figure is;
- a sentence whose subject is a pronoun or that opens with a connector comes with the one before it;
- near-duplicates (the same fact in two documents) are quoted once; headings are never glued to text.

The answer only uses corpus text; each quote is followed by the number of the passage it comes from.
Scoring of sentences is the caller's (a model); everything here is pure and tested without one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from assistant.answer import DATE, FIGURE, Answer, Citation, content_terms, plain, refusal, snippet_of
from assistant.answer import lexical_overlap as _overlap
from assistant.citations import has_instruction
from assistant.question import Question, read_question
from index.store import ScoredChunk
from ingest.models import fold
from ingest.structure import Unit, leans_on_previous, parse

MAX_HITS = 6
# A sentence that defines the term (« X est… », « X : … ») over one that only names it; dense scores of the
# candidates differ by a few hundredths, so this decides between sentences that fit about as well.
DEFINES_BONUS = 0.08
MAX_ITEMS = 8
ITEM_CHARS = 260
_FOOTNOTE = re.compile(r"(?<=\S)\[\d{1,3}\]|\s\[\d{1,3}\](?=[\s.,;:]|$)")
_NAME = re.compile(r"\b[A-ZÉÈ][a-zéèêëïîôûç]+(?:[- ][A-ZÉÈ][a-zéèêëïîôûç]+)+|\b[A-Z]{2,}\b|"
                   r"\b(?:M\.|Mme|Dr|Pr)\s+[A-ZÉ]")
_DEFINING_AFTER = r"\s*(?:\([^)]{0,80}\)\s*)?(?:,[^,]{0,60},\s*)?" \
                  r"(?:(?:est|sont|designe|designent|se definit|se definissent|" \
                  r"consiste|consistent|correspond|correspondent|renvoie|renvoient|signifie|recouvre|regroupe|" \
                  r"reunit|rassemble|vise|visent|peut etre (?:compris|vu|defini|decrit)e?s?|se comprend|" \
                  r"ce sont|c'est|permet|permettent)\b|:|—|–| - |, c'est)"
_DEFINING_BEFORE = r"(?:on appelle|on parle d[e']|appelee?s?|dite?s?|qualifiee?s?|designe|definit|entend par|" \
                   r"notion d[e']|concept d[e']|principe d[e']|definition d[e'u]?)\s*(?:l[ea']\s*|les\s+|une?\s+)?"


@dataclass(frozen=True)
class Sentence:
    """A statement of a retrieved passage, with where it stands in its document."""

    hit_rank: int
    text: str
    start: int  # offsets in the document
    end: int
    context: str = ""  # the heading it stands under
    index: int = -1  # position in its window's units (-1: no window)


@dataclass
class Passage:
    """A retrieved chunk read inside its document: the units of the window around it."""

    rank: int
    hit: ScoredChunk
    units: list[Unit]


Windows = Callable[[ScoredChunk], tuple[int, str]]
Scorer = Callable[[str, list[Sentence]], list[float]]


def read_passages(hits: Sequence[ScoredChunk], windows: Windows | None = None) -> list[Passage]:
    passages = []
    for rank, hit in enumerate(hits[:MAX_HITS]):
        offset, text = windows(hit) if windows is not None else (hit.start, "")
        if not text or offset > hit.start or offset + len(text) < hit.end:
            offset, text = hit.start, hit.text
        passages.append(Passage(rank, hit, parse(_FOOTNOTE.sub(lambda m: " " * len(m.group()), text), offset)))
    return passages


def original_words(text: str, folded_term: str) -> str:
    """The words of `text` that fold to `folded_term` (accents and case as the user typed them)."""
    folded = fold(text).replace("’", "'")
    at = folded.find(folded_term)
    if at >= 0 and len(folded) == len(text):
        return text[at:at + len(folded_term)]
    return folded_term


_BYLINE = re.compile(r"\b(?:publié le|mis à jour le|temps de lecture|lire aussi|à lire aussi|partager sur|"
                     r"crédit photo|©)", re.IGNORECASE)


def _quotable(unit: Unit, title: str) -> bool:
    text = unit.text
    if unit.kind == "heading" or len(text) < 25 or len(text) > 700 or _BYLINE.search(text):
        return False
    if has_instruction(text):  # a document's words to an assistant are not an answer to anybody
        return False
    if title and len(title) > 20 and text.startswith(title) and len(text) > len(title) + 5:
        return False  # a title line glued to the text under it (PDF first page)
    if text == title and not text.endswith((".", "!", "?", "…")):
        return False
    if re.search(r"\d", text) and len(text.split()) >= 3:
        return True  # a key figure (« 312 tonnes de denrées redistribuées »), often without a full stop on web pages
    ended = text.endswith((".", "!", "?", "…", "»", ")", '"', ":"))
    return not (len(text) < 80 and unit.kind == "sentence" and not ended)  # a label or a title


def candidate_sentences(passages: Sequence[Passage]) -> list[Sentence]:
    """The quotable statements inside each retrieved chunk (its window only gives context)."""
    sentences = []
    for passage in passages:
        hit = passage.hit
        title = " ".join(str(hit.metadata.get("title") or "").split())
        for i, unit in enumerate(passage.units):
            inside = unit.start >= hit.start - 2 and unit.end <= hit.end + 2
            if inside and _quotable(unit, title):
                sentences.append(Sentence(passage.rank, unit.text, unit.start, unit.end, unit.heading, i))
    return sentences


def window_sentences(read: Question, passages: Sequence[Passage], taken: Sequence[Sentence], top: int = 3,
                     limit: int = 8) -> list[Sentence]:
    """Sentences around the best chunks, outside them, that share most of the question's words (and, for
    a figure, date or name question, hold one): web pages state the answer a few paragraphs away from the
    sentence that repeats the question. At most `limit`, so scoring them stays cheap."""
    need = _needs(read)
    seen = {(passages[s.hit_rank].hit.doc_id, s.start) for s in taken}
    scored: list[tuple[float, Sentence]] = []
    for passage in passages[:top]:
        hit = passage.hit
        title = " ".join(str(hit.metadata.get("title") or "").split())
        for i, unit in enumerate(passage.units):
            key = (hit.doc_id, unit.start)
            if key in seen or not _quotable(unit, title):
                continue
            seen.add(key)
            words = _overlap(read.text, f"{unit.heading} {unit.text}")
            if need is not None and need.search(unit.text):
                words += 0.2
            if words >= 0.25:
                scored.append((words - 0.02 * passage.rank,
                               Sentence(passage.rank, unit.text, unit.start, unit.end, unit.heading, i)))
    scored.sort(key=lambda p: -p[0])
    return [sentence for _, sentence in scored[:limit]]


def _figures(text: str) -> set[str]:
    return set(re.findall(r"\d+(?:[ ,.]\d+)*", text))


def similar(a: str, b: str) -> bool:
    """The same statement twice: mostly the same words, or the same figures in much the same words."""
    ta, tb = content_terms(a), content_terms(b)
    if not (ta and tb):
        return False
    overlap = len(ta & tb) / len(ta | tb)
    fa = {f for f in _figures(a) if not re.fullmatch(r"(19|20)\d\d", f)}
    fb = {f for f in _figures(b) if not re.fullmatch(r"(19|20)\d\d", f)}
    return overlap > 0.6 or (bool(fa & fb) and overlap > 0.3)


def select_sentences(sentences: Sequence[Sentence], scores: Sequence[float], *, max_sentences: int = 3,
                     margin: float = 0.04, max_chars: int = 700) -> list[Sentence]:
    """The best sentence, then up to max_sentences-1 near-best ones that add something new."""
    ranked = sorted(zip(scores, range(len(sentences)), strict=True), key=lambda p: -p[0])
    chosen: list[Sentence] = []
    if not ranked:
        return chosen
    best = ranked[0][0]
    total = 0
    for score, i in ranked:
        sentence = sentences[i]
        if score < best - margin or len(chosen) >= max_sentences:
            break
        if any(similar(sentence.text, c.text) for c in chosen) or total + len(sentence.text) > max_chars:
            continue
        chosen.append(sentence)
        total += len(sentence.text)
    return chosen


# --- quotes: a run of units of one passage, cited with that passage's number -------------------------

@dataclass
class Quote:
    rank: int
    units: list[Unit]
    label: str = ""  # a framing label (« Écosystème territorial : »), for comparisons
    as_list: bool = False  # items rendered one per line
    own_line: bool = False  # one line per quote (the sides of a comparison)

    @property
    def start(self) -> int:
        return min(u.start for u in self.units)

    @property
    def end(self) -> int:
        return max(u.end for u in self.units)


def _clip(text: str, limit: int = ITEM_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    stop = max(cut.rfind(". "), cut.rfind("; "))
    return (cut[:stop + 1] if stop > 80 else cut.rsplit(" ", 1)[0] + " …").strip()


def _render(quotes: Sequence[Quote], numbers: Mapping[int, int]) -> str:
    parts: list[str] = []
    for quote in quotes:
        n = numbers[quote.rank]
        if quote.as_list:
            lead = [u.text for u in quote.units if u.kind != "item"]
            items = [u for u in quote.units if u.kind == "item"]
            head = " ".join(lead)
            lines = [f"{quote.label}{head}".strip()] if head or quote.label else []
            lines += [f"- {_clip(u.text)} [{n}]" for u in items]
            parts.append("\n".join(lines))
        else:
            text = " ".join(u.text for u in quote.units)
            parts.append(f"{quote.label}{text} [{n}]")
    joiner = "\n" if any(q.as_list or q.label or q.own_line for q in quotes) else " "
    return joiner.join(parts)


def cite(quotes: Sequence[Quote], passages: Sequence[Passage]) -> Answer:
    """Number the passages in order of use and render the quotes, each followed by its [n]."""
    numbers: dict[int, int] = {}
    spans: dict[int, tuple[int, int]] = {}
    for quote in quotes:
        numbers.setdefault(quote.rank, len(numbers) + 1)
        lo, hi = spans.get(quote.rank, (quote.start, quote.end))
        spans[quote.rank] = (min(lo, quote.start), max(hi, quote.end))
    by_rank = {p.rank: p for p in passages}
    citations = [Citation(n=n, chunk=by_rank[rank].hit, snippet=snippet_of(by_rank[rank].hit),
                          start=spans[rank][0], end=spans[rank][1])
                 for rank, n in sorted(numbers.items(), key=lambda p: p[1])]
    return Answer(answer=_render(quotes, numbers), citations=citations, grounded=True)


def _with_previous(passage: Passage, index: int, taken: set[tuple[int, int]]) -> list[Unit]:
    """A unit, preceded by the sentence before it when it leans on it (« Il… », « Ainsi… »)."""
    unit = passage.units[index]
    if unit.kind == "sentence" and leans_on_previous(unit.text) and index > 0:
        before = passage.units[index - 1]
        if before.kind == "sentence" and before.block == unit.block and (passage.rank, index - 1) not in taken:
            taken.add((passage.rank, index - 1))
            return [before, unit]
    return [unit]


def _needs(question: Question) -> re.Pattern[str] | None:
    return {"figure": FIGURE, "date": DATE, "name": _NAME}.get(question.kind)


def _neighbour_with(passage: Passage, index: int, pattern: re.Pattern[str]) -> int | None:
    """The sentence after (or else before) `index` in the same paragraph that has what the question asks."""
    unit = passage.units[index]
    for j in (index + 1, index - 1):
        if 0 <= j < len(passage.units):
            other = passage.units[j]
            if other.kind != "heading" and other.block == unit.block and pattern.search(other.text):
                return j
    return None


def _generic(question: Question, passages: Sequence[Passage], sentences: list[Sentence], scores: list[float],
             max_sentences: int) -> list[Quote]:
    # a figure, date or name may sit in a sentence that repeats fewer of the question's words: look wider
    margin = 0.07 if question.kind in ("figure", "date", "name") else 0.04
    chosen = select_sentences(sentences, scores, max_sentences=max_sentences, margin=margin)
    taken = {(s.hit_rank, s.index) for s in chosen}
    quotes: list[Quote] = []
    need = _needs(question)
    for position, sentence in enumerate(chosen):
        passage = passages[sentence.hit_rank]
        if sentence.index < 0:
            unit = Unit("sentence", sentence.text, sentence.start, sentence.end, sentence.context)
            quotes.append(Quote(sentence.hit_rank, [unit]))
            continue
        units = _with_previous(passage, sentence.index, taken)
        if need is not None and position == 0 and not need.search(sentence.text):
            j = _neighbour_with(passage, sentence.index, need)
            if j is not None and (passage.rank, j) not in taken:
                taken.add((passage.rank, j))
                extra = passage.units[j]
                units = units + [extra] if j > sentence.index else [extra] + units
        quotes.append(Quote(sentence.hit_rank, units))
        if units[-1].text.endswith(":"):  # « … se heurte à plusieurs difficultés : » is read with its list
            items = _list_after(passage, passage.units.index(units[-1]))
            if items:
                quotes[-1] = Quote(sentence.hit_rank, units + items, as_list=True)
                break
    return quotes


def _list_after(passage: Passage, index: int) -> list[Unit]:
    items = []
    for unit in passage.units[index + 1:]:
        if unit.kind != "item" or len(items) >= MAX_ITEMS:
            break
        items.append(unit)
    return items


# --- lists ---------------------------------------------------------------------------------------------

@dataclass
class _Group:
    rank: int
    lead: list[Unit]  # the heading and the sentence that introduces the list
    items: list[Unit]


def list_groups(passage: Passage) -> list[_Group]:
    """Lists of a passage's window: runs of items, or runs of sibling headings (« 1. Diagnostic »…)."""
    groups: list[_Group] = []
    units = passage.units
    i = 0
    while i < len(units):
        unit = units[i]
        if unit.kind == "item":
            j = i
            while j < len(units) and units[j].kind == "item" and units[j].list_id == unit.list_id:
                j += 1
            items = [u for u in units[i:j] if u.level == unit.level]
            lead = _lead(units, i)
            if len(items) >= 2:
                groups.append(_Group(passage.rank, lead, items))
            i = j
            continue
        if unit.kind == "heading" and unit.level >= 2:  # not the document's title and its chapters
            items = _sub_headings(units, i)
            if len(items) >= 2:
                groups.append(_Group(passage.rank, [unit], items))
        i += 1
    return groups


def _lead(units: Sequence[Unit], i: int) -> list[Unit]:
    """What introduces the list starting at units[i]: up to two sentences of the paragraph just before."""
    lead: list[Unit] = []
    for j in (i - 1, i - 2):
        if j < 0 or units[j].kind != "sentence" or units[j].heading != units[i].heading:
            break
        if lead and units[j].block != lead[0].block:
            break
        lead.insert(0, units[j])
    return lead


def _sub_headings(units: Sequence[Unit], i: int) -> list[Unit]:
    """The headings one level under units[i], each read with the first statement under it, as items."""
    parent = units[i]
    below = [k for k in range(i + 1, len(units)) if units[k].kind == "heading"]
    level = next((units[k].level for k in below if units[k].level > parent.level), None)
    if level is None:
        return []
    items = []
    for k in below:
        if units[k].level < level or units[k].level <= parent.level:
            break
        if units[k].level == level:
            body = next((u for u in units[k + 1:k + 3] if u.kind != "heading"), None)
            text = units[k].text + (f" : {body.text}" if body is not None else "")
            items.append(Unit("item", text, units[k].start, (body or units[k]).end, parent.text))
    return items


# What a list question asks for, and the words a text may use for the same thing.
_LIST_SYNONYMS = [
    {"piege", "ecueil", "risque", "vigilan", "difficu", "obstacl", "frein", "limite", "danger"},
    {"etape", "phase", "temps", "jalon", "methode", "demarch"},
    {"levier", "outil", "atout", "instrum"},
    {"critere", "conditi", "exigenc", "eligib", "regle"},
    {"recomma", "conseil", "proposi", "orienta", "piste", "prescri"},
    {"membre", "partena", "acteur", "particip", "signata"},
    {"objecti", "but", "finalit", "ambitio", "enjeu"},
    {"effet", "impact", "resulta", "benefic", "apport"},
]


def _asks_for(noun: str, text: str) -> bool:
    """Does the text name what the list question asks for (« pièges » ~ « écueils »)?"""
    folded = fold(text)
    stems = {noun[:5]} | next((group for group in _LIST_SYNONYMS if any(noun.startswith(g) for g in group)), set())
    return any(stem[:5] in folded for stem in stems)


def _list_quote(question: Question, passages: Sequence[Passage], overlap: Callable[[str, str], float],
                score_sentences: Scorer | None = None, best_score: float | None = None,
                avoid: str = "") -> Quote | None:
    """The list that answers a list question: the lists of the windows are judged by what introduces
    them (the sentence before, or the heading above), read by the model like any sentence, plus whether
    they name what the question asks for (« pièges » ~ « écueils ») and have the count it says."""
    said = fold(avoid)
    groups = [g for p in passages for g in list_groups(p)
              if not (said and fold(g.items[0].text)[:60] in said)]  # not the list the previous answer gave
    if question.count and not any(len(g.items) == question.count for g in groups):
        inline = _inline_list(question, passages, overlap)  # « Trois leviers : A, B, C » says the count
        if inline is not None:
            return inline
    if not groups:
        return _inline_list(question, passages, overlap)
    leads = []
    for g in groups:
        text = " ".join(u.text for u in g.lead) or g.items[0].heading or g.items[0].text
        leads.append(Sentence(g.rank, f"{g.items[0].heading} : {text}" if g.items[0].heading else text, 0, 0))
    model = score_sentences(question.text, leads) if score_sentences is not None else [0.0] * len(groups)
    best: tuple[float, _Group] | None = None
    # named by the sentence that introduces the list, else by the heading above it
    own = [bool(question.terms) and bool(g.lead) and _asks_for(question.terms[0], " ".join(u.text for u in g.lead
                                                                                          if u.kind != "heading"))
           for g in groups]
    names = own if any(own) else [bool(question.terms) and _asks_for(question.terms[0], lead.text) for lead in leads]
    for group, lead, value, named in zip(groups, leads, model, names, strict=True):
        if any(names) and not named:
            continue  # lists introduced by what the question asks for (« écueils » for « pièges ») come first
        words = overlap(question.text, lead.text)
        counted = bool(question.count) and len(group.items) == question.count
        near = best_score is not None and score_sentences is not None
        close = near and value >= best_score - 0.06  # type: ignore[operator]
        named_close = named and (not near or value >= best_score - 0.15)  # type: ignore[operator]
        if not (close or (counted and words >= 0.2) or words >= 0.34 or named_close):
            continue
        fit = value + 0.3 * words + (0.08 if named else 0.0) - 0.02 * group.rank
        fit += 0.1 if counted else (-0.05 if question.count else 0.0)
        if best is None or fit > best[0]:
            best = (fit, group)
    if best is None:
        return _inline_list(question, passages, overlap)
    group = best[1]
    lead = [u for u in group.lead if u.kind == "sentence"]
    return Quote(group.rank, lead + group.items[:MAX_ITEMS], as_list=True)


_ENUMERATION = re.compile(r":\s*[^:]+(?:,[^,]+){1,}(?:,| et | ou )[^,]+")


def _inline_list(question: Question, passages: Sequence[Passage],
                 overlap: Callable[[str, str], float]) -> Quote | None:
    """A list written in one line (« Trois leviers : richesses humaines, ressources financières, alliances »)."""
    best: tuple[float, int, int] | None = None
    for passage in passages:
        for i, unit in enumerate(passage.units):
            if not _ENUMERATION.search(unit.text) or len(unit.text) > 400:
                continue
            label = unit.text.split(":", 1)[0]
            if question.terms and not _asks_for(question.terms[0], label):
                continue  # the words before the colon say what is listed (« Trois leviers : … »)
            fit = overlap(question.text, unit.text) - 0.04 * passage.rank
            if question.count:
                pieces = re.split(r",| et | ou ", unit.text.split(":", 1)[1])
                fit += 0.3 if len([p for p in pieces if p.strip()]) == question.count else 0.0
            if fit >= 0.5 and (best is None or fit > best[0]):
                best = (fit, passage.rank, i)
    if best is None:
        return None
    _, rank, i = best
    return Quote(rank, [passages[rank].units[i]])


# --- definitions and comparisons ------------------------------------------------------------------------

def defines(term: str, text: str) -> bool:
    """Does the sentence define the term (« L'ODD 17 est… », « on appelle écosystème territorial… »)?"""
    folded, t = fold(text), re.escape(fold(term))
    t = t.replace(r"\ ", r"[\s-]+")
    return bool(re.search(rf"\b{t}s?\b{_DEFINING_AFTER}", folded) or re.search(rf"{_DEFINING_BEFORE}\W*{t}", folded))


def mentions(term: str, text: str) -> float:
    """How much of the term's words the text holds (0..1)."""
    wanted = content_terms(term)
    return len(wanted & content_terms(text)) / len(wanted) if wanted else 0.0


def _definition_quote(term: str, passages: Sequence[Passage], score_sentences: Scorer, question: str,
                      exclude: set[tuple[int, int]] | None = None) -> Quote | None:
    """The sentence that best defines the term, among all the sentences of the windows that name it
    (scored alike, so a definition just after the retrieved chunk competes on equal terms)."""
    exclude = exclude or set()
    candidates: list[Sentence] = []
    for passage in passages:
        title = str(passage.hit.metadata.get("title") or "")
        for i, unit in enumerate(passage.units):
            if (passage.rank, i) in exclude or not _quotable(unit, title) or mentions(term, unit.text) < 0.99:
                continue
            candidates.append(Sentence(passage.rank, unit.text, unit.start, unit.end, unit.heading, i))
    if not candidates:
        return None
    scores = score_sentences(question, candidates)
    best: tuple[float, Sentence] | None = None
    for sentence, score in zip(candidates, scores, strict=True):
        value = score + (DEFINES_BONUS if defines(term, sentence.text) else 0.0)
        value += 0.02 if mentions(term, sentence.context) >= 0.99 or "définition" in sentence.context.lower() else 0.0
        if best is None or value > best[0]:
            best = (value, sentence)
    assert best is not None
    chosen = best[1]
    return Quote(chosen.hit_rank, _with_previous(passages[chosen.hit_rank], chosen.index, set()))


# --- the composer ---------------------------------------------------------------------------------------

def compose_extractive(question: str | Question, hits: Sequence[ScoredChunk], score_sentences: Scorer, *,
                       lang: str = "fr", max_sentences: int = 3, windows: Windows | None = None,
                       overlap: Callable[[str, str], float] | None = None,
                       extra_hits: Callable[[str], Sequence[ScoredChunk]] | None = None,
                       avoid: str = "") -> Answer:
    """Cited corpus text that answers the question, from hits the caller already judged relevant."""
    read = question if isinstance(question, Question) else read_question(question)
    passages = read_passages(hits, windows)
    sentences = candidate_sentences(passages)
    sentences += window_sentences(read, passages, sentences)
    if not sentences:
        found = _list_quote(read, passages, overlap or _overlap, score_sentences) if read.kind == "list" else None
        return cite([found], passages) if found is not None else refusal(read.text, hits, lang)
    scores = score_sentences(read.text, sentences)
    if avoid:
        said = fold(avoid)
        scores = [s - 0.15 if fold(x.text) in said else s for s, x in zip(scores, sentences, strict=True)]
    overlap = overlap or _overlap
    quotes: list[Quote] = []
    if read.kind == "list":
        found = _list_quote(read, passages, overlap, score_sentences, max(scores), avoid)
        quotes = [found] if found else []
    elif read.kind == "definition" and read.terms:
        found = _definition_quote(read.terms[0], passages, score_sentences, read.text)
        if found is not None:
            quotes = [found]
            rest = _generic(read, passages, sentences, scores, 2)
            new = [q for q in rest if not any(similar(_text(q), _text(f)) or q.start == f.start for f in quotes)]
            quotes += new[:1]
    elif read.kind == "comparison":
        quotes, passages = _comparison(read, passages, sentences, scores, score_sentences, windows, extra_hits)
    if not quotes:
        quotes = _generic(read, passages, sentences, scores, max_sentences)
    return cite(quotes, passages)



def _text(quote: Quote) -> str:
    return " ".join(u.text for u in quote.units)


def _comparison(read: Question, passages: list[Passage], sentences: list[Sentence], scores: list[float],
                score_sentences: Scorer, windows: Windows | None,
                extra_hits: Callable[[str], Sequence[ScoredChunk]] | None) -> tuple[list[Quote], list[Passage]]:
    quotes: list[Quote] = []
    taken: set[tuple[int, int]] = set()
    for term in read.terms:
        found = _definition_quote(term, passages, score_sentences, term, taken)
        if found is None and extra_hits is not None:
            more = [h for h in extra_hits(term) if h.chunk_id not in {p.hit.chunk_id for p in passages}][:2]
            if more:
                added = read_passages(more, windows)
                for offset, passage in enumerate(added):
                    passage.rank = len(passages) + offset
                passages = passages + added
                found = _definition_quote(term, passages, score_sentences, term, taken)
        if found is None:
            return [], passages
        found.own_line = True
        shown = original_words(read.text, term)
        if fold(shown) not in fold(_text(found))[:len(shown) + 12]:
            found.label = f"{shown[:1].upper()}{shown[1:]} : "
        taken.update((found.rank, i) for i, u in enumerate(passages[found.rank].units) if u in found.units)
        quotes.append(found)
    return quotes, passages


__all__ = ["Sentence", "Passage", "Quote", "candidate_sentences", "compose_extractive", "defines", "list_groups",
           "plain", "read_passages", "select_sentences", "similar"]
