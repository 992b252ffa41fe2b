"""A live index: the Chroma collection is the source of truth, the lexical index a local copy derived from it.

Every write to the collection raises its `index_version` (index.store). `sync_lexical` brings a lexical copy
to the collection's version: the chunks written since the version it last saw, then — when the counts still
differ (deletions, or writes it could not order) — a comparison of every id. `IndexWatcher` does this in a
serving process, at most once per interval, and also refreshes the collection handle (in embedded mode the
vector index is reopened: another process's writes are on disk, not in this process's memory).

So any number of `seve serve` processes pointed at one `chroma run` server answer from the same chunks, and a
running server sees what `seve ingest` wrote, within about a second, without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from index.store import ScoredChunk
from ingest.models import Chunk

log = logging.getLogger("seve.index")


class SourceOfTruth(Protocol):
    def version(self) -> int: ...

    def count(self) -> int: ...

    def ids(self) -> list[str]: ...

    def chunks(self, ids: Sequence[str]) -> list[ScoredChunk]: ...

    def changed_since(self, version: int) -> Any: ...

    def refresh(self) -> None: ...


@dataclass(frozen=True)
class SyncReport:
    version: int
    added: int = 0
    removed: int = 0
    full: bool = False
    changed: bool = False


def as_chunk(hit: ScoredChunk) -> Chunk:
    return Chunk(doc_id=hit.doc_id, text=hit.text, start=hit.start, end=hit.end, metadata=hit.metadata)


def sync_lexical(store: SourceOfTruth, lexical: Any) -> SyncReport:
    """Bring `lexical` to the collection's current version (a no-op when it is there)."""
    version = store.version()
    synced = lexical.synced_version()
    if synced == version and lexical.count() == store.count():
        return SyncReport(version)
    added = removed = 0
    full = synced is None
    if not full:
        for page in store.changed_since(synced):
            lexical.upsert([as_chunk(h) for h in page])
            added += len(page)
        full = lexical.count() != store.count()
    if full:
        remote = store.ids()
        local = lexical.ids()
        gone = sorted(local.difference(remote))
        if gone:
            lexical.delete(gone)
            removed = len(gone)
        new = [i for i in remote if i not in local]
        for i in range(0, len(new), 1000):
            lexical.upsert([as_chunk(h) for h in store.chunks(new[i:i + 1000])])
        added += len(new)
    lexical.set_synced_version(version)
    return SyncReport(version, added, removed, full, changed=True)


class IndexWatcher:
    """Keeps a serving process's view current: checks the collection's version at most every `interval`
    seconds; on a change, refreshes the store's handle, syncs the lexical copy and calls `on_change`.

    `check()` may be called on the request path (it is cheap when nothing changed); `start()` runs the check
    in a daemon thread instead, so requests never wait for a sync.
    """

    def __init__(self, store: SourceOfTruth, lexical: Any | None, interval: float = 1.0,
                 on_change: Callable[[SyncReport], None] | None = None) -> None:
        self.store = store
        self.lexical = lexical
        self.interval = interval
        self.on_change = on_change
        self.seen: int | None = None
        self.chunks = 0  # the collection's size at the last check
        self.last_error: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self, force: bool = False) -> SyncReport | None:
        """Refresh when the collection changed; None when it was checked less than `interval` ago."""
        now = time.monotonic()
        if not force and now - self._checked < self.interval:
            return None
        if not self._lock.acquire(blocking=force):
            return None  # another thread is checking
        try:
            self._checked = time.monotonic()
            version = self.store.version()
            if version == self.seen:
                return SyncReport(version)
            self.chunks = self.store.count()
            first = self.seen is None
            if not first:
                self.store.refresh()
            report = sync_lexical(self.store, self.lexical) if self.lexical is not None else SyncReport(version)
            self.seen = version
            self.chunks = self.store.count()
            self.last_error = None
            if not first and self.on_change is not None:
                self.on_change(report)
            if report.changed:
                log.info("index version %s: +%d / -%d chunks%s", version, report.added, report.removed,
                         " (full comparison)" if report.full else "")
            return report
        finally:
            self._lock.release()

    @property
    def running(self) -> bool:
        """Whether the background thread checks (then requests need not)."""
        return self._thread is not None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check(force=True)
            except Exception as exc:  # a Chroma server that restarts: keep serving what we have, retry
                if str(exc) != self.last_error:
                    log.warning("index check failed, retrying: %s", exc)
                self.last_error = str(exc)

    def start(self) -> IndexWatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="seve-index-watcher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
