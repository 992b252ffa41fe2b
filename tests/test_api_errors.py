"""Every error in one format, `{"error", "message"}`, in the asked language: unknown routes (404), wrong methods
(405), request validation (no pydantic English in a French message), filters, and an unknown region named."""


import pytest
from fastapi.testclient import TestClient

from assistant.api import create_api
from index.filters import REGIONS, FilterError, normalize_filters
from tests.fakes import mini_assistant

# Words of pydantic's own (English) messages that must never reach a French message.
PYDANTIC_ENGLISH = ("Field required", "Input should", "valid ", "String should", "List should", "Extra inputs")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    assistant = mini_assistant(tmp_path_factory.mktemp("api-errors"))
    app = create_api(lambda: assistant)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _error(r, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message"}, body
    return body["message"]


@pytest.mark.parametrize("lang, word", [("fr", "Ressource introuvable"), ("en", "Not found")])
def test_unknown_route_is_404_in_the_asked_language(client, lang, word):
    for path in ("/api/nope", "/api/chat/nope", "/api/"):
        message = _error(client.get(path, params={"lang": lang}), 404)
        assert message.startswith(word) and path in message
    assert client.get("/api/nope", headers={"Accept-Language": "en-GB,en"}).json()["message"].startswith("Not found")


@pytest.mark.parametrize("lang, word", [("fr", "non permise"), ("en", "not allowed")])
def test_wrong_method_is_405_with_allow(client, lang, word):
    r = client.get("/api/chat", params={"lang": lang})
    message = _error(r, 405)
    assert word in message and "POST" in message and r.headers["allow"] == "POST"
    r = client.delete("/api/search", headers={"Accept-Language": lang})
    assert word in _error(r, 405) and "GET" in r.headers["allow"]


@pytest.mark.parametrize("body, fr, en", [
    ({}, "message : champ obligatoire", "message : field required"),
    ({"message": 42}, "message : texte attendu", "message : a string is expected"),
    ({"message": "ok", "history": [{"role": "robot", "content": "x"}]}, "history.0.role : valeur non permise",
     "history.0.role : value not allowed"),
    ({"message": "ok", "history": "non"}, "history : liste attendue", "history : a list is expected"),
    ({"message": "ok", "intrus": 1}, "intrus : champ inconnu", "intrus : unknown field"),
    ({"message": "ok", "detect_filters": "peut-être"}, "detect_filters : booléen attendu",
     "detect_filters : a boolean is expected"),
])
def test_validation_messages_speak_one_language(client, body, fr, en):
    message = _error(client.post("/api/chat", json=body), 422)
    assert message.startswith("Requête invalide") and fr in message, message
    assert not any(word in message for word in PYDANTIC_ENGLISH), message
    message = _error(client.post("/api/chat?lang=en", json=body), 422)
    assert message.startswith("Invalid request") and en in message, message
    assert "champ" not in message and "attendu" not in message


def test_query_validation_in_both_languages(client):
    assert "k : doit être supérieur ou égal à 1" in _error(client.get("/api/search", params={"q": "x", "k": 0}), 422)
    message = _error(client.get("/api/search", params={"q": "x", "k": "beaucoup", "lang": "en"}), 422)
    assert "k : a whole number is expected" in message
    assert "q : champ obligatoire" in _error(client.get("/api/search"), 422)


def test_filter_errors_follow_the_language_of_the_body_and_of_the_query(client):
    body = {"message": "Des exemples ?", "filters": {"pays": "France"}}
    assert _error(client.post("/api/chat", json=body), 422).startswith("Filtre inconnu : « pays »")
    assert _error(client.post("/api/chat", json={**body, "lang": "en"}), 422).startswith("Unknown filter: “pays”")
    assert _error(client.post("/api/chat/stream", json={**body, "lang": "en"}), 422).startswith("Unknown filter")
    r = client.get("/api/search", params={"q": "jardins", "annee": "récent", "lang": "en"})
    assert "must be a year" in _error(r, 422)
    r = client.get("/api/examples", params={"annee_min": ["2019", "2020"]})
    assert "une seule valeur" in _error(r, 422)


@pytest.mark.parametrize("route", ["chat", "search", "examples"])
def test_an_unknown_region_is_named(client, route):
    if route == "chat":
        r = client.post("/api/chat", json={"message": "Des exemples de jardins ?", "filters": {"region": "Atlantide"}})
        r_en = client.post("/api/chat", json={"message": "Garden examples?", "filters": {"region": "Atlantide"},
                                              "lang": "en"})
    else:
        r = client.get(f"/api/{route}", params={"q": "jardins", "region": "Atlantide"})
        r_en = client.get(f"/api/{route}", params={"q": "jardins", "region": "Atlantide", "lang": "en"})
    message = _error(r, 422)
    assert message.startswith("Région inconnue : « Atlantide »") and "Bretagne" in message
    assert _error(r_en, 422).startswith("Unknown region: “Atlantide”")
    assert r.json()["error"] == "invalid_filter"


def test_a_region_is_matched_whatever_its_case_and_accents(client):
    r = client.get("/api/examples", params={"region": "auvergne-rhone-alpes"})
    assert r.status_code == 200 and r.json()["total"] == 1
    assert r.json()["filters"]["applied"]["region"] == ["Auvergne-Rhône-Alpes"]


def test_normalize_filters_regions():
    assert normalize_filters({"region": "ILE DE FRANCE"}) == {"region": ["Île-de-France"]}
    assert normalize_filters({"region": "Wallonie"}) == {"region": ["Wallonie"]}  # no catalogue: not judged
    assert normalize_filters({"region": "Wallonie"}, regions={"Wallonie"}) == {"region": ["Wallonie"]}
    with pytest.raises(FilterError) as caught:
        normalize_filters({"region": ["Bretagne", "Atlantide"]}, regions=set())
    assert caught.value.kind == "unknown_region" and caught.value.params["value"] == "Atlantide"
    assert len(REGIONS) == 15


def test_the_served_app_with_gradio_keeps_the_api_error_format(tmp_path):
    """`seve serve` mounts Gradio at /: an unknown /api address must still get the API's format, not Gradio's."""
    from ui.server import create_app

    assistant = mini_assistant(tmp_path)
    app = create_app(lambda: assistant)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert _error(c.get("/api/nope"), 404).startswith("Ressource introuvable : /api/nope")
        assert _error(c.post("/api/nope/deeper?lang=en"), 404).startswith("Not found: /api/nope/deeper")
        r = c.get("/api/chat", headers={"Accept-Language": "en"})
        assert "not allowed" in _error(r, 405) and r.headers["allow"] == "POST"
        assert c.post("/api/chat", json={"message": "Quelle part des Français souhaitent faire alliance ?"}
                      ).status_code == 200
        docs = c.get("/docs")
        assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
        assert "cdn" not in docs.text.lower() and "http" not in docs.text.split("<body>")[1].split("openapi")[0]
        assert c.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
        assert c.get("/docs-assets/swagger-ui.css").status_code == 200
        assert c.get("/redoc").status_code == 200 and c.get("/docs-assets/redoc.standalone.js").status_code == 200
