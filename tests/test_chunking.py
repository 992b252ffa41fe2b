from pathlib import Path

from ingest.chunking import Chunker, locate, sentence_spans, split_sentences
from ingest.embedding import HashEmbedder
from ingest.loaders import load_file
from ingest.models import SourceDocument

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def test_split_keeps_every_character_and_knows_french():
    text = ("M. Dupont a cité « 1.000 projets ». Le taux atteint 81 % en 2020-2023 ! Mme Durand, etc. "
            "poursuit.\n\nNouveau paragraphe sans point")
    pieces = split_sentences(text)
    assert "".join(pieces) == text
    assert pieces[0] == "M. Dupont a cité « 1.000 projets ». "
    assert pieces[1].startswith("Le taux atteint 81 %")
    assert any(p.startswith("Mme Durand, etc. poursuit.") for p in pieces)
    assert pieces[-1] == "Nouveau paragraphe sans point"


def test_sentence_spans_point_into_the_text():
    text = "  Première phrase ici.   Deuxième phrase là ! "
    spans = list(sentence_spans(text))
    assert [text[a:b] for a, b in spans] == ["Première phrase ici.", "Deuxième phrase là !"]


def test_chunks_have_exact_offsets_and_bounded_size():
    embedder = HashEmbedder()
    chunker = Chunker(embedder, chunk_size=80, chunk_overlap=10)
    docs = [d for p in sorted(SEED.glob("*.txt")) for d in load_file(p)]
    for doc in docs:
        chunks = chunker.chunk(doc)
        assert len(chunks) > 5
        for chunk in chunks:
            assert doc.text[chunk.start:chunk.end] == chunk.text
            assert embedder.count_tokens(chunk.text) <= 80
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        assert len(covered) / len(doc.text.strip()) > 0.95  # nothing of substance is dropped


def test_chunk_ids_are_content_hashes():
    doc = SourceDocument(source="/x.md", text="Une phrase. " * 50, metadata={"title": "X"})
    a = Chunker(HashEmbedder(), 40, 5).chunk(doc)
    b = Chunker(HashEmbedder(), 40, 5).chunk(doc)
    assert [c.id for c in a] == [c.id for c in b]
    changed = SourceDocument(source="/x.md", text="Une phrase. " * 49 + "Autre fin.", metadata={"title": "X"})
    c = Chunker(HashEmbedder(), 40, 5).chunk(changed)
    assert a[0].id == c[0].id and a[-1].id != c[-1].id


def test_locate_tolerates_whitespace():
    assert locate("a  b\nc d", "b c", 0) == (3, 6)
    assert locate("abc", "zzz", 0) is None


def test_markdown_chunks_carry_metadata():
    doc = load_file(Path(__file__).parent / "data" / "mini" / "mecenat.md")[0]
    chunks = Chunker(HashEmbedder(), 40, 5).chunk(doc)
    assert all(c.metadata["doc_type"] == "fiche" for c in chunks)
