import shutil
from pathlib import Path

import pytest

from tests.fakes import CountingEmbedder, make_ingestor, make_store
from tests.test_loaders import make_bad_folder

MINI = Path(__file__).parent / "data" / "mini"


def _consistent(ingestor) -> set[str]:
    """Chroma holds exactly the chunk ids the manifest records as done, and nothing is pending."""
    entries = ingestor.manifest.entries()
    assert all(e.state == "done" for e in entries)
    recorded = {cid for e in entries for cid in e.chunk_ids}
    stored = set(ingestor.store.vector._collection.get(include=[])["ids"])
    lexical = {r[0] for r in ingestor.store.lexical._db.execute("SELECT id FROM chunks")}
    assert stored == recorded == lexical
    return stored


@pytest.fixture()
def corpus(tmp_path):
    root = tmp_path / "corpus"
    shutil.copytree(MINI, root)
    return root


def test_first_and_second_run(tmp_path, corpus):
    ing = make_ingestor(tmp_path / "data")
    first = ing.ingest([corpus]).as_dict()
    assert first["documents"] == 4 and first["chunks_added"] > 0 and first["errors"] == []
    embedded = len(ing.embedder.passages)
    second = ing.ingest([corpus]).as_dict()
    assert second == {"documents": 4, "chunks_added": 0, "chunks_removed": 0, "unchanged": 4, "errors": []}
    assert len(ing.embedder.passages) == embedded  # nothing embedded twice
    assert ing.store.vector.document_count() == 4
    _consistent(ing)


def test_changed_document_only_new_chunks_are_embedded(tmp_path, corpus):
    ing = make_ingestor(tmp_path / "data", chunk_size=40)
    ing.ingest([corpus])
    before = _consistent(ing)
    target = corpus / "odd17.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nUne phrase ajoutée à la fin du document.\n",
                      encoding="utf-8")
    ing.embedder.passages.clear()
    report = ing.ingest([corpus]).as_dict()
    assert report["unchanged"] == 3 and report["chunks_added"] >= 1
    # what was embedded: the new chunks, then the sentences of theirs that no earlier chunk had
    sentences = [p for p in ing.embedder.passages if ing.store.lexical.known_sentences([p])]
    chunks = [p for p in ing.embedder.passages if p not in sentences]
    assert len(chunks) == report["chunks_added"] < len(before)
    assert sentences == ["Une phrase ajoutée à la fin du document."]
    _consistent(ing)


def test_removed_file_and_record_are_pruned(tmp_path, corpus):
    ing = make_ingestor(tmp_path / "data")
    ing.ingest([corpus])
    (corpus / "mecenat.md").unlink()
    lines = (corpus / "jardins.jsonl").read_text(encoding="utf-8").splitlines()
    (corpus / "jardins.jsonl").write_text(lines[0] + "\n", encoding="utf-8")
    report = ing.ingest([corpus]).as_dict()
    assert report["documents"] == 2 and report["chunks_removed"] >= 2
    stored = _consistent(ing)
    docs = {m["title"] for m in ing.store.vector._collection.get(ids=list(stored), include=["metadatas"])["metadatas"]}
    assert "Le mécénat de compétences en bref" not in docs and "Tutorat numérique des seniors à Lyon" not in docs


def test_other_roots_are_not_pruned(tmp_path, corpus):
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.md").write_text("# Note à part\n\nUn texte indépendant sur les fondations.", encoding="utf-8")
    ing = make_ingestor(tmp_path / "data")
    ing.ingest([other])
    ing.ingest([corpus])
    assert ing.store.vector.document_count() == 5


def test_interrupted_run_is_completed_by_the_next(tmp_path, corpus):
    data = tmp_path / "data"
    ing = make_ingestor(data, chunk_size=30)
    real_upsert, calls = ing.store.upsert, []

    def upsert_then_die(chunks, vectors):
        real_upsert(chunks, vectors)  # the chunks are written, the manifest not yet updated
        calls.append(len(chunks))
        if len(calls) == 2:
            raise KeyboardInterrupt

    ing.store.upsert = upsert_then_die
    with pytest.raises(KeyboardInterrupt):
        ing.ingest([corpus])
    assert any(e.state == "pending" for e in ing.manifest.entries())
    written = set(ing.store.vector.ids())
    # a new process: new objects over the same data dir
    embedder = CountingEmbedder()
    again = make_ingestor(data, embedder, chunk_size=30, store=make_store(data, embedder))
    report = again.ingest([corpus]).as_dict()
    assert report["documents"] == 4 and report["errors"] == []
    _consistent(again)
    fresh = make_ingestor(tmp_path / "fresh", chunk_size=30)
    fresh.ingest([corpus])
    assert _consistent(again) == _consistent(fresh)
    # what the cut run wrote is kept, not embedded and written again (Chroma can lose a rewritten vector from
    # its search results, chroma-core/chroma#7758)
    assert written and report["chunks_added"] == len(_consistent(fresh)) - len(written)
    every = again.store.vector._collection.get(include=["embeddings"])
    for cid, vector in zip(every["ids"], every["embeddings"], strict=True):
        assert again.store.vector.query(vector, 1)[0].chunk_id == cid  # each chunk is found by its own vector


def _metadata(ingestor) -> dict[str, dict]:
    """Chunk id -> metadata, from Chroma and from the lexical copy (they must agree)."""
    got = ingestor.store.vector._collection.get(include=["metadatas"])
    chroma = {cid: {k: v for k, v in m.items() if k not in ("seq", "doc_id", "start", "end")}
              for cid, m in zip(got["ids"], got["metadatas"], strict=True)}
    lexical = {cid: hit.metadata for cid, hit in ingestor.store.lexical.chunks_by_id(list(chroma)).items()}
    assert chroma == lexical
    return chroma


def test_a_front_matter_edit_rewrites_the_metadata_not_the_vectors(tmp_path, corpus):
    ing = make_ingestor(tmp_path / "data")
    ing.ingest([corpus])
    before = _metadata(ing)
    target = corpus / "mecenat.md"
    text = target.read_text(encoding="utf-8")
    assert "region: National\n" in text and "Bretagne" not in text
    target.write_text(text.replace("region: National\n", "region: Bretagne\n"), encoding="utf-8")
    ing.embedder.passages.clear()
    report = ing.ingest([corpus]).as_dict()
    assert report["chunks_added"] == 0 and report["unchanged"] == 3 and ing.embedder.passages == []
    metadata = _metadata(ing)
    doc = [cid for cid, m in metadata.items() if m.get("title") == "Le mécénat de compétences en bref"]
    assert doc and all(metadata[cid]["region"] == "Bretagne" for cid in doc)
    assert metadata.keys() == before.keys()  # the same chunks, the other documents' metadata untouched
    assert {cid: m for cid, m in metadata.items() if cid not in doc} == \
        {cid: m for cid, m in before.items() if cid not in doc}
    # a filter on the new region finds the document; on the old one, no longer
    assert set(doc) <= set(ing.store.lexical.matching({"region": ["Bretagne"]})[0])
    assert not set(doc) & set(ing.store.lexical.matching({"region": ["National"]})[0])
    fresh = make_ingestor(tmp_path / "fresh")
    fresh.ingest([corpus])
    assert _metadata(fresh) == metadata


def test_a_new_title_is_embedded_again(tmp_path, corpus):
    ing = make_ingestor(tmp_path / "data")
    ing.ingest([corpus])
    target = corpus / "mecenat.md"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("title: Le mécénat de compétences en bref", "title: Le mécénat de compétences"),
                      encoding="utf-8")
    report = ing.ingest([corpus]).as_dict()
    assert report["chunks_added"] > 0
    fresh = make_ingestor(tmp_path / "fresh")
    fresh.ingest([corpus])
    assert _metadata(fresh) == _metadata(ing)
    ids = sorted(_metadata(ing))
    assert ids == sorted(_metadata(fresh))
    mine = ing.store.vector._collection.get(ids=ids, include=["embeddings"])
    theirs = fresh.store.vector._collection.get(ids=ids, include=["embeddings"])
    assert [list(v) for v in mine["embeddings"]] == [list(v) for v in theirs["embeddings"]]


def test_bad_files_do_not_stop_the_rest(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    expected = make_bad_folder(root)
    ing = make_ingestor(tmp_path / "data")
    report = ing.ingest([root]).as_dict()
    assert report["documents"] == 1 and report["chunks_added"] >= 1
    assert {Path(e["path"]).name for e in report["errors"]} == set(expected)
    _consistent(ing)


def test_a_file_that_turns_bad_keeps_its_indexed_version(tmp_path, corpus):
    ing = make_ingestor(tmp_path / "data")
    ing.ingest([corpus])
    (corpus / "mecenat.md").write_bytes(b"\x00\x01binary now")
    report = ing.ingest([corpus]).as_dict()
    assert [Path(e["path"]).name for e in report["errors"]] == ["mecenat.md"]
    assert report["chunks_removed"] == 0 and ing.store.vector.document_count() == 4


def test_changing_the_chunk_size_rechunks_everything(tmp_path, corpus):
    ing = make_ingestor(tmp_path / "data", chunk_size=120)
    ing.ingest([corpus])
    before = _consistent(ing)
    smaller = make_ingestor(tmp_path / "data", ing.embedder, chunk_size=30, store=ing.store.vector)
    report = smaller.ingest([corpus]).as_dict()
    assert report["unchanged"] == 0 and report["chunks_removed"] > 0
    after = _consistent(smaller)
    assert len(after) > len(before)


def test_an_index_without_sentence_vectors_gets_them_on_its_next_ingest(tmp_path, corpus):
    ing = make_ingestor(tmp_path / "data")
    ing.ingest([corpus])
    lexical = ing.store.lexical
    stored = lexical.sentence_count()
    assert stored > 0
    lexical._db.execute("DELETE FROM sentences")  # an index written before sentence vectors existed
    ing.embedder.passages.clear()
    report = ing.ingest([corpus]).as_dict()
    assert report["unchanged"] == 4 and report["chunks_added"] == 0
    assert lexical.sentence_count() == stored and len(ing.embedder.passages) == stored
    ing.embedder.passages.clear()
    ing.ingest([corpus])
    assert ing.embedder.passages == []  # and only once
