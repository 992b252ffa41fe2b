"""The live index: a lexical copy synced from Chroma (the source of truth) and a watcher that makes another
writer's chunks visible to a serving assistant without a restart (fast: hash embedder, real embedded Chroma)."""

import shutil
from pathlib import Path

import chromadb
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings

from index.hybrid import IndexWriter
from index.lexical import LexicalIndex
from index.live import IndexWatcher, sync_lexical
from index.store import ChromaStore, reopen_embedded
from ingest.embedding import HashEmbedder
from ingest.models import Chunk
from tests.fakes import make_assistant, make_ingestor

MINI = Path(__file__).parent / "data" / "mini"


def chunk(text, doc="d1", start=0, **meta):
    return Chunk(doc, text, start, start + len(text), {"title": doc, **meta})


def store_on(path, embedder, fresh_system=False):
    """A store on the folder; with fresh_system, through its own Chroma system (as another process would be)."""
    if fresh_system:
        SharedSystemClient.clear_system_cache()
    client = chromadb.PersistentClient(str(path), settings=ChromaSettings(anonymized_telemetry=False))
    return ChromaStore(client, "seve", embedder.name, embedder.dim)


def write(store, chunks, embedder):
    store.upsert(chunks, embedder.embed_passages([c.text for c in chunks]))


def test_every_write_raises_the_version_and_stamps_its_chunks(tmp_path):
    emb = HashEmbedder()
    store = store_on(tmp_path / "c", emb)
    assert store.version() == 0
    write(store, [chunk("Les fondations financent des alliances.")], emb)
    assert store.version() == 1
    write(store, [chunk("Le mécénat de compétences.", start=100)], emb)
    assert store.version() == 2
    assert [h.text for page in store.changed_since(1) for h in page] == ["Le mécénat de compétences."]
    store.delete([chunk("Le mécénat de compétences.", start=100).id])
    assert store.version() == 3 and store.count() == 1
    assert "seq" not in store.chunks(store.ids())[0].metadata  # bookkeeping never reaches a citation


def test_sync_fetches_only_what_changed_and_compares_ids_after_deletions(tmp_path):
    emb = HashEmbedder()
    store = store_on(tmp_path / "c", emb)
    a, b, c = chunk("Alliances locales en Bretagne.", region="Bretagne"), chunk("Mécénat de compétences.", "d2"), \
        chunk("Coopération entre collectivités.", "d3")
    write(store, [a, b], emb)
    lexical = LexicalIndex(tmp_path / "lex.sqlite")
    first = sync_lexical(store, lexical)
    assert (first.added, first.full, lexical.count()) == (2, True, 2)
    assert sync_lexical(store, lexical).changed is False  # nothing new: nothing fetched

    write(store, [c], emb)
    step = sync_lexical(store, lexical)
    assert (step.added, step.full) == (1, False)  # only the new chunk, by its version stamp
    assert lexical.search("cooperation collectivites", 1)[0].chunk_id == c.id

    store.delete([a.id])
    gone = sync_lexical(store, lexical)
    assert (gone.removed, gone.full) == (1, True) and lexical.ids() == {b.id, c.id}
    assert lexical.search("Bretagne", 3) == []

    # same id, new metadata (a changed title): the rewrite carries a new stamp and the copy follows
    write(store, [Chunk("d2", b.text, b.start, b.end, {"title": "Nouveau titre", "region": "Occitanie"})], emb)
    sync_lexical(store, lexical)
    assert lexical.documents()["d2"]["region"] == ["Occitanie"] or lexical.documents()["d2"]["region"] == "Occitanie"
    assert lexical.synced_version() == store.version()


def test_a_writer_keeps_its_own_copy_current_without_a_second_fetch(tmp_path):
    emb = HashEmbedder()
    store = store_on(tmp_path / "c", emb)
    lexical = LexicalIndex(tmp_path / "lex.sqlite")
    sync_lexical(store, lexical)
    writer = IndexWriter(store, lexical)
    writer.upsert([chunk("Les fondations financent des alliances.")], emb.embed_passages(["x"]))
    assert lexical.synced_version() == store.version() == 1
    # another writer came between: this copy is no longer marked current, so the next sync fetches
    other = store_on(tmp_path / "c", emb)
    write(other, [chunk("Autre passage écrit ailleurs.", "d9")], emb)
    writer.upsert([chunk("Encore un passage.", "d5")], emb.embed_passages(["y"]))
    assert lexical.synced_version() == 1
    report = sync_lexical(store, lexical)
    assert report.changed and lexical.count() == 3 and lexical.synced_version() == store.version()


def test_a_reader_sees_another_systems_writes_after_a_check(tmp_path):
    """Embedded Chroma keeps its vector index in memory: a second system (another process) writing to the
    folder is invisible to queries until the reader reopens. The watcher does that on a version change."""
    emb = HashEmbedder()
    folder = tmp_path / "data"
    reader_client = reopen_embedded(folder)
    reader = ChromaStore(reader_client, "seve", emb.name, emb.dim, reopen=lambda: reopen_embedded(folder))
    lexical = LexicalIndex(tmp_path / "lex.sqlite")
    write(reader, [chunk("Les fondations financent des alliances.")], emb)
    watcher = IndexWatcher(reader, lexical, interval=3600)
    watcher.check(force=True)

    writer = store_on(folder / "chroma", emb, fresh_system=True)
    new = chunk("Un tiers-lieu agricole en Occitanie réunit des producteurs.", "d2")
    write(writer, [new], emb)
    vector = emb.embed_queries(["tiers-lieu agricole Occitanie producteurs"])[0]
    assert new.id not in {h.chunk_id for h in reader.query(vector, 5)}  # what the issue measured
    assert watcher.check() is None  # within the interval: no check
    report = watcher.check(force=True)
    assert report is not None and report.changed and report.added == 1
    assert reader.query(vector, 1)[0].chunk_id == new.id
    assert lexical.search("tiers-lieu Occitanie", 1)[0].chunk_id == new.id


def test_a_running_assistant_answers_about_documents_ingested_after_it_started(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI, corpus)
    ing = make_ingestor(tmp_path / "d")
    ing.ingest([corpus])
    assistant = make_assistant(tmp_path / "d", ing, index_poll_seconds=0.1)
    assistant.watch()
    try:
        before = assistant.health()
        question = "Que fait la coopérative de réemploi de Valenciennes avec les lycées ?"
        assert not assistant.chat(question).grounded
        (corpus / "nouveau.md").write_text(
            "---\ntitle: Réemploi à Valenciennes\n---\n# Réemploi\n\nÀ Valenciennes, une coopérative de réemploi "
            "forme les élèves des lycées professionnels à la réparation des vélos.\n", encoding="utf-8")
        # a second ingestor: its own Chroma system, as `seve ingest` in another process
        SharedSystemClient.clear_system_cache()
        make_ingestor(tmp_path / "d").ingest([corpus])
        import time

        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and assistant.health()["documents"] == before["documents"]:
            time.sleep(0.05)
        assert assistant.health()["documents"] == before["documents"] + 1
        answer = assistant.chat(question)
        assert answer.grounded and "Valenciennes" in answer.answer
        assert any(c.chunk.metadata.get("title") == "Réemploi à Valenciennes" for c in answer.citations)
    finally:
        assistant.close()


def test_filter_masks_match_the_python_semantics_and_dense_filtering_agrees_with_chroma(tmp_path):
    """The posting-list masks (lexical copy) select exactly what index.filters.matches selects, and dense search
    under filters (ids or post-filtering) returns what Chroma's own `where` returns."""
    import itertools

    from evals.generate_examples import write as write_examples
    from index.filters import matches, normalize_filters, to_where
    from index.retrieval import Retriever

    write_examples(tmp_path / "ex" / "exemples.jsonl", 60, seed=3)
    ing = make_ingestor(tmp_path / "d")
    ing.ingest([tmp_path / "ex", MINI])
    store, lexical = ing.store.vector, ing.store.lexical
    metas = {h.chunk_id: h.metadata for h in store.chunks(store.ids())}
    cases = [{"region": "Bretagne"}, {"acteurs": ["fondation", "académique"]}, {"acteurs_tous": ["association",
             "fondation"]}, {"annee_min": 2015}, {"annee_max": 2012}, {"annee": 2020}, {"doc_type": "exemple"},
             {"domaine": "Sport", "acteurs": "entreprise"}, {"region": "Atlantide"}]
    cases += [{**a, **b} for a, b in itertools.combinations(cases[:4], 2)]
    emb = ing.embedder
    retriever = Retriever(store, emb, lexical, mode="dense")
    store.local = lexical
    for raw in cases:
        flt = normalize_filters(raw)
        expected = {cid for cid, meta in metas.items() if matches(meta, flt)}
        ids, total = lexical.matching(flt)
        assert set(ids) == expected and total == len(metas), raw
        vector = emb.embed_queries(["alliance entre association et fondation pour les jeunes"])[0]
        k = 8
        mine = [h.chunk_id for h in retriever._dense(vector, k, flt)]
        theirs = [h.chunk_id for h in store.query(vector, k, to_where(flt))] if expected else []
        assert mine == theirs, raw


def test_reopening_while_queries_run_loses_none_and_closes_the_old_index(tmp_path):
    """The watcher reopens the embedded vector index while requests query it: no query fails, and the old
    client's system is stopped once its queries end (else every reopening kept a copy of the index in memory)."""
    import threading

    from index.store import embedded_system

    emb = HashEmbedder()
    folder = tmp_path / "data"
    store = ChromaStore(reopen_embedded(folder), "seve", emb.name, emb.dim, reopen=lambda: reopen_embedded(folder))
    chunks = [chunk(f"Passage numéro {i} sur les alliances locales et le mécénat.", f"d{i}") for i in range(40)]
    write(store, chunks, emb)
    vector = emb.embed_queries(["alliances locales mécénat"])[0]
    errors, done = [], threading.Event()

    def ask() -> None:
        while not done.is_set():
            try:
                assert len(store.query(vector, 5)) == 5
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    from chromadb.api.rust import RustBindingsAPI

    stopped = []
    for _ in range(8):
        old = embedded_system(store._client)
        assert old is not None  # this store is the only client of its system
        api = old.instance(RustBindingsAPI)
        store.refresh()
        stopped.append(not hasattr(api, "bindings"))  # RustBindingsAPI.stop() drops its bindings
    done.set()
    for t in threads:
        t.join()
    assert errors == []
    assert all(stopped)
