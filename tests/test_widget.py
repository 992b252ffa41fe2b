"""The widget on partner sites, in a real browser (Debian's Chromium driven by Playwright) against `seve serve`.

Partner pages are served from other origins (`http://partner.test:PORT`, `http://other.test:PORT`, both mapped to
127.0.0.1 by Chromium's host resolver rules) with keys created by `seve keys create` while the server runs.
"""

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.servers import chromium, free_port, seve_server

pytestmark = [pytest.mark.browser, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[1]
MINI = Path(__file__).parent / "data" / "mini"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

HOSTILE = """---
title: "Fiche piégée <img src=x onerror=\\"window.__xss='titre'\\">"
doc_type: fiche
url: "javascript:window.__xss='url'"
---
# Le partenariat piégé

Le partenariat piégé entre la ludothèque et la quincaillerie prête des outils aux habitants
<img src=x onerror="window.__xss='img'"> <script>window.__xss='script'</script> chaque samedi matin.

Un [lien piégé](javascript:window.__xss='lien') et <a href="javascript:window.__xss='a'">un autre</a>
pour la ludothèque.
"""
XSS_QUESTION = "Que prête le partenariat piégé entre la ludothèque et la quincaillerie ?"

# A host page that does its worst to everything it does not own.
HOSTILE_CSS = """
* { color: #f0f !important; font-size: 31px !important; line-height: 4 !important; letter-spacing: 3px !important;
    font-family: serif !important; text-transform: uppercase !important; box-sizing: content-box !important; }
div, button, input, form, seve-widget { display: none !important; }
#host-text { display: block !important; }
"""


def _seve(*args: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "assistant.cli", *args], env={**os.environ, **env}, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout) if out.stdout.strip().startswith(("{", "[")) else {}


@pytest.fixture(scope="module")
def seve(converted_model_dir, tmp_path_factory):
    """`seve serve` over the mini corpus and a hostile document; yields (url, env for the CLI)."""
    data = tmp_path_factory.mktemp("widget")
    corpus = data / "corpus"
    subprocess.run(["cp", "-r", str(MINI), str(corpus)], check=True)
    (corpus / "piege.md").write_text(HOSTILE, encoding="utf-8")
    env = {"SEVE_DATA_DIR": str(data / "index"), "SEVE_MODELS_DIR": str(converted_model_dir.parent)}
    with seve_server(corpus, env, data / "serve.log") as url:
        yield url, env


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D401 - keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def partner_site(tmp_path_factory):
    """A static web server for partner pages; reached as partner.test and other.test (two origins)."""
    root = tmp_path_factory.mktemp("partner-site")
    port = free_port()
    handler = lambda *a, **k: _Quiet(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, port
    server.shutdown()


@pytest.fixture(scope="module")
def keys(seve, partner_site):
    """Keys created with the CLI while the server runs (the key database is shared through the data dir)."""
    _, env = seve
    _, port = partner_site
    partner = f"http://partner.test:{port}"
    create = ["keys", "create", "--json", "--origin", partner]
    return {
        "partner": partner, "other": f"http://other.test:{port}",
        "main": _seve(*create, "--name", "Réseau partenaire", "--per-minute", "100", env=env)["key"],
        "tight": _seve(*create, "--name", "Petit quota", "--per-minute", "2", env=env)["key"],
        "revoked": _seve(*create, "--name", "Ancien partenaire", env=env)["key"],
    }


@pytest.fixture(scope="module")
def browser():
    with chromium(("--host-resolver-rules=MAP partner.test 127.0.0.1, MAP other.test 127.0.0.1",)) as (b, devices):
        b.devices = devices
        yield b


def partner_page(site, name: str, seve_url: str, key: str, *, extra: str = "", mode: str = "defer",
                 in_head: bool = False, css: str = "") -> str:
    root, _ = site
    tag = f'<script src="{seve_url}/widget/widget.js" data-seve-key="{key}" {extra} {mode}></script>'
    (root / name).write_text(
        f"<!doctype html><html lang='fr'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>Partenaire</title>"
        f"<style>{css}</style>{tag if in_head else ''}</head><body><p id='host-text'>Le site du partenaire.</p>"
        f"{'' if in_head else tag}</body></html>", encoding="utf-8")
    return name


def shadow(page, selector: str) -> str:
    return f"document.querySelector('#seve-widget').shadowRoot.querySelector({json.dumps(selector)})"


def ask(page, question: str) -> None:
    page.locator("#seve-widget .btn").click()
    page.locator("#seve-widget input").fill(question)
    page.locator("#seve-widget input").press("Enter")
    wait_idle(page)


def wait_idle(page) -> None:
    page.wait_for_function(f"() => {shadow(page, '.log')}.getAttribute('aria-busy') === 'false'", timeout=60000)


def last_bot(page) -> str:
    return page.locator("#seve-widget .bot").last.inner_text()


def watch_xss(page) -> list[str]:
    """Every dialog (alert…) the page opens; the page's window.__xss is read at the end."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


# --------------------------------------------------------------------------- a partner page with its key


def test_partner_page_with_hostile_css_gets_answers_and_sources_that_open(seve, partner_site, keys, browser, tmp_path):
    url, _ = seve
    name = partner_page(partner_site, "ok.html", url, keys["main"], css=HOSTILE_CSS)
    page = browser.new_page()
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(r.headers) if r.url.endswith("/api/chat/stream") else None)
    page.goto(f"{keys['partner']}/{name}", wait_until="networkidle")
    host_before = page.evaluate("() => { const s = getComputedStyle(document.getElementById('host-text'));"
                                " return [s.color, s.fontSize, s.display]; }")
    # the host's rules do not reach inside: the button keeps its own size and font, and is on screen
    button = page.locator("#seve-widget .btn")
    assert button.is_visible()
    style = page.evaluate(f"() => {{ const s = getComputedStyle({shadow(page, '.btn')});"
                          " return [s.fontSize, s.textTransform, s.letterSpacing]; }")
    assert style == ["15px", "none", "normal"]
    ask(page, "Combien de familles cultivent les jardins partagés des Tilleuls ?")
    assert sent and sent[0].get("x-seve-key") == keys["main"]
    bot = last_bot(page)
    assert "45" in bot and "[1]" in bot
    # the host page is untouched: its own element keeps its style, no global leaked
    assert page.evaluate("() => { const s = getComputedStyle(document.getElementById('host-text'));"
                         " return [s.color, s.fontSize, s.display]; }") == host_before
    assert page.evaluate("() => Object.keys(window).filter(k => /seve|^(T|api|key|lang|root|host|start)$/i.test(k))") \
        == []
    page.screenshot(path=str(tmp_path / "partner.png"))
    # [1] is a link to Sève's source view (absolute: it must not point at the partner's domain)
    cite = page.locator("#seve-widget .bot a.cite").first
    href = cite.get_attribute("href")
    assert href.startswith(f"{url}/sources/") and "#cite" in href
    with page.expect_popup() as popup:
        cite.click()
    source = popup.value
    source.wait_for_load_state()
    mark = source.locator("mark#cite")
    assert mark.is_visible() and "45 familles" in mark.inner_text()
    assert "Jardins partagés du quartier des Tilleuls" in source.locator("h1").inner_text()
    assert source.evaluate("() => document.querySelector('mark#cite').getBoundingClientRect().top") < \
        source.evaluate("() => innerHeight")  # scrolled to
    source.close()
    page.close()


def test_async_script_in_head_english_title_and_colour(seve, partner_site, keys, browser):
    url, _ = seve
    name = partner_page(partner_site, "async.html", url, keys["main"], mode="async", in_head=True,
                        extra='data-lang="en" data-title="Ask our network" data-color="#1a3d7c" data-position="left"')
    page = browser.new_page()
    page.goto(f"{keys['partner']}/{name}", wait_until="networkidle")
    page.wait_for_selector("#seve-widget", state="attached")
    assert page.locator("#seve-widget .btn").inner_text() == "Ask a question"
    colour = page.evaluate(f"() => getComputedStyle({shadow(page, '.btn')}).backgroundColor")
    assert colour == "rgb(26, 61, 124)"
    box = page.locator("#seve-widget .btn").bounding_box()
    assert box["x"] < 100  # on the left
    ask(page, "What share of French people want organisations to form alliances?")
    assert page.locator("#seve-widget h2").inner_text() == "Ask our network"
    assert "81 %" in last_bot(page)
    page.close()


# --------------------------------------------------------------------------- refusals: 403, 429, 401


def test_foreign_origin_gets_403_and_a_kind_message(seve, partner_site, keys, browser):
    url, _ = seve
    name = partner_page(partner_site, "stolen.html", url, keys["main"])
    page = browser.new_page()
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if r.url.endswith("/api/chat/stream") else None)
    page.goto(f"{keys['other']}/{name}", wait_until="networkidle")  # the key of partner.test, used on other.test
    ask(page, "Qu'est-ce que le mécénat de compétences ?")
    assert statuses == [403]
    assert "n'est pas autorisé sur ce site" in last_bot(page)
    page.close()


def test_over_quota_gets_429_and_a_kind_message(seve, partner_site, keys, browser, tmp_path):
    url, _ = seve
    name = partner_page(partner_site, "tight.html", url, keys["tight"])
    page = browser.new_page()
    responses = []
    page.on("response", lambda r: responses.append(r) if r.url.endswith("/api/chat/stream") else None)
    page.goto(f"{keys['partner']}/{name}", wait_until="networkidle")
    ask(page, "Qu'est-ce que le mécénat de compétences ?")
    for question in ("Et ses points de vigilance ?", "Quelle part des Français souhaitent faire alliance ?"):
        page.locator("#seve-widget input").fill(question)
        page.locator("#seve-widget input").press("Enter")
        wait_idle(page)
    assert [r.status for r in responses] == [200, 200, 429]
    wait = int(responses[2].headers["retry-after"])
    assert 1 <= wait <= 60
    assert f"merci de patienter {wait} s avant la suivante" in last_bot(page)
    page.screenshot(path=str(tmp_path / "quota.png"))
    page.close()


def test_revoked_key_gets_401_within_seconds(seve, partner_site, keys, browser):
    url, env = seve
    name = partner_page(partner_site, "revoked.html", url, keys["revoked"])
    page = browser.new_page()
    page.goto(f"{keys['partner']}/{name}", wait_until="networkidle")
    ask(page, "Qu'est-ce que le mécénat de compétences ?")
    assert "mécénat" in last_bot(page).lower()
    _seve("keys", "revoke", keys["revoked"], env=env)  # another process, the same key database
    page.wait_for_timeout(1200)  # the serving process re-reads a key at most once a second
    page.locator("#seve-widget input").fill("Et ses points de vigilance ?")
    page.locator("#seve-widget input").press("Enter")
    wait_idle(page)
    assert "pas (ou plus) de clé Sève valide" in last_bot(page)
    page.close()


# --------------------------------------------------------------------------- keyboard, phones, empty questions


def test_keyboard_focus_trap_escape_and_focus_return(seve, browser):
    url, _ = seve
    page = browser.new_page()
    page.goto(url + "/widget/", wait_until="networkidle")
    active = "() => { const r = document.querySelector('#seve-widget').shadowRoot; const a = r.activeElement;" \
             " return a ? (a.className || a.tagName) : null; }"
    page.locator("#seve-widget .btn").focus()
    page.keyboard.press("Enter")
    assert page.evaluate(active) == "INPUT"  # the dialog opens on its question box
    assert page.evaluate(f"() => {shadow(page, '.btn')}.getAttribute('aria-expanded')") == "true"
    seen = set()
    for _ in range(8):  # Tab cycles inside the dialog, never back to the page
        page.keyboard.press("Tab")
        seen.add(page.evaluate(active))
        assert page.evaluate("() => document.activeElement && document.activeElement.id") == "seve-widget"
    assert {"close", "INPUT"} <= seen
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.id") == "seve-widget"
    page.keyboard.press("Escape")
    assert not page.locator("#seve-widget .panel").is_visible()
    assert page.evaluate(active) == "btn"  # focus is back on the button
    # labels: the dialog is named, the box has a label, the log is live
    assert page.evaluate(f"() => {shadow(page, '.panel')}.getAttribute('aria-labelledby')") == "t"
    assert page.evaluate(f"() => {shadow(page, 'label')}.textContent") == "Votre question"
    assert page.evaluate(f"() => {shadow(page, '.log')}.getAttribute('aria-live')") == "polite"
    page.close()


@pytest.mark.parametrize("device", ["320px", "Pixel 7", "iPhone SE"])
def test_phones(seve, browser, device, tmp_path):
    url, _ = seve
    options = {"viewport": {"width": 320, "height": 568}} if device == "320px" else \
        {k: v for k, v in browser.devices[device].items() if k != "default_browser_type"}
    context = browser.new_context(**options)
    page = context.new_page()
    page.goto(url + "/widget/", wait_until="networkidle")
    width = page.evaluate("() => innerWidth")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width  # the demo page does not overflow
    box = page.locator("#seve-widget .btn").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    assert box["y"] + box["height"] <= page.evaluate("() => innerHeight")
    if options.get("has_touch"):
        page.locator("#seve-widget .btn").tap()
    else:
        page.locator("#seve-widget .btn").click()
    panel = page.locator("#seve-widget .panel").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width and panel["height"] > 300
    page.locator("#seve-widget input").fill("Quelle part des Français souhaitent faire alliance ?")
    page.locator("#seve-widget input").press("Enter")
    wait_idle(page)
    assert "81 %" in last_bot(page)
    assert page.locator("#seve-widget .close").is_visible()
    page.screenshot(path=str(tmp_path / f"phone-{device}.png"))
    context.close()


def test_empty_question_gets_a_hint_not_a_bubble(seve, browser):
    url, _ = seve
    page = browser.new_page()
    page.goto(url + "/widget/", wait_until="networkidle")
    page.locator("#seve-widget .btn").click()
    page.locator("#seve-widget input").fill("   ")
    page.locator("#seve-widget input").press("Enter")
    assert page.locator("#seve-widget .hint").inner_text() == "Écrivez d'abord votre question."
    assert page.locator("#seve-widget .msg").count() == 0
    assert page.evaluate(f"() => {shadow(page, 'input')}.getAttribute('aria-invalid')") == "true"
    page.close()


# --------------------------------------------------------------------------- accessibility (axe-core)


def axe_violations(page) -> list[dict]:
    if not AXE.exists():
        pytest.fail(f"{AXE} introuvable : lancez `make test` (il installe axe-core depuis npm)")
    page.add_script_tag(path=str(AXE))
    return page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                         ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))")


def test_axe_finds_no_serious_violation_in_the_widget(seve, browser):
    url, _ = seve
    page = browser.new_page()
    page.goto(url + "/widget/", wait_until="networkidle")
    closed = axe_violations(page)
    ask(page, "Qu'est-ce que le mécénat de compétences ?")
    page.locator("#seve-widget input").fill("Des exemples de jardins partagés ?")
    page.locator("#seve-widget input").press("Enter")
    wait_idle(page)
    answered = axe_violations(page)
    print(f"\naxe, widget closed: {closed}\naxe, widget with a text answer and example cards: {answered}")
    assert [v for v in closed + answered if v["impact"] in ("serious", "critical")] == []
    page.close()


def test_axe_finds_no_serious_violation_in_the_gradio_page(seve, browser):
    url, _ = seve
    page = browser.new_page()
    page.goto(url + "/", wait_until="networkidle")
    empty = axe_violations(page)
    page.locator("#seve-question textarea").fill("Qu'est-ce que le mécénat de compétences ?")
    page.locator("#seve-send").click()
    page.wait_for_function("() => document.querySelector('#seve-sources').innerText.includes('[1]') && "
                           "!document.querySelector('#seve-chat').innerText.includes('Recherche dans le corpus')",
                           timeout=60000)
    answered = axe_violations(page)
    print(f"\naxe, Gradio empty: {empty}\naxe, Gradio with an answer: {answered}")
    assert [v for v in empty + answered if v["impact"] in ("serious", "critical")] == []
    page.close()


# --------------------------------------------------------------------------- hostile content stays inert


def test_xss_payloads_never_execute(seve, browser, tmp_path):
    url, _ = seve
    page = browser.new_page()
    dialogs = watch_xss(page)
    page.goto(url + "/widget/", wait_until="networkidle")
    ask(page, XSS_QUESTION)
    bot = last_bot(page)
    assert "ludothèque" in bot
    assert page.evaluate("() => window.__xss") is None
    assert page.evaluate(f"() => {shadow(page, '.bot')}.querySelectorAll('img, script').length") == 0
    hrefs = page.evaluate("() => [...document.querySelector('#seve-widget').shadowRoot.querySelectorAll('a')]"
                          ".map(a => a.getAttribute('href'))")
    assert hrefs and not [h for h in hrefs if h and not h.startswith(url + "/sources/")]
    # the source view of the hostile document: escaped text, no script runs, no javascript: link
    source = page.locator("#seve-widget .bot a.cite").first.get_attribute("href")
    view = browser.new_page()
    view_dialogs = watch_xss(view)
    view.goto(source, wait_until="networkidle")
    assert "<script>window.__xss='script'</script>" in view.locator("main").inner_text()
    assert view.evaluate("() => window.__xss") is None
    assert view.evaluate("() => document.querySelectorAll('main img, main script, a[href^=\"javascript\"]').length") \
        == 0
    # the Gradio chat and its sources panel
    gradio = browser.new_page()
    gradio_dialogs = watch_xss(gradio)
    gradio.goto(url + "/", wait_until="networkidle")
    gradio.locator("#seve-question textarea").fill(XSS_QUESTION)
    gradio.locator("#seve-send").click()
    gradio.wait_for_function("() => document.querySelector('#seve-chat').innerText.includes('ludothèque') && "
                             "document.querySelector('#seve-sources').innerText.includes('[1]')", timeout=60000)
    gradio.wait_for_timeout(1000)
    gradio.screenshot(path=str(tmp_path / "gradio-xss.png"), full_page=True)
    assert gradio.evaluate("() => window.__xss") is None
    assert gradio.evaluate("() => document.querySelectorAll('#seve-chat img[src=\"x\"], #seve-sources img').length") \
        == 0
    assert gradio.evaluate("() => document.querySelectorAll('a[href^=\"javascript\"]').length") == 0
    assert dialogs == view_dialogs == gradio_dialogs == []
    for p in (page, view, gradio):
        p.close()
