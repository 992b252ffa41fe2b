"""The evaluation harness behind `seve eval`: retrieval and answer quality on a gold set, per configuration.

Configurations are measured on the same questions in one run: lexical only, dense only, the current
default, and a baseline built the way the llama-index quickstart does it (VectorStoreIndex defaults,
same embedding model, Chroma). Retrieval figures are computed on answerable questions; answers are
judged by the expected strings they contain, their citations, and refusals on unanswerable questions.
"""

from __future__ import annotations

import json
import math
import statistics
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from assistant.answer import Answer, refusal
from assistant.condense import condense
from assistant.extractive import compose_extractive
from assistant.factory import make_assistant, make_embedder, make_ingestor
from assistant.service import Assistant
from assistant.settings import Settings
from index.filters import matches, normalize_filters
from index.store import ScoredChunk

HERE = Path(__file__).parent
ROOT = HERE.parent
DEFAULT_GOLD = HERE / "gold" / "gold.jsonl"
DEFAULT_CORPUS = ROOT / "corpus"
# Question sets measured side by side: the gold set over the shipped corpus, and two sets over a corpus of
# web pages and PDF text that nobody tuned for (dev: used to calibrate the answerability gate; test: held out).
SETS = {
    "gold": (DEFAULT_GOLD, DEFAULT_CORPUS),
    "transfer-dev": (HERE / "transfer" / "dev" / "questions.jsonl", HERE / "transfer" / "dev" / "corpus"),
    "transfer-test": (HERE / "transfer" / "test" / "questions.jsonl", HERE / "transfer" / "test" / "corpus"),
}
FLOORS = HERE / "floors.json"
KS = (1, 3, 5, 10)


@dataclass(frozen=True)
class GoldItem:
    id: str
    kind: str
    question: str
    history: list[dict[str, str]]
    filters: dict[str, Any]
    expected_docs: list[str]
    expected_answers: list[str]
    answerable: bool


def load_gold(path: Path) -> list[GoldItem]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            items.append(GoldItem(raw["id"], raw["kind"], raw["question"], raw.get("history") or [],
                                  raw.get("filters") or {}, raw.get("expected_docs") or [],
                                  raw.get("expected_answers") or [], bool(raw["answerable"])))
        except (json.JSONDecodeError, KeyError) as exc:
            raise ValueError(f"{path}:{number}: entrée invalide ({exc})") from exc
    return items


def normalize(text: str) -> str:
    """Compare answer strings modulo apostrophes, spaces (incl. non-breaking) and case."""
    text = unicodedata.normalize("NFC", text).replace("’", "'").replace("\u00a0", " ").replace("\u202f", " ")
    return " ".join(text.lower().split())


def doc_key(metadata: dict[str, Any], corpus_root: Path) -> str:
    """`fiches/x.md` or `exemples/exemples.jsonl#EX-012`, relative to the corpus root."""
    raw = str(metadata.get("path") or metadata.get("file_path") or "")
    path = Path(raw)
    try:
        rel = path.resolve().relative_to(corpus_root.resolve()).as_posix()
    except ValueError:
        rel = path.name
    record = metadata.get("record_id")
    return f"{rel}#{record}" if record else rel


@dataclass
class Judged:
    """One question's outcome in one configuration."""

    item: GoldItem
    ranks: list[bool]  # relevance of the top-10 hits, in order
    relevant_docs_found: list[str]
    answer: str
    grounded: bool
    support: bool
    citation_precision: float | None
    latency_ms: float
    filter_precision: float | None = None
    hit_keys: list[str] = field(default_factory=list)
    answer_support: bool = False  # an expected string in the answer text itself (not only in a cited passage)
    kind: str = ""


class System(Protocol):
    """A configuration under test: retrieve top-10 for a question, and answer it."""

    name: str

    def retrieve(self, item: GoldItem) -> list[ScoredChunk]: ...

    def answer(self, item: GoldItem) -> Answer: ...


class ProductSystem:
    def __init__(self, name: str, assistant: Assistant, mode: str) -> None:
        self.name = name
        self.assistant = assistant
        self.mode = mode
        assistant.retriever.mode = mode  # type: ignore[assignment]

    def retrieve(self, item: GoldItem) -> list[ScoredChunk]:
        """What the product searches: the standalone question with the filters it reads in the question."""
        self.assistant.retriever.mode = self.mode  # type: ignore[assignment]
        plan = self.assistant.plan(item.question, item.history)
        return self.assistant.retrieve_planned(plan, 10)[0].hits

    def answer(self, item: GoldItem) -> Answer:
        self.assistant.retriever.mode = self.mode  # type: ignore[assignment]
        return self.assistant.chat(item.question, item.history)


class LlamaIndexBaseline:
    """The llama-index quickstart: SimpleDirectoryReader -> VectorStoreIndex (defaults) on Chroma.

    Same embedding model (with its query/passage prefixes), default node parser (1,024-token sentence
    splitter), default retriever. Its answers use Sève's extractive composer over its own top chunks,
    with the same refusal threshold, since the quickstart's answers need an LLM.
    """

    name = "llamaindex-quickstart"

    def __init__(self, files: list[Path], model_path: str, data_dir: Path, assistant: Assistant) -> None:
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
            from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
            from llama_index.embeddings.huggingface import HuggingFaceEmbedding
            from llama_index.vector_stores.chroma import ChromaVectorStore
        except ImportError as exc:
            raise RuntimeError('la ligne de base llama-index demande : pip install "seve[eval]"') from exc
        embed = HuggingFaceEmbedding(model_name=model_path, query_instruction="query: ",
                                     text_instruction="passage: ", device="cpu")
        client = chromadb.PersistentClient(str(data_dir / "llamaindex-chroma"),
                                           settings=ChromaSettings(anonymized_telemetry=False))
        collection = client.get_or_create_collection("quickstart")
        store = ChromaVectorStore(chroma_collection=collection)
        if collection.count() == 0:
            documents = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data()
            self.index = VectorStoreIndex.from_documents(
                documents, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed)
        else:
            self.index = VectorStoreIndex.from_vector_store(store, embed_model=embed)
        self.retriever = self.index.as_retriever(similarity_top_k=10)
        self.assistant = assistant

    def retrieve(self, item: GoldItem) -> list[ScoredChunk]:
        nodes = self.retriever.retrieve(condense(item.question, item.history))
        return [ScoredChunk(chunk_id=n.node.node_id, doc_id=str(n.node.ref_doc_id), text=n.node.get_content(),
                            start=n.node.start_char_idx or 0, end=n.node.end_char_idx or 0,
                            score=cosine_from_llamaindex(n.score), metadata=dict(n.node.metadata)) for n in nodes]

    def answer(self, item: GoldItem) -> Answer:
        hits = self.retrieve(item)[: self.assistant.settings.top_k]
        question = condense(item.question, item.history)
        if not hits or hits[0].score < self.assistant.settings.refusal_threshold:
            return refusal(question, hits)
        return compose_extractive(question, hits, self.assistant.scorer.for_question(question))


def cosine_from_llamaindex(score: float | None) -> float:
    """llama-index's Chroma store reports exp(-d) for Chroma's default squared L2 distance d = 2 - 2 cos
    (unit vectors), so cos = 1 + ln(score) / 2: the same scale as Sève's refusal threshold."""
    return 1.0 + math.log(score) / 2 if score and score > 0 else -1.0


def relevant_doc(hit: ScoredChunk, key: str, expected: Sequence[str]) -> str | None:
    """The expected document this hit stands for, if any (whole-file chunks of a records file count
    when they contain the record)."""
    if key in expected:
        return key
    for doc in expected:
        file, _, record = doc.partition("#")
        if record and key == file and f'"{record}"' in hit.text:
            return doc
    return None


def judge(system: System, item: GoldItem, corpus_root: Path) -> Judged:
    hits = system.retrieve(item) if item.answerable else []
    ranks, found, keys = [], [], []
    for hit in hits[:10]:
        key = doc_key(hit.metadata, corpus_root)
        keys.append(key)
        doc = relevant_doc(hit, key, item.expected_docs)
        ranks.append(doc is not None and doc not in found)
        if doc and doc not in found:
            found.append(doc)
    started = time.perf_counter()
    answer = system.answer(item)
    latency = (time.perf_counter() - started) * 1000
    wanted = [normalize(a) for a in item.expected_answers]
    cited_texts = [normalize(c.chunk.text) for c in answer.citations] if answer.grounded else []
    support = bool(wanted) and answer.grounded and any(
        w in normalize(answer.answer) or any(w in t for t in cited_texts) for w in wanted)
    strict = bool(wanted) and answer.grounded and any(w in normalize(answer.answer) for w in wanted)
    precision = None
    if item.answerable and answer.grounded and answer.citations:
        good = [c for c in answer.citations
                if relevant_doc(c.chunk, doc_key(c.chunk.metadata, corpus_root), item.expected_docs)
                or any(w in normalize(c.chunk.text) for w in wanted)]
        precision = len(good) / len(answer.citations)
    filter_precision = None
    if item.filters and item.kind == "example" and hits:
        clean = normalize_filters(item.filters)
        examples = [h for h in hits[:5] if h.metadata.get("doc_type") == "exemple"]
        if examples:
            filter_precision = sum(matches(h.metadata, clean) for h in examples) / len(examples)
    return Judged(item, ranks, found, answer.answer, answer.grounded, support, precision, latency,
                  filter_precision, keys, strict, getattr(answer, "kind", ""))


def _dcg(ranks: Sequence[bool]) -> float:
    return sum(1 / math.log2(i + 2) for i, rel in enumerate(ranks) if rel)


def summarize(results: Sequence[Judged]) -> dict[str, Any]:
    talk = [r for r in results if r.item.kind == "smalltalk"]
    results = [r for r in results if r.item.kind != "smalltalk"]
    answerable = [r for r in results if r.item.answerable]
    unanswerable = [r for r in results if not r.item.answerable]
    out: dict[str, Any] = {"questions": len(results), "answerable": len(answerable)}
    for k in KS:
        out[f"hit@{k}"] = _mean([any(r.ranks[:k]) for r in answerable])
    out["mrr@10"] = _mean([next((1 / (i + 1) for i, rel in enumerate(r.ranks) if rel), 0.0) for r in answerable])
    out["ndcg@10"] = _mean([
        _dcg(r.ranks) / _dcg([True] * min(10, len(r.item.expected_docs))) if r.item.expected_docs else 0.0
        for r in answerable])
    out["support"] = _mean([r.support for r in answerable])
    out["answer_support"] = _mean([r.answer_support for r in answerable])
    precisions = [r.citation_precision for r in answerable if r.citation_precision is not None]
    out["citation_precision"] = _mean(precisions)
    refused = [r for r in results if not r.grounded]
    out["refusal_precision"] = _mean([not r.item.answerable for r in refused]) if refused else 0.0
    out["refusal_recall"] = _mean([not r.grounded for r in unanswerable]) if unanswerable else 0.0
    out["false_refusals"] = sum(1 for r in answerable if not r.grounded)
    out["false_refusal_rate"] = _mean([not r.grounded for r in answerable])
    out["false_answers"] = sum(1 for r in unanswerable if r.grounded)
    out["smalltalk"] = _mean([r.kind == "smalltalk" for r in talk]) if talk else None
    filters = [r.filter_precision for r in results if r.filter_precision is not None]
    out["filter_precision"] = _mean(filters) if filters else None
    latencies = sorted(r.latency_ms for r in results)
    out["latency_p50_ms"] = round(statistics.median(latencies), 1) if latencies else 0.0
    out["latency_p95_ms"] = round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1) \
        if latencies else 0.0
    for kind in sorted({r.item.kind for r in answerable}):
        subset = [r for r in answerable if r.item.kind == kind]
        out[f"hit@5[{kind}]"] = _mean([any(r.ranks[:5]) for r in subset])
        out[f"support[{kind}]"] = _mean([r.support for r in subset])
        out[f"answer_support[{kind}]"] = _mean([r.answer_support for r in subset])
    return out


def _mean(values: Sequence[float | bool]) -> float:
    return round(sum(float(v) for v in values) / len(values), 4) if values else 0.0


@dataclass
class EvalRun:
    summaries: dict[str, dict[str, Any]]
    details: dict[str, list[Judged]]
    meta: dict[str, Any]


def build_systems(settings: Settings, corpus: Path, names: Sequence[str],
                  log: Callable[[str], None]) -> tuple[list[System], dict[str, Any]]:
    passages = make_embedder(settings, "passage").warm_up()
    embedder = passages if settings.encoder == settings.passage_encoder else make_embedder(settings).warm_up()
    started = time.perf_counter()
    report = make_ingestor(settings, passages, embedder).ingest([corpus])
    log(f"index: {report.documents} documents, {report.chunks_added} passages ajoutés, "
        f"{report.unchanged} inchangés ({time.perf_counter() - started:.1f} s)")
    if report.errors:
        raise RuntimeError("le corpus d'évaluation a des fichiers illisibles : "
                           + "; ".join(f"{e.path} ({e.reason})" for e in report.errors))
    systems: list[System] = []
    for name in names:
        assistant = make_assistant(settings, embedder)
        if name in ("lexical", "dense", "hybrid"):
            systems.append(ProductSystem(name, assistant, name))
        elif name == "default":
            systems.append(ProductSystem(f"default ({settings.retrieval_mode})", assistant, settings.retrieval_mode))
        elif name == "llamaindex":
            from ingest.loaders import iter_files

            started = time.perf_counter()
            systems.append(LlamaIndexBaseline(list(iter_files(corpus)), settings.embedding_model_ref,
                                              settings.data_dir, assistant))
            log(f"ligne de base llama-index prête ({time.perf_counter() - started:.1f} s)")
        else:
            raise ValueError(f"configuration inconnue : {name}")
    meta = {"documents": report.documents, "embedding_model": settings.embedding_model_label,
            "chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap,
            "refusal_threshold": settings.refusal_threshold}
    return systems, meta


def run_eval(gold: Path, corpus: Path, settings: Settings, names: Sequence[str],
             log: Callable[[str], None] = lambda _: None) -> EvalRun:
    """`torch` is the default configuration with the fp32 torch encoder instead of the int8 ONNX one (its own
    index: passages are encoded by it too)."""
    items = load_gold(gold)
    systems, meta = build_systems(settings, corpus, [n for n in names if n != "torch"], log) \
        if any(n != "torch" for n in names) else ([], {})
    if "torch" in names:
        torch_settings = settings.model_copy(update={"encoder": "torch", "passage_encoder": "torch",
                                                     "data_dir": settings.data_dir / "torch"})
        extra, torch_meta = build_systems(torch_settings, corpus, ["default"], log)
        extra[0].name = f"torch ({settings.retrieval_mode})"
        systems += extra
        meta = meta or torch_meta
    meta["encoder"] = f"questions {settings.encoder}, passages {settings.passage_encoder}" \
        if settings.uses_default_model else "sentence-transformers"
    summaries, details = {}, {}
    for system in systems:
        started = time.perf_counter()
        judged = [judge(system, item, corpus) for item in items]
        summaries[system.name] = summarize(judged)
        details[system.name] = judged
        log(f"{system.name}: {len(items)} questions en {time.perf_counter() - started:.1f} s")
    meta.update({"gold": str(gold), "questions": len(items)})
    return EvalRun(summaries, details, meta)


def check_floors(summaries: dict[str, dict[str, Any]], floors: dict[str, dict[str, float]]) -> list[str]:
    """Every figure below its recorded floor, as a readable line."""
    failures = []
    for config, figures in floors.items():
        if config.startswith("_"):  # comments
            continue
        base, _, wanted_set = config.partition(" [")
        candidates = [n for n in summaries if n == base or n.startswith(base + " ")]
        if wanted_set:
            candidates = [n for n in candidates if n.endswith(f"[{wanted_set}")]
        name = candidates[0] if candidates else None
        if name is None:
            failures.append(f"{config}: configuration absente du run")
            continue
        for metric, floor in figures.items():
            if metric.endswith("_max"):  # a ceiling (false refusals)
                value = summaries[name].get(metric[:-4])
                if value is None or value > floor:
                    failures.append(f"{name}: {metric[:-4]} = {value} > plafond {floor}")
                continue
            value = summaries[name].get(metric)
            if value is None or value < floor:
                failures.append(f"{name}: {metric} = {value} < plancher {floor}")
    return failures


def run_sets(sets: Sequence[str], settings: Settings, names: Sequence[str],
             log: Callable[[str], None] = lambda _: None) -> EvalRun:
    """Several question sets, each over its own corpus and index, in one report (names get « [set] »)."""
    summaries: dict[str, dict[str, Any]] = {}
    details: dict[str, list[Judged]] = {}
    meta: dict[str, Any] = {"sets": {}}
    for set_name in sets:
        if set_name not in SETS:
            raise ValueError(f"jeu inconnu : {set_name} (jeux : {', '.join(SETS)})")
        gold, corpus = SETS[set_name]
        set_settings = settings.model_copy(update={"data_dir": settings.data_dir / set_name})
        log(f"— jeu {set_name} : {gold.relative_to(ROOT)} sur {corpus.relative_to(ROOT)}")
        run = run_eval(gold, corpus, set_settings, names, log)
        for name, summary in run.summaries.items():
            summaries[f"{name} [{set_name}]"] = summary
            details[f"{name} [{set_name}]"] = run.details[name]
        meta["sets"][set_name] = run.meta
        meta.update({k: v for k, v in run.meta.items() if k not in ("gold", "questions", "documents")})
    meta["questions"] = sum(m["questions"] for m in meta["sets"].values())
    meta["documents"] = sum(m["documents"] for m in meta["sets"].values())
    meta["gold"] = ", ".join(meta["sets"])
    return EvalRun(summaries, details, meta)
