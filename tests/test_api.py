import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_api
from tests.fakes import make_assistant, make_ingestor

MINI = Path(__file__).parent / "data" / "mini"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    shutil.copytree(MINI, tmp / "c")
    ing = make_ingestor(tmp / "d")
    ing.ingest([tmp / "c"])
    assistant = make_assistant(tmp / "d", ing)
    app = create_api(lambda: assistant)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_health(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["documents"] == 4 and body["chunks"] >= 4
    assert body["answer_mode"] == "extractive" and body["embedding_model"]


def test_chat_contract(client):
    r = client.post("/api/chat", json={"message": "Quelle part des Français souhaitent faire alliance ?"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"answer", "citations", "grounded", "standalone_question", "mode", "filters", "answer_type",
                         "fallback_reason"}
    assert body["mode"] == "extractive" and body["fallback_reason"] is None
    assert body["grounded"] and body["mode"] == "extractive" and "81 %" in body["answer"]
    c = body["citations"][0]
    assert set(c) == {"n", "doc_id", "chunk_id", "title", "doc_type", "url", "source", "link", "snippet", "start",
                      "end", "score", "metadata"}
    assert c["n"] == 1 and f"[{c['n']}]" in body["answer"]
    # the source is a file name, never a server path; the link is absolute and opens the cited span
    assert c["source"] == "odd17.txt" and "path" not in c["metadata"] and "source" not in c["metadata"]
    assert c["link"] == f"http://testserver/sources/{c['doc_id']}?start={c['start']}&end={c['end']}#cite"
    text = (MINI / "odd17.txt").read_text(encoding="utf-8").strip("\n")
    assert "81 %" in text[c["start"]:c["end"]]


def test_chat_with_history_and_filters(client):
    r = client.post("/api/chat", json={
        "message": "Et les seniors ?",
        "history": [{"role": "user", "content": "Des exemples de tutorat numérique ?"},
                    {"role": "assistant", "content": "..."}],
        "filters": {"region": "Auvergne-Rhône-Alpes"}})
    body = r.json()
    assert r.status_code == 200 and body["standalone_question"].startswith("Des exemples de tutorat")
    assert all(c["metadata"]["region"] == "Auvergne-Rhône-Alpes" for c in body["citations"])


def test_refusal_in_french_and_english(client):
    body = client.post("/api/chat", json={"message": "Quelle est la météo prévue demain à Tokyo ?"}).json()
    assert body["grounded"] is False and body["answer"].startswith("Je ne trouve pas")
    body = client.post("/api/chat", json={"message": "Météo prévue demain à Tokyo ?", "lang": "en"}).json()
    assert body["answer"].startswith("I cannot find")
    body = client.post("/api/chat", json={"message": "Météo prévue demain à Tokyo ?"},
                       headers={"Accept-Language": "en-GB,en;q=0.9"}).json()
    assert body["answer"].startswith("I cannot find")


def test_search(client):
    r = client.get("/api/search", params={"q": "jardins partagés", "k": 3})
    results = r.json()["results"]
    assert r.status_code == 200 and 1 <= len(results) <= 3
    assert [x["n"] for x in results] == list(range(1, len(results) + 1))
    assert results[0]["title"] == "Jardins partagés du quartier des Tilleuls"
    r = client.get("/api/search", params=[("q", "alliances"), ("doc_type", "exemple"), ("acteurs", "fondation")])
    assert r.status_code == 200
    assert all(x["doc_type"] == "exemple" and "fondation" in x["metadata"]["acteurs"] for x in r.json()["results"])


def test_stream(client):
    question = {"message": "Quelle part des Français veut faire alliance ?"}
    with client.stream("POST", "/api/chat/stream", json=question) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        raw = "".join(r.iter_text())
    events = [(b.split("\n")[0][7:], json.loads(b.split("\n")[1][6:])) for b in raw.strip().split("\n\n")]
    names = [e for e, _ in events]
    assert names[0] == "citations" and names[-1] == "done" and "token" in names
    done = events[-1][1]
    assert "".join(d["text"] for e, d in events if e == "token").strip() == done["answer"]
    # bad input is an HTTP error before the stream starts, in the one error format
    with client.stream("POST", "/api/chat/stream", json={"message": "x", "filters": {"pays": "FR"}}) as r:
        r.read()
    assert r.status_code == 422 and r.json()["error"] == "invalid_filter" and "inconnu" in r.json()["message"]


@pytest.mark.parametrize("kwargs, status, word", [
    ({"json": {"message": ""}}, 422, "vide"),
    ({"json": {"message": "   "}}, 422, "vide"),
    ({"json": {"message": "x" * 5000}}, 422, "trop longue"),
    ({"json": {"message": "ok ?", "filters": {"pays": "France"}}}, 422, "Filtre inconnu"),
    ({"json": {"message": "ok ?", "filters": {"annee": "récent"}}}, 422, "année"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON valide"),
    ({"json": {"history": []}}, 422, "message"),
    ({"json": {"message": "ok", "history": [{"role": "robot", "content": "x"}]}}, 422, "role"),
    ({"json": {"message": 42}}, 422, "message"),
])
def test_bad_chat_input_gets_a_clear_4xx(client, kwargs, status, word):
    r = client.post("/api/chat", **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message"} and word in body["message"]


def test_bad_search_input(client):
    assert client.get("/api/search").status_code == 422
    r = client.get("/api/search", params={"q": "x", "couleur": "bleu"})
    assert r.status_code == 422 and "Filtre inconnu" in r.json()["message"]
    assert client.get("/api/search", params={"q": "x", "k": 0}).status_code == 422
    assert client.get("/api/search", params={"q": " "}).status_code == 422
    r = client.get("/api/nowhere")
    assert r.status_code == 404 and r.json()["message"].startswith("Ressource introuvable : /api/nowhere.")


def test_openapi_documents_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/health", "/api/chat", "/api/chat/stream", "/api/search"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_examples_finder(client):
    r = client.get("/api/examples")
    body = r.json()
    assert r.status_code == 200 and body["total"] == 2 and len(body["results"]) == 2
    assert body["facets"]["region"] == {"Auvergne-Rhône-Alpes": 1, "Bretagne": 1}
    assert body["results"][0]["annee"] == 2021  # most recent first without a query
    r = client.get("/api/examples", params={"q": "jardins en Bretagne"})
    body = r.json()
    assert body["filters"]["detected"] == {"region": ["Bretagne"]} and body["total"] == 1
    card = body["results"][0]
    assert card["title"] == "Jardins partagés du quartier des Tilleuls" and card["territoire"] is None
    assert card["partenaires"] and card["acteurs"] == ["association", "collectivité", "entreprise"]
    assert card["resume"].startswith("Une commune")
    r = client.get("/api/examples", params={"acteurs": "fondation"})
    assert [c["record_id"] for c in r.json()["results"]] == ["T-002"]
    r = client.get("/api/examples", params={"q": "jardins en Corse"})
    assert r.json()["filters"]["relaxed"] is True and r.json()["results"]
    assert client.get("/api/examples", params={"pays": "x"}).status_code == 422
