"""The answer as a stream of events (assistant.models.Event): `citations`, `token`…, maybe `replace`, `done`.

`whole` streams an answer that is already composed (extractive, refusal, small talk) piece by piece as it
stands; `Writer` streams a generated one: the passages first, the model's text as it comes, then the
verified text (a `replace` when verification changed it), or the extractive answer when generation fails
or too little of it is supported. `collect` turns any stream back into the finished Answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence

from assistant import citations as cite
from assistant.errors import GenerationError, SeveError
from assistant.generate import Generator
from assistant.models import Answer, Event

log = logging.getLogger("seve.engine")

_PIECE = re.compile(r".*?(?:\[\d+\]\s*|\n|$)", re.DOTALL)


def whole(answer: Answer) -> Iterator[Event]:
    """An answer that exists already: its citations, its text one quoted sentence at a time, then done."""
    yield Event("citations", list(answer.citations))
    for piece in _PIECE.findall(answer.answer):
        if piece:
            yield Event("token", piece)
    yield Event("done", answer)


def collect(events: Iterable[Event]) -> Answer:
    """The finished answer of a stream; an `error` event is raised."""
    for event in events:
        if event.kind == "error":
            raise event.data
        if event.kind == "done":
            return event.data
    raise SeveError("stream ended without an answer", code="internal")


def quotes_of(text: str) -> list[str]:
    """The quotes of an extractive answer (each up to its « [n] »), without frame lines (« D'après… : »)."""
    quotes = [q.strip() for q in re.split(r"\[\d+\]", text)[:-1]]
    if quotes:
        quotes[0] = quotes[0].rsplit("\n", 1)[-1] if quotes[0].count("\n") == 1 else quotes[0]
    return [q for q in quotes if q]


class Writer:
    """Writes a generated answer over the best passages, verifies it, and falls back to the extractive one.

    `similarity(sentence, passage)` is the embedding similarity used by verification (None: words only).
    """

    def __init__(self, generator: Generator, max_tokens: int = 400,
                 similarity: cite.Similarity | None = None) -> None:
        self.generator = generator
        self.max_tokens = max_tokens
        self.similarity = similarity
        self.calls = 0  # how many times the backend was asked (the gate must keep this at 0 for refusals)

    def events(self, question: str, passages: Sequence[cite.Passage], extractive: Answer, lang: str = "fr",
               answers_as_well: Callable[[list[str], list[str]], bool] | None = None) -> Iterator[Event]:
        """`passages`: what the model may cite, numbered from 1 (see `Assistant.passages`).
        `answers_as_well(sentences, quotes)`: whether the written sentences answer the question at least as
        well as the extractive quotes, by the measure that chose those quotes."""
        yield Event("citations", [p.citation for p in passages])
        output, shown = "", ""
        self.calls += 1
        try:
            for delta in self.generator.stream(cite.messages(question, passages, lang), cite.schema(len(passages)),
                                               self.max_tokens):
                output += delta
                now = cite.partial_render(output)
                if len(now) > len(shown) and now.startswith(shown):
                    yield Event("token", now[len(shown):])
                    shown = now
            claims = cite.parse_claims(output)
        except GenerationError as exc:
            log.warning("generation failed (%s): %s", exc.reason, exc.message)
            yield from self._fallback(extractive, exc.reason)
            return
        checked = cite.verify(claims, passages, self.similarity, cross_lingual=lang == "en", question=question,
                              originals=[p.citation.chunk.text for p in passages])
        if not checked.claims or 2 * len(checked.claims) < len(claims):
            reason = "empty" if not claims else "unsupported"
            log.info("generated answer replaced (%s): %d of %d sentences supported", reason, len(checked.claims),
                     len(claims))
            yield from self._fallback(extractive, reason)
            return
        text = cite.render(checked.claims)
        evidence = quotes_of(extractive.answer)
        if evidence and not any(cite.covers_evidence(text, q, cross_lingual=lang == "en") for q in evidence) \
                and (answers_as_well is None or "\n- " in extractive.answer  # a quoted list stays a list
                     or not answers_as_well([c.text for c in checked.claims], evidence)):
            log.info("generated answer replaced (incomplete): it leaves out the quoted evidence")
            yield from self._fallback(extractive, "incomplete")
            return
        used = {c.source for c in checked.claims}
        answer = Answer(answer=text, citations=[p.citation for p in passages if p.n in used], grounded=True,
                        standalone_question=extractive.standalone_question, mode="llm",
                        filters=extractive.filters, kind=extractive.kind)
        if text != shown:
            yield Event("replace", text, citations=answer.citations)
        yield Event("done", answer)

    @staticmethod
    def _fallback(extractive: Answer, reason: str) -> Iterator[Event]:
        extractive.mode = "extractive"
        extractive.fallback_reason = reason
        yield Event("replace", extractive.answer, citations=list(extractive.citations))
        yield Event("done", extractive)
