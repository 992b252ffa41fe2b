"""The assistant: history + question -> standalone question -> retrieval -> cited answer or refusal,
produced as a stream of events (assistant.models.Event)."""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from assistant.answer import (
    Answer,
    Citation,
    answer_type_bonus,
    compose_examples,
    describe_filters,
    lexical_overlap,
    no_match,
    presentation,
    refusal,
    snippet_of,
)
from assistant.citations import Passage
from assistant.condense import last_assistant_message
from assistant.engine import Writer, collect, whole
from assistant.errors import NotReady, SeveError, question_error
from assistant.examples import example_card, example_card_from_metadata, facet_counts
from assistant.extractive import Sentence, compose_extractive
from assistant.gate import GateModel, Signals, load_gate, question_terms, signals
from assistant.generate import Generator
from assistant.i18n import t
from assistant.models import Event
from assistant.planner import Catalogue, Planner, QueryPlan
from assistant.question import Question, language, read_question, small_talk
from assistant.settings import Settings
from assistant.sources import SourceView
from index.filters import matches, normalize_filters
from index.lexical import LexicalIndex
from index.live import IndexWatcher
from index.retrieval import Reranker, Retrieval, Retriever
from index.store import ChromaStore, ScoredChunk
from ingest.embedding import Embedder
from ingest.structure import sentence_texts

log = logging.getLogger("seve.assistant")

LEXICAL_WEIGHT = 0.15
# In a follow-up, the words of the new message say what is asked now: they weigh as much again.
FOCUS_WEIGHT = 0.15
# Sentences of the best-ranked passages get a small head start (retrieval already judged them). On the gold
# set: none -> support 0.831, citation precision 0.915; (0.02, 0.01, 0.005) -> 0.838, 0.932; double -> 0.831, 0.915.
RANK_PRIOR: tuple[float, ...] = (0.02, 0.01, 0.005)
# A written answer that leaves out the quoted evidence is kept only if it scores within this of it.
RELEVANCE_MARGIN = 0.02


class SentenceScorer:
    """Scores candidate sentences against a question with the embedding model.

    Sentence vectors come from an LRU cache (shared by all requests, guarded by a lock), then from the
    vectors the ingest stored (`store`, when the index keeps them), and only then from the model;
    everything that belongs to one question lives in the function `for_question` returns, so concurrent
    requests never see each other's question.
    """

    def __init__(self, embedder: Embedder, cache_size: int = 20000, store: Any = None) -> None:
        self.embedder = embedder
        self.store = store
        self.embedded = 0  # sentences this scorer had to embed itself (the rest were cached or stored)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def vectors(self, sentences: list[str]) -> np.ndarray:
        unique = list(dict.fromkeys(sentences))
        with self._lock:
            known = {s: self._cache[s] for s in unique if s in self._cache}
            for s in known:
                self._cache.move_to_end(s)
        missing = [s for s in unique if s not in known]
        if missing and self.store is not None:
            stored = self.store.sentence_vectors(missing)
            known.update(stored)
            missing = [s for s in missing if s not in stored]
        if missing:
            self.embedded += len(missing)
            fresh = dict(zip(missing, self.embedder.embed_passages(missing), strict=True))
            known.update(fresh)
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return np.stack([known[s] for s in sentences])

    def for_question(self, question: str, vector: np.ndarray | None = None,
                     focus: str = "") -> Callable[[str, list[Sentence]], list[float]]:
        """A scoring function for one question. `vector` is its embedding when retrieval already computed
        it; `focus` is a follow-up's own words, which weigh as much again as the condensed question's."""
        focus = focus if focus != question else ""

        read = read_question(focus or question)

        def score(asked: str, sentences: list[Sentence]) -> list[float]:
            q = vector if vector is not None and asked == question else self.embedder.embed_queries([asked])[0]
            dense = self.vectors([s.text for s in sentences]) @ q
            scores = []
            for d, sentence in zip(dense, sentences, strict=True):
                # a list item is read with the heading it stands under (« Les trois leviers » …)
                words = f"{sentence.context} {sentence.text}" if sentence.context else sentence.text
                value = float(d) + LEXICAL_WEIGHT * lexical_overlap(asked, words)
                value += answer_type_bonus(read, sentence.text)
                value += RANK_PRIOR[sentence.hit_rank] if sentence.hit_rank < len(RANK_PRIOR) else 0.0
                if focus:
                    value += FOCUS_WEIGHT * lexical_overlap(focus, words)
                scores.append(value)
            return scores

        return score


# Fewer hits than this under the filters read in a question, and they become a ranking preference. Those
# filters are only read in example-finding questions, where one matching record is already an answer.
SOFT_FILTER_MIN_HITS = 1


class Assistant:
    """The conversation: validation, then planning (assistant.planner), retrieval (index.retrieval), the
    extractive answer and its gate, then — in `llm` mode — the generated answer (assistant.engine).

    `stream()` yields the answer's events as they are produced; `chat()` collects the same events.
    """

    def __init__(self, settings: Settings, embedder: Embedder, store: ChromaStore,
                 lexical: LexicalIndex | None = None, reranker: Reranker | None = None,
                 gate: GateModel | None = None, generator: Generator | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        if lexical is not None:  # dense hits take their texts from the synced local copy
            store.local = lexical
        mode = settings.retrieval_mode if lexical is not None else "dense"
        self.retriever = Retriever(store, embedder, lexical, mode=mode, reranker=reranker)
        self.scorer = SentenceScorer(embedder, store=lexical)
        self.catalogue = Catalogue(lexical)
        self.planner = Planner(self.catalogue)
        # what another process (seve ingest, another server) writes becomes visible here (index.live)
        self.watcher = IndexWatcher(store, lexical, settings.index_poll_seconds)
        self.gate = gate or load_gate()
        self.generator = generator
        self.writer = Writer(generator, settings.llm_max_tokens, self.similarity) \
            if generator is not None else None

    def watch(self) -> Assistant:
        """Check the index version in a background thread (a serving process), not on the request path."""
        self.watcher.check(force=True)
        self.watcher.start()
        return self

    def close(self) -> None:
        self.watcher.stop()

    def _fresh(self) -> None:
        if not self.watcher.running:  # no background watcher: check here, at most once per interval
            self.watcher.check()

    def warm_up(self) -> Assistant:
        self.embedder.embed_queries(["échauffement"])
        self.catalogue.known_values()  # builds the lexical index now, not on the first question
        if self.retriever.reranker is not None:
            self.retriever.reranker.warm_up()  # type: ignore[attr-defined]
        warm = getattr(self.generator, "warm_up", None)
        if warm is not None:
            try:
                warm()
            except SeveError as exc:  # the extractive answer still works: say why the LLM will not
                log.warning("LLM backend not ready, answers will be extractive: %s", exc.message)
        return self

    def health(self) -> dict[str, Any]:
        self._fresh()
        return {
            "status": "ok",
            "chunks": self.store.count(),
            "documents": self.store.document_count(),
            "embedding_model": self.settings.embedding_model_label,
            "answer_mode": self.settings.answer_mode,
            "llm_backend": getattr(self.generator, "name", None),
            "index_version": self.watcher.seen,
            "encoder": self.settings.encoder if self.settings.uses_default_model else "sentence-transformers",
        }

    def document(self, doc_id: str) -> SourceView | None:
        """One document rebuilt from its stored chunks, for the source view; None if it is unknown."""
        from index.store import assemble

        if not doc_id or len(doc_id) > 200:
            return None
        self._fresh()
        chunks = self.store.document(doc_id)
        if not chunks:
            return None
        origin, text = assemble(chunks)
        return SourceView(doc_id=doc_id, text=text, origin=origin, metadata=dict(chunks[0].metadata))

    def _check(self, message: str, lang: str) -> None:
        error = question_error(message, self.settings.max_question_chars, lang)
        if error:
            raise error

    def search(self, query: str, k: int | None = None, filters: Mapping[str, Any] | None = None,
               lang: str = "fr") -> list[Citation]:
        self._check(query, lang)
        self._fresh()
        filters = self.valid_filters(filters)
        hits = self.retriever.retrieve(query.strip(), k or self.settings.top_k, filters)
        return [Citation(n=i + 1, chunk=h, snippet=snippet_of(h), start=h.start, end=h.end)
                for i, h in enumerate(hits)]

    def known_values(self) -> tuple[dict[str, set[str]], int | None]:
        return self.catalogue.known_values()

    def valid_filters(self, filters: Mapping[str, Any] | None) -> dict[str, list[Any]]:
        """The user's explicit filters, checked: an unknown key or region is named in the error (a region is one
        of the schema's, or one the index holds)."""
        return normalize_filters(filters, regions=self.catalogue.known_values()[0].get("region", set()))

    def plan(self, message: str, history: Sequence[Any] = (), filters: Mapping[str, Any] | None = None,
             detect_filters: bool = True) -> QueryPlan:
        return self.planner.plan(message, history, filters, detect_filters)

    def chat(self, message: str, history: Sequence[Any] = (), filters: Mapping[str, Any] | None = None,
             lang: str = "fr", detect_filters: bool = True) -> Answer:
        """The finished answer: the events of `stream`, collected."""
        return collect(self.stream(message, history, filters, lang, detect_filters))

    def stream(self, message: str, history: Sequence[Any] = (), filters: Mapping[str, Any] | None = None,
               lang: str = "fr", detect_filters: bool = True) -> Iterator[Event]:
        """The answer's events as they are produced. Bad input raises here, before the first event."""
        self._check(message, lang)
        self._fresh()
        filters = self.valid_filters(filters)  # a bad filter is the user's first problem to hear about
        if not self.watcher.chunks and self.store.count() == 0:  # counted at the last version check
            raise NotReady(t("empty_index", lang), code="empty_index")
        return self._events(message, list(history), filters, lang, detect_filters)

    def _events(self, message: str, history: list[Any], filters: Mapping[str, Any] | None, lang: str,
                detect_filters: bool) -> Iterator[Event]:
        talk = small_talk(message)
        if talk is not None:
            yield from whole(presentation(talk, language(message) if language(message) == "en" else lang,
                                          self.store.document_count()))
            return
        history = history[-2 * self.settings.max_history_turns:] if self.settings.max_history_turns else []
        plan = self.plan(message, history, filters, detect_filters)
        frame = "en" if plan.question is not None and plan.question.lang == "en" else lang
        vector = self.embedder.embed_queries([plan.standalone])[0]
        retrieval, relaxed = self.retrieve_planned(plan, self.settings.top_k, vector)
        answer = self._answer(plan, retrieval, vector, frame, focus=message.strip(),
                              scoped=bool(plan.detected or filters), relaxed=relaxed,
                              said=last_assistant_message(history))
        answer.standalone_question = plan.standalone
        answer.filters = {"applied": plan.fallback if relaxed else plan.applied, "detected": plan.detected,
                          "relaxed": relaxed, "preferred": plan.detected if relaxed else {}}
        # the gate ran in _answer: a refusal never reaches the generator. Example cards and quoted lists are
        # structured answers a small model only spoils: they stay as they are.
        if self.writer is None or not answer.grounded or relaxed or answer.kind in ("examples", "smalltalk") \
                or (answer.kind == "list" and "\n- " in answer.answer):
            yield from whole(answer)
            return
        asked = message.strip()
        if plan.standalone != asked:  # a follow-up: the model reads the new question, with what it follows
            asked = f"{asked} (suite de la question : « {plan.standalone[: -len(asked)].strip()} »)"
        yield from self.writer.events(asked, self.passages(answer, retrieval.hits), answer, frame,
                                      self._judge(plan, vector))

    def _judge(self, plan: QueryPlan, vector: np.ndarray) -> Callable[[list[str], list[str]], bool]:
        """Whether written sentences answer the question at least as well as the extractive quotes: the best
        of each, scored as the extractive composer scores sentences (cosine, shared words, answer type)."""
        question = plan.question or read_question(plan.standalone)

        def best(texts: list[str]) -> float:
            vectors = self.embedder.embed_passages(texts)
            return max(float(v @ vector) + LEXICAL_WEIGHT * lexical_overlap(plan.standalone, text)
                       + answer_type_bonus(question, text) for v, text in zip(vectors, texts, strict=True))

        return lambda sentences, quotes: best(sentences) >= best(quotes) - RELEVANCE_MARGIN

    def passages(self, extractive: Answer, hits: Sequence[ScoredChunk]) -> list[Passage]:
        """What the model reads: the passages the extractive answer quotes first (its best evidence, with the
        quoted span), then the best other hits, up to `llm_passages`, numbered from 1."""
        chosen: list[tuple[ScoredChunk, int, int]] = []
        for c in extractive.citations:
            chosen.append((c.chunk, min(c.start, c.chunk.start), max(c.end, c.chunk.end)))
        for hit in hits:
            chosen.append((hit, hit.start, hit.end))
        passages: list[Passage] = []
        seen: set[str] = set()
        for chunk, lo, hi in chosen:
            if chunk.chunk_id in seen or len(passages) >= self.settings.llm_passages:
                continue
            seen.add(chunk.chunk_id)
            origin, text = self.retriever.lexical.window(chunk.doc_id, lo, hi, 0, 0) \
                if self.retriever.lexical is not None else (chunk.start, "")
            if not text:
                origin, text = chunk.start, chunk.text
            citation = Citation(n=len(passages) + 1, chunk=chunk, snippet=snippet_of(chunk), start=lo, end=hi)
            passages.append(Passage.of(citation, text, focus=lo - origin))
        return passages

    def similarity(self, sentence: str, passage: str) -> float:
        """The best cosine between a generated sentence and the sentences of a passage."""
        parts = [p for p in sentence_texts(passage) if len(p) > 15] or [passage]
        vectors = self.scorer.vectors(parts)
        return float(np.max(vectors @ self.embedder.embed_passages([sentence])[0]))

    def retrieve_planned(self, plan: QueryPlan, k: int, vector: np.ndarray | None = None) -> tuple[Retrieval, bool]:
        """Search with the plan's filters. When the filters read in the question leave (almost) nothing, they
        become a preference: the search runs without them and the passages that match them come first."""
        query = plan.lexical_query or plan.standalone
        retrieval = self.retriever.search(query, k, plan.applied, vector=vector)
        if not plan.detected or len(retrieval.hits) >= min(k, SOFT_FILTER_MIN_HITS):
            return retrieval, False
        wider = self.retriever.search(query, k, plan.fallback, vector=vector)
        if not wider.hits:
            return retrieval, False
        wider.hits = sorted(wider.hits, key=lambda h: not matches(h.metadata, plan.detected))
        return wider, True

    def windows(self, hit: ScoredChunk) -> tuple[int, str]:
        lexical = self.retriever.lexical
        return lexical.window(hit.doc_id, hit.start, hit.end, before=1000, after=2500) if lexical is not None \
            else (hit.start, "")

    def gate_signals(self, question: Question, retrieval: Retrieval, answer: Answer, best: float) -> Signals:
        lexical = self.retriever.lexical
        terms = question_terms(question)
        known = lexical.document_frequency(terms) if lexical is not None else None
        corrections = lexical.correct_terms(terms) if lexical is not None else {}
        hit_texts = [f"{h.metadata.get('title', '')} {h.text}" for h in retrieval.hits[:3]]
        answer_texts = [answer.answer] + [str(c.chunk.metadata.get("title") or "") for c in answer.citations]
        first = re.match(r"(.*?)\[\d+\]", answer.answer, re.DOTALL)
        return signals(question, dense=retrieval.dense_best, best_sentence=best, hit_texts=hit_texts,
                       answer_texts=answer_texts, known=known, corrections=corrections,
                       first_quote=first.group(1) if first else answer.answer)

    def _answer(self, plan: QueryPlan, retrieval: Retrieval, vector: np.ndarray, lang: str, *, focus: str = "",
                scoped: bool = False, relaxed: bool = False, said: str = "") -> Answer:
        hits = retrieval.hits
        question = plan.question or read_question(plan.standalone)
        if not hits:
            return refusal(plan.standalone, hits, lang)
        # records that match the filters a user asked for are relevant by construction
        if plan.wants_examples and scoped and not relaxed:
            found = compose_examples(hits, lang=lang)
            if found is not None:
                found.kind = "examples"
                return found
        if self.retriever.mode == "dense":
            hits = [h for h in hits if h.score >= self.settings.refusal_threshold] or hits[:1]
        if relaxed and plan.wants_examples and not any(matches(h.metadata, plan.detected) for h in hits):
            return no_match(plan.detected, hits, lang)
        answer, best = self._compose(plan, question, hits, vector, lang, focus, said)
        seen = self.gate_signals(question, retrieval, answer, best or retrieval.dense_best)
        if not self.gate.answerable(seen, cross_lingual=question.lang == "en"):
            return refusal(plan.standalone, hits, lang)
        if relaxed:
            answer.answer = t("relaxed", lang, criteria=describe_filters(plan.detected, lang)) + "\n" + answer.answer
        if lang == "en" and answer.grounded:
            answer.answer = t("quoted_in_french", "en") + "\n" + answer.answer
        return answer

    def _compose(self, plan: QueryPlan, question: Question, hits: list[ScoredChunk], vector: np.ndarray, lang: str,
                 focus: str, said: str) -> tuple[Answer, float]:
        """The answer before the gate (example cards, or cited sentences), and the best sentence score."""
        best = [0.0]
        score = self.scorer.for_question(plan.standalone, vector, focus)

        def scored(asked: str, sentences: list[Any]) -> list[float]:
            values = score(asked, sentences)
            best[0] = max(best[0], max(values, default=0.0))
            return values

        def more(term: str) -> list[ScoredChunk]:
            return self.retriever.retrieve(term, 3, plan.fallback)

        answer = compose_examples(hits, lang=lang) if plan.wants_examples else None
        if answer is not None:
            answer.kind = "examples"
            return answer, best[0]
        answer = compose_extractive(question, hits, scored, lang=lang, windows=self.windows, extra_hits=more,
                                    avoid=said)
        answer.kind = question.kind
        return answer, best[0]

    def examples(self, query: str = "", filters: Mapping[str, Any] | None = None, k: int = 10,
                 lang: str = "fr", detect_filters: bool = True) -> dict[str, Any]:
        """The case-example finder: example cards for a query and filters, with facet counts."""
        self._fresh()
        explicit = filters = self.valid_filters(filters)
        query = query.strip()
        if len(query) > self.settings.max_question_chars:
            self._check(query, lang)
        detected = self.planner.read_filters(query) if query and detect_filters else {}
        base = {"doc_type": ["exemple"]}
        applied = {**base, **detected, **explicit}
        cards = self._example_cards(query, applied, k)
        relaxed = not cards and bool(detected)
        if relaxed:
            applied = {**base, **explicit}
            cards = self._example_cards(query, applied, k)
        lexical = self.retriever.lexical
        docs = lexical.documents(applied) if lexical is not None else {}
        return {"results": cards, "facets": facet_counts(docs.values()), "total": len(docs),
                "filters": {"applied": applied, "detected": detected, "relaxed": relaxed}}

    def _example_cards(self, query: str, filters: dict[str, list[Any]], k: int) -> list[dict[str, Any]]:
        if query:
            hits = self.retriever.retrieve(query, max(k * 3, 30), filters)
            seen: dict[str, ScoredChunk] = {}
            for hit in hits:
                seen.setdefault(hit.doc_id, hit)
            return [example_card(h) for h in list(seen.values())[:k]]
        lexical = self.retriever.lexical
        docs = lexical.documents(filters) if lexical is not None else {}
        ordered = sorted(docs.items(), key=lambda p: (-int(p[1].get("annee") or 0), str(p[1].get("title"))))
        full = lexical.full_metadata([doc_id for doc_id, _ in ordered[:k]]) if lexical is not None else {}
        return [example_card_from_metadata(doc_id, full.get(doc_id, meta)) for doc_id, meta in ordered[:k]]
