"""French lexical index: BM25 over stemmed, folded words with figures kept intact.

Chunks live in SQLite next to the Chroma data (so the index survives restarts and follows the
incremental ingest: upsert, delete); the BM25 matrix is rebuilt in memory when the table changed
(also when another process, such as `seve ingest`, changed it).
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import threading
from array import array
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse

from index.filters import FILTER_KEYS
from index.store import ScoredChunk, assemble
from ingest.failpoints import failpoint
from ingest.models import Chunk, content_hash, fold

# Snowball's French stop list (folded), plus a few question words that carry no topic.
STOP_WORDS = frozenset("""
au aux avec ce ces dans de des du elle en et eux il ils je la le les leur lui ma mais me meme mes moi mon ne
nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre vous c d
j l a m n s t y ete etee etees etes etant suis es est sommes etes sont serai seras sera serons serez seront
serais serait serions seriez seraient etais etait etions etiez etaient fus fut fumes futes furent sois soit
soyons soyez soient fusse fusses fut fussions fussiez fussent ayant eu eue eues eus ai as avons avez ont aurai
auras aura aurons aurez auront aurais aurait aurions auriez auraient avais avait avions aviez avaient eut
eumes eutes eurent aie aies ait ayons ayez aient eusse eusses eussions eussiez eussent ceci cela celà cet
cette ici ils les leurs quel quels quelle quelles sans soi quoi comment combien pourquoi quand est-ce
dont donc alors aussi tres plus moins tout tous toute toutes
""".split())
_ELISION = re.compile(r"\b(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})(?:[ \u00a0\u202f.](\d{3}))+(?![\d])")
_PERCENT = re.compile(r"(\d)\s*%")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*%?(?:-\d+)?|[^\W\d_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202 - PyStemmer type stays here
    import Stemmer

    return Stemmer.Stemmer("french")


def _join_thousands(match: re.Match[str]) -> str:
    return re.sub(r"[ \u00a0\u202f.]", "", match.group(0))


def analyze(text: str) -> list[str]:
    """Text -> index terms: elisions split, stop words dropped, words stemmed and folded, figures whole.

    « L’ODD 17 : 81 % des 1 000 acteurs (2020-2023) » -> ['odd', '17', '81%', '1000', 'acteur', '2020-2023',
    '2020', '2023']
    """
    text = text.replace("’", "'").replace("œ", "oe").replace("Œ", "OE")
    text = _PERCENT.sub(r"\1%", _THOUSANDS.sub(_join_thousands, _ELISION.sub(" ", text)))
    terms: list[str] = []
    stem = _stemmer().stemWord
    for raw in _TOKEN.findall(text):
        if raw[0].isdigit():
            terms.append(raw.replace(",", "."))
            if "-" in raw:
                terms.extend(raw.split("-"))
            continue
        word = raw.lower()
        folded = fold(word)
        if folded in STOP_WORDS or len(folded) < 2:
            continue
        terms.append(folded if len(word) <= 4 else fold(stem(word)))
    return terms


# metadata keys that filters read (index.filters): the only ones with posting lists
_FILTERED = frozenset(k for k, kind in FILTER_KEYS.items() if kind not in ("min", "max", "all"))
# what stays in memory per chunk (filters, facets, the title); the rest is read from SQLite when needed
_KEPT = _FILTERED | {"title"}


def _slim(metadata: dict[str, Any], shared: dict[Any, Any]) -> dict[str, Any]:
    """The kept fields, with equal values shared between chunks (one « Bretagne », one [association, fondation]
    list): at 100,000 chunks this is the difference between 140 and 30 MB. Never mutate them."""
    out = {}
    for key, value in metadata.items():
        if key not in _KEPT:
            continue
        if isinstance(value, str):
            value = shared.setdefault(value, value)
        elif isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
            value = shared.setdefault(("list", *value), [shared.setdefault(v, v) for v in value])
        out[shared.setdefault(key, key)] = value
    return out


class LexicalIndex:
    """BM25 (k1, b) over the chunks of one collection, persisted in SQLite."""

    def __init__(self, path: Path, k1: float = 1.2, b: float = 0.75) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.k1, self.b = k1, b
        self._version_cache: tuple[tuple[int, int], int] | None = None
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS chunks (id TEXT PRIMARY KEY, doc_id TEXT, text TEXT, "
                         "start INTEGER, end_ INTEGER, metadata TEXT, terms TEXT)")
        self._db.execute("CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id, start)")
        # sentence vectors computed by the ingest (content-addressed: a sentence is embedded once, ever)
        self._db.execute("CREATE TABLE IF NOT EXISTS sentences (key TEXT PRIMARY KEY, vector BLOB)")
        # which version of the Chroma collection this copy reflects (index.live)
        self._db.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER)")
        self._lock = threading.Lock()
        self._built_version: int | None = None
        self._ids: list[str] = []
        self._meta: list[dict[str, Any]] = []
        self._docs: list[str] = []
        self._vocab: dict[str, int] = {}
        self._matrix: sparse.csc_matrix | None = None
        self._idf = np.zeros(0)
        self._df = np.zeros(0)
        self._grams: dict[str, list[int]] = {}
        self._terms: list[str] = []
        self._postings: dict[tuple[str, str, Any], np.ndarray] = {}
        self._years = np.zeros(0, dtype=np.int64)
        self._row: dict[str, int] = {}

    def version(self) -> int:
        """Changes whenever the table changes, from this connection or another process's. Called on every
        request: the row count (a full scan, ~3 ms at 100k chunks) is taken again only when SQLite says the
        database changed (`data_version` for other connections, `total_changes` for this one)."""
        key = (int(self._db.execute("PRAGMA data_version").fetchone()[0]), self._db.total_changes)
        cached = self._version_cache
        if cached is None or cached[0] != key:
            cached = self._version_cache = (key, key[0] * 1_000_003 + self.count())
        return cached[1]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def ids(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT id FROM chunks")}

    def synced_version(self) -> int | None:
        """The Chroma index version this copy reflects; None if it never was synced."""
        row = self._db.execute("SELECT value FROM state WHERE key='synced_version'").fetchone()
        return int(row[0]) if row else None

    def set_synced_version(self, version: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO state VALUES ('synced_version', ?)", (version,))

    def upsert(self, chunks: Sequence[Chunk], vectors: Any = None) -> None:
        rows = [(c.id, c.doc_id, c.text, c.start, c.end, json.dumps(c.metadata, ensure_ascii=False, default=str),
                 " ".join(analyze(f"{c.metadata.get('title', '')} {c.text}"))) for c in chunks]
        half = len(rows) // 2
        with self._lock, self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", rows[:half])
            failpoint("lexical.upsert.mid")  # some rows written, none committed
            self._db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", rows[half:])
            self._built_version = None

    def delete(self, chunk_ids: Sequence[str]) -> None:
        rows = [(i,) for i in chunk_ids]
        half = len(rows) // 2
        with self._lock, self._transaction():
            self._db.executemany("DELETE FROM chunks WHERE id=?", rows[:half])
            failpoint("lexical.delete.mid")
            self._db.executemany("DELETE FROM chunks WHERE id=?", rows[half:])
            self._built_version = None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: a batch is in the table whole or not at all, even if the process dies."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def set_document_count(self, count: int) -> None:  # the Chroma collection keeps the count
        return None

    def _build(self) -> None:
        """The BM25 matrix, read row by row (no copy of the whole table in memory); chunks of one document share
        one metadata dict (parsed once per distinct metadata)."""
        vocab: dict[str, int] = {}
        indptr, indices, data, lengths = [0], array("i"), array("f"), array("f")
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        docs: list[str] = []
        parsed: dict[str, dict[str, Any]] = {}
        shared: dict[Any, Any] = {}
        postings: dict[tuple[str, str, Any], list[int]] = {}
        for chunk_id, terms, meta, doc_id in self._db.execute(
                "SELECT id, terms, metadata, doc_id FROM chunks ORDER BY id"):
            counts: dict[int, int] = {}
            words = terms.split()
            lengths.append(len(words))
            for w in words:
                j = vocab.setdefault(w, len(vocab))
                counts[j] = counts.get(j, 0) + 1
            indices.extend(counts)
            data.extend(counts.values())
            indptr.append(len(indices))
            ids.append(chunk_id)
            metas.append(parsed.get(meta) or parsed.setdefault(meta, _slim(json.loads(meta), shared)))
            docs.append(sys.intern(doc_id))
            for key, value in metas[-1].items():
                if key not in _FILTERED:
                    continue
                if isinstance(value, list):
                    for v in value:
                        if isinstance(v, (str, int)):
                            postings.setdefault(("in", key, v), []).append(len(ids) - 1)
                elif isinstance(value, (str, int)) and not isinstance(value, bool):
                    postings.setdefault(("eq", key, value), []).append(len(ids) - 1)
        n = len(ids)
        length = np.frombuffer(lengths, dtype=np.float32) if n else np.zeros(0, dtype=np.float32)
        counts_by_row = np.frombuffer(data, dtype=np.float32) if n else np.zeros(0, np.float32)
        columns = np.frombuffer(indices, dtype=np.int32) if n else np.zeros(0, np.int32)
        pointers = np.array(indptr, dtype=np.int64)
        del data, indices, indptr
        avg = float(length.mean()) if n else 1.0
        df = np.bincount(columns, minlength=len(vocab)) if len(vocab) else np.zeros(0)
        self._idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        self._df = df
        self._terms = list(vocab)
        self._grams = {}
        # BM25 term weights computed in place on the CSR arrays, then one conversion to columns
        norm = (self.k1 * (1 - self.b + self.b * length / avg)).astype(np.float32)
        weights = counts_by_row * (self.k1 + 1)
        weights /= counts_by_row + np.repeat(norm, np.diff(pointers))
        self._matrix = sparse.csr_matrix((weights, columns, pointers), shape=(n, len(vocab))).tocsc()
        del weights, columns, pointers, counts_by_row
        self._ids = ids
        self._meta = metas
        self._docs = docs
        self._vocab = vocab
        self._postings = {k: np.array(v, dtype=np.int32) for k, v in postings.items()}
        self._years = np.array([m["annee"] if isinstance(m.get("annee"), int) and not isinstance(m.get("annee"), bool)
                                else np.iinfo(np.int32).min for m in metas], dtype=np.int64)
        self._row = {cid: i for i, cid in enumerate(ids)}
        _release_free_memory()

    def _ensure_built(self) -> None:
        version = self.version()
        if self._built_version != version:
            self._build()
            self._built_version = version

    def scores(self, query: str) -> np.ndarray:
        with self._lock:
            return self._scores(query)

    def _scores(self, query: str) -> np.ndarray:
        self._ensure_built()
        columns = [self._vocab[t] for t in self._known_terms(analyze(query))]
        if not columns or self._matrix is None:
            return np.zeros(len(self._ids), dtype=np.float32)
        # a term repeated in the query counts once per occurrence, as in classic BM25
        idf = self._idf[columns]
        return np.asarray(self._matrix[:, columns] @ idf).ravel()

    def _known_terms(self, terms: list[str]) -> list[str]:
        """The query's terms that the index holds; an unknown word is read as the closest known one
        (« competance » -> « competent », « mecena » -> « mecenat »), so typos still find their passages."""
        known = []
        for term in terms:
            if term in self._vocab:
                known.append(term)
            elif (fixed := self._closest(term)) is not None:
                known.append(fixed)
        return known

    def _closest(self, term: str) -> str | None:
        if len(term) < 4 or term[0].isdigit() or not self._terms:
            return None
        if not self._grams:
            grams: dict[str, list[int]] = {}
            for i, word in enumerate(self._terms):
                if len(word) >= 3 and not word[0].isdigit():
                    for g in _trigrams(word):
                        grams.setdefault(g, []).append(i)
            self._grams = grams
        shared: dict[int, int] = {}
        for g in _trigrams(term):
            for i in self._grams.get(g, ()):
                shared[i] = shared.get(i, 0) + 1
        limit = 1 if len(term) <= 5 else 2
        best: tuple[int, float, str] | None = None
        for i, _ in sorted(shared.items(), key=lambda p: -p[1])[:40]:
            word = self._terms[i]
            distance = _edit_distance(term, word, limit)
            if distance <= limit:
                key = (distance, -float(self._df[i]), word)
                if best is None or key < best:
                    best = key
        return best[2] if best else None

    def correct(self, text: str) -> dict[str, str]:
        """Unknown words of a text and the known words they are read as."""
        return self.correct_terms(analyze(text))

    def correct_terms(self, terms: Sequence[str]) -> dict[str, str]:
        """The same for terms already analyzed."""
        with self._lock:
            self._ensure_built()
            out = {}
            for term in terms:
                if term not in self._vocab and (fixed := self._closest(term)) is not None:
                    out[term] = fixed
            return out

    def document_frequency(self, terms: Sequence[str]) -> dict[str, int]:
        """In how many chunks each (analyzed) term occurs; 0 for terms the index does not hold."""
        with self._lock:
            self._ensure_built()
            return {t: int(self._df[self._vocab[t]]) if t in self._vocab else 0 for t in terms}

    def known_sentences(self, texts: Sequence[str]) -> set[str]:
        keys = {content_hash(t): t for t in texts}
        found: set[str] = set()
        items = list(keys)
        for i in range(0, len(items), 500):
            part = items[i:i + 500]
            rows = self._db.execute(f"SELECT key FROM sentences WHERE key IN ({','.join('?' * len(part))})",
                                    part).fetchall()
            found.update(keys[r[0]] for r in rows)
        return found

    def sentence_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0])

    def chunk_texts(self, batch: int = 2000) -> Iterator[list[str]]:
        """Every chunk's text, in batches (to backfill sentence vectors of an older index)."""
        offset = 0
        while rows := self._db.execute("SELECT text FROM chunks ORDER BY id LIMIT ? OFFSET ?",
                                       (batch, offset)).fetchall():
            yield [r[0] for r in rows]
            offset += batch

    def upsert_sentences(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        rows = [(content_hash(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors,
                                                                                              strict=True)]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO sentences VALUES (?, ?)", rows)

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors the ingest stored for these sentences (those it has)."""
        keys = {content_hash(t): t for t in texts}
        out: dict[str, np.ndarray] = {}
        items = list(keys)
        for i in range(0, len(items), 500):
            part = items[i:i + 500]
            rows = self._db.execute(f"SELECT key, vector FROM sentences WHERE key IN ({','.join('?' * len(part))})",
                                    part).fetchall()
            out.update({keys[k]: np.frombuffer(v, dtype=np.float32) for k, v in rows})
        return out

    def window(self, doc_id: str, start: int, end: int, before: int = 800, after: int = 1500) -> tuple[int, str]:
        """The document's text around [start, end), rebuilt from its chunks: (offset, text). Gaps between
        chunks become line breaks (what separates chunks), so offsets stay exact."""
        rows = self._db.execute("SELECT text, start, end_ FROM chunks WHERE doc_id=? AND end_>? AND start<? "
                                "ORDER BY start", (doc_id, start - before, end + after)).fetchall()
        if not rows:
            return start, ""
        return assemble([_Span(text, lo, hi) for text, lo, hi in rows])

    def _rows(self, kind: str, key: str, values: Sequence[Any]) -> np.ndarray:
        mask = np.zeros(len(self._ids), dtype=bool)
        for value in values:
            rows = self._postings.get((kind, key, value))
            if rows is not None:
                mask[rows] = True
        return mask

    def _mask(self, filters: Mapping[str, list[Any]]) -> np.ndarray:
        """Rows that match the filters: `index.filters.matches`, computed on posting lists (no loop over rows)."""
        mask = np.ones(len(self._ids), dtype=bool)
        for key, values in filters.items():
            kind = FILTER_KEYS[key]
            if kind == "min":
                mask &= self._years >= values[0]
            elif kind == "max":
                mask &= (self._years <= values[0]) & (self._years != np.iinfo(np.int32).min)
            elif kind == "list":
                mask &= self._rows("in", key, values)
            elif kind == "all":
                for value in values:
                    mask &= self._rows("in", "acteurs", [value])
            else:
                mask &= self._rows("eq", key, values)
        return mask

    def matching(self, filters: Mapping[str, list[Any]]) -> tuple[list[str], int]:
        """(ids of the chunks that match the filters, number of chunks in the index)."""
        with self._lock:
            self._ensure_built()
            rows = np.flatnonzero(self._mask(filters))
            return [self._ids[i] for i in rows], len(self._ids)

    def contains(self, filters: Mapping[str, list[Any]]) -> Any:
        """A test `chunk_id -> bool` for the filters (over this copy)."""
        with self._lock:
            self._ensure_built()
            mask, row = self._mask(filters), self._row
        return lambda chunk_id: (i := row.get(chunk_id)) is not None and bool(mask[i])

    def search(self, query: str, k: int, filters: Mapping[str, list[Any]] | None = None) -> list[ScoredChunk]:
        with self._lock:
            scores = self._scores(query)
            if filters and len(scores):
                scores = np.where(self._mask(filters), scores, 0.0)
            ids = self._ids
        positive = int(np.count_nonzero(scores > 0))
        if not positive or k <= 0:
            return []
        top = min(k, positive)
        best = np.argpartition(-scores, top - 1)[:top] if top < len(scores) else np.arange(len(scores))
        best = best[np.lexsort((best, -scores[best]))]  # by score, then by row: the stable order of before
        best = [i for i in best if scores[i] > 0]
        found = self.chunks_by_id([ids[i] for i in best])
        return [replace(found[ids[i]], score=float(scores[i])) for i in best if ids[i] in found]

    def full_metadata(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Every metadata field of these documents (documents() keeps only filters, facets and the title)."""
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(doc_ids), 500):
            part = list(doc_ids[i:i + 500])
            rows = self._db.execute("SELECT doc_id, metadata FROM chunks WHERE doc_id IN "
                                    f"({','.join('?' * len(part))}) ORDER BY doc_id, start", part).fetchall()
            for doc_id, meta in rows:
                if doc_id not in out:
                    out[doc_id] = json.loads(meta)
        return out

    def documents(self, filters: Mapping[str, list[Any]] | None = None) -> dict[str, dict[str, Any]]:
        """Metadata of every document (one entry per doc id) whose chunks match the filters: the fields that
        filters and facets read, and the title (full_metadata() has the rest)."""
        with self._lock:
            self._ensure_built()
            docs: dict[str, dict[str, Any]] = {}
            rows = np.flatnonzero(self._mask(filters)) if filters else range(len(self._ids))
            for i in rows:
                if self._docs[i] not in docs:
                    docs[self._docs[i]] = self._meta[i]
            return docs

    def chunks_by_id(self, ids: Sequence[str]) -> dict[str, ScoredChunk]:
        """The chunks of this copy with these ids (score 0), in one query."""
        out: dict[str, ScoredChunk] = {}
        for i in range(0, len(ids), 500):
            part = list(ids[i:i + 500])
            rows = self._db.execute("SELECT id, doc_id, text, start, end_, metadata FROM chunks WHERE id IN "
                                    f"({','.join('?' * len(part))})", part).fetchall()
            out.update({r[0]: ScoredChunk(chunk_id=r[0], doc_id=r[1], text=r[2], start=r[3], end=r[4], score=0.0,
                                          metadata=json.loads(r[5])) for r in rows})
        return out


class _Span(NamedTuple):
    text: str
    start: int
    end: int


def _release_free_memory() -> None:
    """Give the memory a rebuild freed back to the system (glibc keeps it otherwise: ~120 MB at 100k chunks)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _trigrams(word: str) -> set[str]:
    padded = f"^{word}$"
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, cut short above `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]
