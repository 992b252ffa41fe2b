"""One contract suite for the chunk store, run against embedded Chroma and a real `chroma run` server."""

import shutil
from pathlib import Path

import pytest

from index.filters import matches, normalize_filters
from index.retrieval import Retriever
from index.store import ChromaStore, StoreError, make_client
from tests.fakes import CountingEmbedder, make_ingestor
from tests.servers import chroma_server

MINI = Path(__file__).parent / "data" / "mini"


@pytest.fixture(scope="module", params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def backend(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        yield lambda name: make_client(root, None)
    else:
        with chroma_server(root / "chroma-server") as url:
            yield lambda name: make_client(root, url)


@pytest.fixture()
def setup(backend, tmp_path, request):
    embedder = CountingEmbedder()
    name = "c" + request.node.name.replace("[", "-").replace("]", "")[:40]
    store = ChromaStore(backend(name), name, embedder.name, embedder.dim)
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI, corpus)
    ingestor = make_ingestor(tmp_path / "data", embedder, store=store)
    return ingestor, corpus


def test_ingest_query_filter_and_prune(setup):
    ing, corpus = setup
    report = ing.ingest([corpus]).as_dict()
    assert report["documents"] == 4 and report["errors"] == []
    retriever = Retriever(ing.store.vector, ing.embedder)
    hits = retriever.retrieve("jardins partagés familles", 3)
    assert hits[0].metadata["title"] == "Jardins partagés du quartier des Tilleuls"
    assert hits == sorted(hits, key=lambda h: -h.score)
    f = {"acteurs": "fondation"}
    assert all(matches(h.metadata, normalize_filters(f)) for h in retriever.retrieve("alliances", 10, f))
    (corpus / "odd17.txt").unlink()
    assert ing.ingest([corpus]).chunks_removed >= 1
    assert ing.store.vector.document_count() == 3
    assert all(h.metadata["title"] != "L'ODD 17 en quelques repères" for h in retriever.retrieve("ODD 17", 10))


def test_model_mismatch_is_refused(setup, backend):
    ing, _ = setup
    name = ing.store.vector._collection.name
    with pytest.raises(StoreError, match="construit avec le modèle"):
        ChromaStore(backend(name), name, "un-autre-modele", 384)


def test_unreachable_server_is_a_clear_error(tmp_path):
    from tests.servers import free_port

    with pytest.raises(StoreError, match="injoignable"):
        make_client(tmp_path, f"http://127.0.0.1:{free_port()}")
