"""Partner keys, the gate (401 / 403 / 429 with Retry-After), CORS per key, quotas in memory and on a real
Redis shared by two API apps, the source view, and no server path in any response."""

import json
import logging
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant import partners
from assistant.api import create_api
from assistant.cli import main
from assistant.partners import Gate, KeyStore, Quotas, normalize_origin
from tests.fakes import make_assistant, make_ingestor
from tests.servers import redis_server

MINI = Path(__file__).parent / "data" / "mini"
PARTNER = "https://partenaire.example"
OTHER = "https://autre-site.example"
QUESTION = {"message": "Quelle part des Français souhaitent faire alliance ?"}

HOSTILE = """---
title: "Fiche <img src=x onerror=alert(1)> piégée"
doc_type: fiche
url: "javascript:alert(document.domain)"
---
# Une fiche piégée

Le partenariat piégé réunit une association et une entreprise. <script>window.__xss = 1</script>
Voir [ce lien](javascript:alert(1)) et <img src=x onerror="window.__xss=2">.
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("partners")
    shutil.copytree(MINI, tmp / "c")
    (tmp / "c" / "piege.md").write_text(HOSTILE, encoding="utf-8")
    ing = make_ingestor(tmp / "d")
    ing.ingest([tmp / "c"])
    return tmp, make_assistant(tmp / "d", ing)


@pytest.fixture()
def keys(tmp_path, monkeypatch):
    monkeypatch.setattr(partners, "CACHE_SECONDS", 0.0)  # every lookup reads the file (cross-process behaviour)
    store = KeyStore(tmp_path / "partners.sqlite3")
    yield store
    store.close()


def client_for(world, gate: Gate) -> TestClient:
    _, assistant = world
    return TestClient(create_api(lambda: assistant, gate), raise_server_exceptions=False)


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize("raw, expected", [
    ("https://Site.Example/", "https://site.example"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("https://site.example:443", "https://site.example"),
    ("http://[::1]:9000", "http://[::1]:9000"),
])
def test_origins_are_normalised(raw, expected):
    assert normalize_origin(raw) == expected


@pytest.mark.parametrize("raw", ["site.example", "ftp://site.example", "https://site.example/page",
                                 "https://site.example?x=1", "https://user:pw@site.example", "https://", "*"])
def test_bad_origins_are_refused_in_french(raw):
    with pytest.raises(ValueError, match="origine invalide"):
        normalize_origin(raw)


def test_keys_are_shared_through_the_database_file(keys, tmp_path):
    key = keys.create("Réseau Alpha", [PARTNER, PARTNER + "/"], per_minute=5, per_day=100)
    assert key.key.startswith("pk_") and len(key.key) > 30 and key.origins == (PARTNER,)
    other_process = KeyStore(tmp_path / "partners.sqlite3")  # another API process on the same volume
    assert other_process.get(key.key) == key
    assert keys.revoke("Réseau Alpha")[0].key == key.key
    assert other_process.get(key.key) is None and keys.get(key.key) is None
    assert [k.active for k in other_process.all()] == [False] and other_process.all(include_revoked=False) == []
    with pytest.raises(ValueError, match="au moins une origine"):
        keys.create("x", [], 1, 1)
    with pytest.raises(ValueError, match="entiers positifs"):
        keys.create("x", [PARTNER], 0, 5)


def test_cli_keys_create_list_revoke(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path)]
    assert main(["keys", "create", "--name", "Alpha", "--origin", PARTNER, "--origin", "http://localhost:3000",
                 "--per-minute", "7", "--per-day", "70", "--json", *data]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["key"].startswith("pk_") and created["origins"] == [PARTNER, "http://localhost:3000"]
    assert (created["per_minute"], created["per_day"], created["active"]) == (7, 70, True)
    assert (tmp_path / "partners.sqlite3").is_file()
    assert main(["keys", "list", "--json", *data]) == 0
    assert [k["key"] for k in json.loads(capsys.readouterr().out)] == [created["key"]]
    assert main(["keys", "revoke", created["key"], *data]) == 0
    assert "Révoquée" in capsys.readouterr().out
    assert main(["keys", "list", "--json", *data]) == 0 and json.loads(capsys.readouterr().out) == []
    assert main(["keys", "revoke", created["key"], *data]) == 1
    assert "aucune clé active" in capsys.readouterr().err
    assert main(["keys", "create", "--name", "B", "--origin", "site.example", *data]) == 1
    assert "origine invalide" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["keys", "create", "--name", "B", "--origin", PARTNER, "--per-day", "-3", *data])


# --------------------------------------------------------------------------- the 401 / 403 / 429 matrix


def test_gate_matrix(world, keys):
    good = keys.create("Alpha", [PARTNER], per_minute=100, per_day=1000).key
    revoked = keys.create("Beta", [PARTNER], per_minute=100, per_day=1000).key
    keys.revoke(revoked)
    gate = Gate(keys, Quotas(), open_origins=frozenset({"https://ouvert.example"}))
    cases = [  # (headers, status, error code)
        ({}, 200, None),  # a script or a server, not a browser page
        ({"Origin": "http://testserver"}, 200, None),  # Sève's own pages (/widget/)
        ({"Origin": OTHER}, 403, "origin_not_open"),
        ({"Origin": "https://ouvert.example"}, 200, None),  # listed in SEVE_CORS_ORIGINS
        ({"X-Seve-Key": good, "Origin": PARTNER}, 200, None),
        ({"X-Seve-Key": good}, 200, None),
        ({"X-Seve-Key": good, "Origin": OTHER}, 403, "origin_not_allowed"),
        ({"X-Seve-Key": good, "Origin": "null"}, 403, "origin_not_allowed"),
        ({"X-Seve-Key": revoked, "Origin": PARTNER}, 401, "invalid_key"),
        ({"X-Seve-Key": "pk_inconnue", "Origin": PARTNER}, 401, "invalid_key"),
    ]
    with client_for(world, gate) as client:
        for headers, status, code in cases:
            for method, url, body in (("POST", "/api/chat", QUESTION), ("POST", "/api/chat/stream", QUESTION),
                                      ("GET", "/api/search?q=alliance", None), ("GET", "/api/examples", None)):
                r = client.request(method, url, json=body, headers=headers)
                assert r.status_code == status, (headers, url, r.text)
                if code:
                    assert r.json()["error"] == code and r.json()["message"]
        # the health check and the source pages stay public
        assert client.get("/api/health", headers={"Origin": OTHER}).status_code == 200


def test_required_keys(world, keys):
    good = keys.create("Alpha", [PARTNER], per_minute=100, per_day=1000).key
    with client_for(world, Gate(keys, Quotas(), require_key=True)) as client:
        for headers in ({}, {"Origin": "http://testserver"}, {"Origin": PARTNER}):
            r = client.post("/api/chat", json=QUESTION, headers=headers)
            assert r.status_code == 401 and r.json()["error"] == "key_required"
            assert "clé de partenaire" in r.json()["message"]
        r = client.get("/api/search", params={"q": "alliance", "lang": "en"})
        assert r.status_code == 401 and "partner key is required" in r.json()["message"]
        assert client.post("/api/chat", json=QUESTION, headers={"X-Seve-Key": good, "Origin": PARTNER}).status_code \
            == 200
        assert client.get("/api/health").status_code == 200


def test_errors_speak_the_asked_language(world, keys):
    good = keys.create("Alpha", [PARTNER], per_minute=100, per_day=1000).key
    with client_for(world, Gate(keys, Quotas())) as client:
        fr = client.post("/api/chat", json=QUESTION, headers={"X-Seve-Key": good, "Origin": OTHER}).json()
        en = client.post("/api/chat", json=QUESTION, headers={"X-Seve-Key": good, "Origin": OTHER,
                                                              "Accept-Language": "en-GB,en"}).json()
    assert fr == {"error": "origin_not_allowed",
                  "message": f"Cette clé de partenaire n'est pas autorisée sur le site {OTHER}."}
    assert en["message"] == f"This partner key is not allowed on the site {OTHER}."


def test_quota_per_minute_and_per_day(world, keys):
    per_minute = keys.create("Alpha", [PARTNER], per_minute=3, per_day=1000).key
    per_day = keys.create("Beta", [PARTNER], per_minute=100, per_day=2).key
    with client_for(world, Gate(keys, Quotas())) as client:
        statuses = [client.get("/api/search", params={"q": "alliance"},
                               headers={"X-Seve-Key": per_minute, "Origin": PARTNER}) for _ in range(5)]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
        limited = statuses[3]
        assert limited.json()["error"] == "quota_exceeded"
        wait = int(limited.headers["Retry-After"])
        assert 1 <= wait <= 60 and f"{wait} s" in limited.json()["message"]
        # the page can read the refusal and its Retry-After (CORS), so the widget can say it kindly
        assert limited.headers["Access-Control-Allow-Origin"] == PARTNER
        assert "Retry-After" in limited.headers["Access-Control-Expose-Headers"]
        daily = [client.post("/api/chat", json=QUESTION, headers={"X-Seve-Key": per_day}) for _ in range(3)]
        assert [r.status_code for r in daily] == [200, 200, 429]
        assert 60 < int(daily[2].headers["Retry-After"]) <= 86400
        # another key is not affected by the first one's quota
        assert client.get("/api/search", params={"q": "x"}, headers={"X-Seve-Key": per_day}).status_code == 429
        fresh = keys.create("Gamma", [PARTNER], per_minute=3, per_day=10).key
        assert client.get("/api/search", params={"q": "x"}, headers={"X-Seve-Key": fresh}).status_code == 200


def test_anonymous_quota_per_client(world, keys):
    with client_for(world, Gate(keys, Quotas(), anonymous_per_minute=2)) as client:
        codes = [client.get("/api/search", params={"q": "alliance"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_cors_answers_per_key(world, keys):
    good = keys.create("Alpha", [PARTNER], per_minute=100, per_day=1000).key
    with client_for(world, Gate(keys, Quotas())) as client:
        pre = client.options("/api/chat/stream", headers={
            "Origin": PARTNER, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-seve-key"})
        assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == PARTNER
        assert "X-Seve-Key" in pre.headers["Access-Control-Allow-Headers"]
        ok = client.post("/api/chat", json=QUESTION, headers={"X-Seve-Key": good, "Origin": PARTNER})
        assert ok.headers["Access-Control-Allow-Origin"] == PARTNER and "Origin" in ok.headers["Vary"]
        # a page of another site gets no readable answer from a key-less or a foreign key's route
        health = client.get("/api/health", headers={"Origin": OTHER})
        assert "Access-Control-Allow-Origin" not in health.headers
        stream = client.post("/api/chat/stream", json=QUESTION, headers={"X-Seve-Key": good, "Origin": PARTNER})
        assert stream.status_code == 200 and stream.headers["Access-Control-Allow-Origin"] == PARTNER
        assert "event: done" in stream.text


# --------------------------------------------------------------------------- Redis: quotas shared by two processes


def test_quotas_on_a_real_redis_are_shared_between_api_processes(world, keys, tmp_path):
    key = keys.create("Alpha", [PARTNER], per_minute=4, per_day=1000).key
    headers = {"X-Seve-Key": key, "Origin": PARTNER}
    with redis_server(tmp_path / "redis") as url:
        # two apps, each with its own key store connection and its own Redis connection, as two processes have
        other_keys = KeyStore(keys.path)
        with client_for(world, Gate(keys, Quotas(url))) as first, \
                client_for(world, Gate(other_keys, Quotas(url))) as second:
            codes = [c.get("/api/search", params={"q": "alliance"}, headers=headers).status_code
                     for c in (first, second, first, second, first, second)]
            assert codes == [200, 200, 200, 200, 429, 429]
            assert 1 <= int(second.get("/api/search", params={"q": "x"}, headers=headers).headers["Retry-After"]) \
                <= 60
        other_keys.close()


def test_a_redis_outage_lets_requests_through(world, keys, tmp_path, caplog):
    key = keys.create("Alpha", [PARTNER], per_minute=1, per_day=1000).key
    with redis_server(tmp_path / "redis") as url:
        pass  # stopped: nothing listens there any more
    with client_for(world, Gate(keys, Quotas(url + "?socket_timeout=0.5&socket_connect_timeout=0.5"))) as client, \
            caplog.at_level(logging.WARNING, logger="seve"):
        codes = [client.get("/api/search", params={"q": "alliance"}, headers={"X-Seve-Key": key}).status_code
                 for _ in range(2)]
    assert codes == [200, 200]
    assert "rate limit storage unavailable" in caplog.text


# --------------------------------------------------------------------------- sources that open, no server paths


def test_citations_open_the_source_view_with_the_span_highlighted(world):
    _, assistant = world
    with TestClient(create_api(lambda: assistant)) as client:
        c = client.post("/api/chat", json=QUESTION).json()["citations"][0]
        assert c["link"].startswith("http://testserver/sources/")
        page = client.get(c["link"].removeprefix("http://testserver"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none': no script at all
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    html = page.text
    assert "<title>L&#x27;ODD 17 en quelques repères — Sève</title>" in html
    marked = html.split('<mark id="cite"', 1)[1].split("</mark>", 1)[0]
    assert "81 %" in marked
    text = (MINI / "odd17.txt").read_text(encoding="utf-8").strip("\n")
    assert text[c["start"]:c["end"]] in html


def test_source_view_errors_and_bad_offsets(world):
    _, assistant = world
    with TestClient(create_api(lambda: assistant)) as client:
        missing = client.get("/sources/0123456789abcdef01234567")
        assert missing.status_code == 404 and "Document introuvable" in missing.text
        assert "Document not found" in client.get("/sources/nope?lang=en").text
        doc_id = client.post("/api/chat", json=QUESTION).json()["citations"][0]["doc_id"]
        for query in ("?start=-5&end=10", "?start=abc&end=9", "?start=50&end=10", "?start=0&end=99999999999999"):
            page = client.get(f"/sources/{doc_id}{query}")
            assert page.status_code == 200 and "81 %" in page.text
        huge = client.get(f"/sources/{doc_id}?start=0&end=99999999")
        assert '<mark id="cite"' in huge.text


def test_hostile_documents_are_shown_inert(world):
    _, assistant = world
    with TestClient(create_api(lambda: assistant)) as client:
        hits = client.get("/api/search", params={"q": "partenariat piégé"}).json()["results"]
        hit = next(h for h in hits if "piégée" in h["title"])
        assert hit["url"] is None  # javascript: is not an address
        page = client.get(hit["link"].removeprefix("http://testserver")).text
    assert "<script" not in page and "<img" not in page  # only escaped text
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="javascript:' not in page


def test_no_server_path_in_any_response(world):
    tmp, assistant = world
    secrets = [str(tmp), str(tmp.resolve()), "/tmp/", str(Path.home())]
    with TestClient(create_api(lambda: assistant)) as client:
        bodies = [client.get("/api/health").text,
                  client.post("/api/chat", json=QUESTION).text,
                  client.post("/api/chat", json={"message": "Des exemples de jardins partagés ?"}).text,
                  client.post("/api/chat/stream", json=QUESTION).text,
                  client.get("/api/search", params={"q": "jardins partagés"}).text,
                  client.get("/api/examples", params={"q": "jardins"}).text,
                  client.get("/api/examples").text]
        examples = client.get("/api/examples").json()["results"]
    assert examples and all(card["source"] == "jardins.jsonl#" + card["record_id"] for card in examples)
    assert all(card["link"].startswith("http://testserver/sources/") for card in examples)
    for body in bodies:
        for secret in secrets:
            assert secret not in body


def test_a_malformed_host_header_is_not_a_server_error(world, keys):
    with client_for(world, Gate(keys, Quotas())) as client:
        r = client.get("/api/search", params={"q": "alliance"}, headers={"Host": "exa mple:port", "Origin": OTHER})
    assert r.status_code == 403 and r.json()["error"] == "origin_not_open"


def test_source_view_shows_markdown_headings_and_bold_not_markup():
    from assistant.sources import SourceView, render_source_page

    text = "# Titre <b>x</b>\n\nLe **mécénat** aide. Un ** seul.\n## Suite **forte**"
    lo = text.index("écénat")
    page = render_source_page(SourceView("d1", text, 0, {"title": "T", "source": "/srv/c/fiche.md"}), lo,
                              lo + len("écénat** aide."))
    body = page.split('<div class="doc">', 1)[1]
    assert body.startswith('<span class="h1">Titre &lt;b&gt;x&lt;/b&gt;</span>')
    # the highlight cuts the bold span: tags are closed and reopened around it, so they nest
    assert '<strong>m</strong><mark id="cite" aria-label="Passage cité"><strong>écénat</strong> aide.</mark>' in body
    assert '<span class="h2">Suite <strong>forte</strong></span>' in body
    assert "**" not in page and "/srv/" not in page
    plain = render_source_page(SourceView("d2", text, 0, {"title": "T", "source": "/srv/c/page.txt"}), None, None)
    assert "# Titre" in plain and "Le **mécénat**" in plain  # other formats are shown as they are


def test_source_view_of_a_web_page_shows_its_headings_without_marks():
    from assistant.sources import SourceView, render_source_page
    from ingest.html import html_to_text

    text, _ = html_to_text("<html><body><h1>Une page</h1><h2>Partie</h2><p>Du texte.</p></body></html>")
    assert text.startswith("# Une page")  # the loader writes headings as Markdown ones
    page = render_source_page(SourceView("d3", text, 0, {"title": "T", "source": "/srv/c/page.html"}), None, None)
    body = page.split('<div class="doc">', 1)[1]
    assert '<span class="h1">Une page</span>' in body and '<span class="h2">Partie</span>' in body
    assert "# " not in body
