from index.filters import normalize_filters
from index.hybrid import rrf
from index.lexical import LexicalIndex, analyze
from index.live import sync_lexical
from index.store import ScoredChunk
from ingest.models import Chunk
from tests.fakes import CountingEmbedder, make_store


def chunk(text, **meta):
    return Chunk(doc_id=f"d-{text[:8]}", text=text, start=0, end=len(text), metadata={"title": "", **meta})


def test_analyzer_folds_stems_and_keeps_figures():
    assert analyze("L’ODD 17 : 81 % des 1 000 acteurs (2020-2023)") == [
        "odd", "17", "81%", "1000", "acteur", "2020-2023", "2020", "2023"]
    assert analyze("Élèves élève eleves") == analyze("eleve eleves élèves")[:1] * 3
    assert analyze("qu'il l'association d’une") == ["associ"]
    assert analyze("3,5 millions") == ["3.5", "million"]
    assert "petr" in analyze("les PETR et les CRTE") and "crte" in analyze("les PETR et les CRTE")


def test_bm25_ranks_persists_and_deletes(tmp_path):
    index = LexicalIndex(tmp_path / "lex.sqlite")
    a = chunk("Le mécénat de compétences met des salariés à disposition des associations.", region="Bretagne")
    b = chunk("Les collectivités animent les projets de territoire avec les associations.", region="Corse")
    c = chunk("Le PETR du Pays de Redon coordonne un CRTE.", region="Bretagne")
    index.upsert([a, b, c])
    assert [h.chunk_id for h in index.search("mécenat des salariés", 3)] == [a.id]
    assert index.search("PETR", 3)[0].chunk_id == c.id
    assert index.search("quelque chose d'absent", 3) == []
    bret = normalize_filters({"region": "Bretagne"})
    assert {h.chunk_id for h in index.search("associations", 5, bret)} == {a.id}
    again = LexicalIndex(tmp_path / "lex.sqlite")  # another process, same file
    assert again.count() == 3 and again.search("PETR", 1)[0].text == c.text
    index.delete([c.id])
    assert again.search("PETR", 3) == []  # sees the other connection's change


def test_backfill_from_chroma(tmp_path):
    embedder = CountingEmbedder()
    store = make_store(tmp_path, embedder)
    chunks = [chunk("Les fondations financent des alliances."), chunk("Le mécénat de compétences.")]
    store.upsert(chunks, embedder.embed_passages([c.text for c in chunks]))
    lexical = LexicalIndex(tmp_path / "lex.sqlite")
    first = sync_lexical(store, lexical)
    assert (first.added, first.full) == (2, True) and lexical.count() == 2
    assert sync_lexical(store, lexical).changed is False
    assert lexical.search("fondations", 1)[0].chunk_id == chunks[0].id


def hit(cid, score=1.0):
    return ScoredChunk(cid, "d", "t", 0, 1, score, {})


def test_rrf_rewards_agreement():
    fused = rrf([[hit("a"), hit("b"), hit("c")], [hit("c"), hit("d"), hit("a")]], k=60, limit=4)
    assert [h.chunk_id for h in fused][:2] in (["a", "c"], ["c", "a"])
    assert {h.chunk_id for h in fused} == {"a", "b", "c", "d"}
    weighted = rrf([[hit("a")], [hit("d")]], weights=[1.0, 2.0])
    assert [h.chunk_id for h in weighted] == ["d", "a"]
