"""Hostile content stays inert on every surface, in a real browser (Debian's Chromium driven by Playwright).

`seve serve` indexes tests/data/hostile/ (illustrative test material: a Markdown page whose text and front matter
carry <script>, <img onerror>, <iframe>, <style>, `javascript:` links and a 3,000-character token; a web page
whose visible text holds escaped markup; a case example whose title and partners carry markup). The Gradio chat,
its Exemples tab, the widget and the source view must show all of it as text: no dialog, no `window.__xss`, no
element or `on*` attribute that came from a document, no `javascript:` URL anywhere in the DOM (shadow roots
included), the markup readable as typed, and long tokens wrapped (no horizontal overflow).
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.servers import chromium, seve_server

pytestmark = [pytest.mark.browser, pytest.mark.integration]
HOSTILE = Path(__file__).parent / "data" / "hostile"

SCRIPT = "<script>window.__xss=1;alert(1)</script>"
IMG = '<img src=x onerror="window.__xss=1">'
A_JS = '<a href="javascript:window.__xss=1">chaque trimestre</a>'
MD_LINK = "[cliquez ici](javascript:window.__xss=1)"
IFRAME = '<iframe src="javascript:window.__xss=1"></iframe>'
STYLE = "<style>body{display:none}</style>"


def _hex_run(seed: str, length: int) -> str:
    """A token without spaces and without repeats (a repeating one is ambiguous to locate in a document)."""
    return "".join(hashlib.sha256(f"{seed}-{i}".encode()).hexdigest() for i in range(length // 64 + 1))[:length]


TOKEN = _hex_run("seve-registre", 3000)  # in the Markdown page: too long to quote, shown by the source view
REF = _hex_run("seve-dossier", 300)  # in a sentence short enough for an answer to quote
MD_TITLE = f"Convention piégée {SCRIPT} entre association et commune {IMG}"
HTML_TITLE = f"Guide piégé {SCRIPT} de la coopération entre associations et département {IMG}"
PARTNER = ("Collectiffictifdesassociationsintercommunales" * 10)[:400]  # a 400-character partner name
EXAMPLE_TITLE = f"Épicerie solidaire piégée {SCRIPT} avec le centre communal d'action sociale"

# (question, a piece of hostile text that the answer quotes)
QUESTIONS = [
    ("Pour combien d'années la convention pluriannuelle piégée fixe-t-elle les engagements de l'association "
     "et de la commune ?", SCRIPT),
    ("Combien de soirs par semaine la commune de Valbrune prête-t-elle une salle municipale à l'association "
     "piégée ?", IMG),
    ("Quand le comité de suivi piégé réunit-il les élus de Valbrune et les bénévoles de l'association ?", A_JS),
    ("Comment lire le bilan de la convention piégée avec la commune ?", MD_LINK),
    ("Que finance la subvention piégée de la commune à l'association ?", IFRAME),
    ("Qu'impose la charte graphique piégée de la convention entre l'association et la commune ?", STYLE),
    ("Sous quelle référence le dossier piégé de la convention est-il déposé au greffe ?", REF),
    ("Quel référent le contrat de coopération piégé désigne-t-il au département ?",
     '<a href="javascript:window.__xss=1">contact</a>'),
    ("Combien de familles le centre communal d'action sociale oriente-t-il vers l'épicerie solidaire piégée ?",
     "80 familles"),
]
TITLES = (MD_TITLE, HTML_TITLE, EXAMPLE_TITLE)


def quoted_as_answered(text: str) -> str:
    """Answers quote a document's sentences without Markdown emphasis markers (assistant.answer.plain drops
    `**`, `__` and backticks), so `window.__xss` is quoted as `window.xss`; every tag stays as typed."""
    return text.replace("__", "")

# Everything the page would show if a document's markup were rendered, and where it must not overflow. An area
# is a selector, or `host >>> selector` inside host's shadow root; `content` areas show text from the corpus (no
# element may come from it), `layout` areas are only checked for overflow.
AUDIT = r"""
([content, layout]) => {
  const resolve = (spec) => {
    const [outer, inner] = spec.split(' >>> ');
    const host = document.querySelector(outer);
    if (!host || !inner) return host;
    return host.shadowRoot ? host.shadowRoot.querySelector(inner) : null;
  };
  const everything = [];
  const walk = (root) => root.querySelectorAll('*').forEach(el => {
    everything.push(el);
    if (el.shadowRoot) walk(el.shadowRoot);
  });
  walk(document);
  const scriptUrl = (v) => /^(javascript|vbscript):/i.test((v || '').replace(/[\u0000-\u0020]/g, ''));
  const jsUrls = everything.filter(el => ['href', 'src', 'action', 'formaction', 'xlink:href']
    .some(a => scriptUrl(el.getAttribute(a)))).map(el => el.outerHTML.slice(0, 160));
  const root = document.documentElement;
  const report = {xss: typeof window.__xss, bodyShown: getComputedStyle(document.body).display !== 'none',
                  jsUrls, pageOverflow: root.scrollWidth - root.clientWidth, areas: {}};
  for (const spec of [...content, ...layout]) {
    const area = resolve(spec);
    if (!area) { report.areas[spec] = null; continue; }
    const inside = [...area.querySelectorAll('*')];
    const ofContent = content.includes(spec);
    // (Gradio's own SVG icons carry a <style>; a URL or style that mentions xss can only come from the corpus)
    const urlish = ['href', 'src', 'srcdoc', 'action', 'formaction', 'data', 'style', 'xlink:href'];
    const injected = inside.filter(el =>
      el.matches('script, iframe, frame, object, embed, style:not(svg style), link, meta, base, form, img, video, ' +
                 'audio, math') ||
      [...el.attributes].some(a => a.name.toLowerCase().startsWith('on') ||
                               (urlish.includes(a.name.toLowerCase()) && a.value.includes('xss'))))
      .map(el => el.outerHTML.slice(0, 160)).filter(() => ofContent);
    // visible characters that run past the area's right edge (clipped or not; a space that hangs at the end of
    // a wrapped pre-wrap line does not count), and boxes wider than they show
    const right = area.getBoundingClientRect().right;
    const past = (range) => [...range.getClientRects()].some(r => r.width > 0 && r.right > right + 1);
    const spills = [];
    const texts = document.createTreeWalker(area, NodeFilter.SHOW_TEXT);
    for (let n = texts.nextNode(); n; n = texts.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(n);
      if (!n.textContent.trim() || !past(range)) continue;
      for (let i = 0; i < n.textContent.length; i++) {
        if (/\s/.test(n.textContent[i])) continue;
        range.setStart(n, i);
        range.setEnd(n, i + 1);
        if (past(range)) { spills.push(n.textContent.slice(0, 80)); break; }
      }
    }
    const wide = [area, ...inside].filter(el => el.clientWidth > 2 && el.scrollWidth > el.clientWidth + 1)
      .map(el => `${el.tagName}.${el.className} ${el.scrollWidth} > ${el.clientWidth}`);
    report.areas[spec] = {text: area.innerText, injected, spills, wide};
  }
  return report;
}
"""


def assert_inert(report: dict[str, Any], watch: Watch, *expected: tuple[str, str]) -> None:
    """Nothing ran, nothing was injected or fetched, no javascript: URL, no overflow; each (area, text) shows."""
    assert watch.dialogs == [], f"a dialog fired: {watch.dialogs}"
    assert watch.fetched_x == [], f"an <img src=x> from a document was rendered: {watch.fetched_x}"
    assert report["xss"] == "undefined", "window.__xss was set by a document's script"
    assert report["bodyShown"], "a document's <style> hid the page"
    assert report["jsUrls"] == [], f"javascript: URLs in the DOM: {report['jsUrls']}"
    assert report["pageOverflow"] <= 0, f"the page scrolls sideways by {report['pageOverflow']} px"
    for spec, area in report["areas"].items():
        assert area is not None, f"{spec} not found"
        assert area["injected"] == [], f"elements from a document in {spec}: {area['injected']}"
        assert area["spills"] == [], f"text overflows {spec}: {area['spills']}"
        assert area["wide"] == [], f"horizontal overflow in {spec}: {area['wide']}"
    for spec, text in expected:
        shown = report["areas"][spec]["text"]
        if len(text) >= 1000:  # a giant word: the loader cuts it every 200 characters (spaces in between)
            text, shown = "".join(text.split()), "".join(shown.split())
        assert text in shown, f"{text[:80]!r} is not shown as text in {spec}"


class Watch:
    """Every dialog (alert…) any page of the context opens, and every request for `x` (an <img src=x>)."""

    def __init__(self, context: Any) -> None:
        self.dialogs: list[str] = []
        self.fetched_x: list[str] = []
        context.on("page", self._page)
        context.on("request", lambda r: self.fetched_x.append(r.url)
                   if urllib.parse.urlsplit(r.url).path.endswith("/x") else None)

    def _page(self, page: Any) -> None:
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))


@pytest.fixture(scope="module")
def server(converted_model_dir, tmp_path_factory):
    data = tmp_path_factory.mktemp("hostile")
    env = {"SEVE_DATA_DIR": str(data), "SEVE_MODELS_DIR": str(converted_model_dir.parent)}
    with seve_server(HOSTILE, env, data / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as (b, _):
        yield b


@pytest.fixture()
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    yield context, Watch(context)
    context.close()


def audit(page: Any, content: tuple[str, ...], layout: tuple[str, ...] = ()) -> dict[str, Any]:
    return page.evaluate(AUDIT, [list(content), list(layout)])


def source_links(server: str) -> dict[str, str]:
    """The source-view link of each hostile document, by file kind (md, html, jsonl), from /api/search."""
    links: dict[str, str] = {}
    for q in ("convention piégée entre l'association et la commune",
              "guide piégé de la coopération avec le département", "épicerie solidaire piégée"):
        with urllib.request.urlopen(f"{server}/api/search?{urllib.parse.urlencode({'q': q})}", timeout=60) as response:
            hit = json.load(response)["results"][0]
        links[hit["source"].split("#", 1)[0].rsplit(".", 1)[-1]] = hit["link"].split("?", 1)[0]
    assert set(links) == {"md", "html", "jsonl"}, links
    return {kind: server + link if link.startswith("/") else link for kind, link in links.items()}


# --------------------------------------------------------------------------- the Gradio chat


GRADIO_AREAS = ("#seve-chat", "#seve-sources", "#seve-filters")


# The answer is done when the sources are shown and the chat's text has not changed for a second.
SETTLED = """() => {
  const chat = document.querySelector('#seve-chat').innerText;
  if (!document.querySelector('#seve-sources').innerText.includes('[1]') || chat.includes('Recherche dans le corpus')) {
    return false;
  }
  if (window.__seveLastText !== chat) { window.__seveLastText = chat; window.__seveSince = Date.now(); return false; }
  return Date.now() - window.__seveSince > 1000;
}"""


def gradio_ask(page: Any, question: str) -> None:
    page.locator("#seve-question textarea").fill(question)
    page.locator("#seve-send").click()
    page.wait_for_function(SETTLED, polling=200, timeout=60000)


@pytest.mark.parametrize("question, quoted", QUESTIONS, ids=[f"q{i}" for i in range(len(QUESTIONS))])
def test_gradio_chat_shows_hostile_text_inert(server, context, tmp_path, question, quoted):
    ctx, watch = context
    page = ctx.new_page()
    page.goto(server + "/", wait_until="networkidle")
    gradio_ask(page, question)
    report = audit(page, GRADIO_AREAS)
    page.screenshot(path=str(tmp_path / "gradio-chat.png"), full_page=True)
    assert_inert(report, watch, ("#seve-chat", quoted_as_answered(quoted)))
    shown = report["areas"]["#seve-sources"]["text"]
    assert any(title in shown for title in TITLES), shown[:300]


def test_gradio_citation_opens_an_inert_source_view(server, context, tmp_path):
    ctx, watch = context
    page = ctx.new_page()
    page.goto(server + "/", wait_until="networkidle")
    gradio_ask(page, QUESTIONS[0][0])
    cite = page.locator("#seve-sources a[href*='/sources/']").first
    with page.expect_popup() as popup:
        cite.click()
    view = popup.value
    view.wait_for_load_state("networkidle")
    assert view.locator("mark#cite").is_visible() and SCRIPT in view.locator("mark#cite").inner_text()
    report = audit(view, ("header", "main"))
    view.screenshot(path=str(tmp_path / "gradio-source.png"), full_page=True)
    assert_inert(report, watch, ("header", MD_TITLE), ("main", SCRIPT), ("main", STYLE), ("main", TOKEN))


# --------------------------------------------------------------------------- the Gradio Exemples tab


def test_gradio_examples_tab_shows_hostile_cards_inert(server, context, tmp_path):
    ctx, watch = context
    page = ctx.new_page()
    page.goto(server + "/", wait_until="networkidle")
    page.get_by_role("tab", name="Exemples").click()
    page.locator("#seve-ex-query textarea").fill("épicerie solidaire piégée avec le centre communal d'action sociale")
    page.locator("#seve-ex-search").click()
    page.wait_for_function("() => document.querySelector('#seve-ex-results').innerText.includes('Épicerie')",
                           timeout=60000)
    page.wait_for_timeout(500)
    report = audit(page, ("#seve-ex-results", "#seve-ex-facets"))
    page.screenshot(path=str(tmp_path / "gradio-examples.png"), full_page=True)
    assert_inert(report, watch, ("#seve-ex-results", EXAMPLE_TITLE),
                 ("#seve-ex-results", '<a href="javascript:window.__xss=1">Association fictive Le Panier Partagé</a>'),
                 ("#seve-ex-results", "[Mairie fictive de Valbrune](javascript:window.__xss=1)"),
                 ("#seve-ex-results", '<svg onload="window.__xss=1">Valbrune</svg>'), ("#seve-ex-results", PARTNER),
                 ("#seve-ex-facets", 'Région fictive <b onmouseover="window.__xss=1">piégée</b>'))
    # the card's title opens the source view; its `url` (javascript:) is no link at all
    links = page.evaluate("() => [...document.querySelectorAll('#seve-ex-results a')].map(a => a.getAttribute('href'))")
    assert links and all(link.startswith("/sources/") for link in links), links
    # the facet dropdowns list the values the index holds, as text
    page.locator("#seve-ex-region input").click()
    page.wait_for_selector("ul.option-list li", timeout=10000)
    page.wait_for_timeout(300)  # the list fades in
    report = audit(page, ("ul.option-list",))
    page.screenshot(path=str(tmp_path / "gradio-region-choices.png"))
    assert_inert(report, watch, ("ul.option-list", 'Région fictive <b onmouseover="window.__xss=1">piégée</b>'),
                 ("ul.option-list", 'Région fictive <img src=x onerror="window.__xss=1">'))


# --------------------------------------------------------------------------- the widget


def widget_ask(page: Any, question: str) -> None:
    page.locator("#seve-widget .btn").click()
    page.locator("#seve-widget input").fill(question)
    page.locator("#seve-widget input").press("Enter")
    page.wait_for_function("() => document.querySelector('#seve-widget').shadowRoot.querySelector('.log')"
                           ".getAttribute('aria-busy') === 'false'", timeout=60000)


@pytest.mark.parametrize("question, quoted", QUESTIONS, ids=[f"q{i}" for i in range(len(QUESTIONS))])
def test_widget_shows_hostile_text_inert(server, context, tmp_path, question, quoted):
    ctx, watch = context
    page = ctx.new_page()
    page.goto(server + "/widget/", wait_until="networkidle")
    widget_ask(page, question)
    report = audit(page, ("#seve-widget >>> .log",), ("#seve-widget >>> .panel",))
    page.screenshot(path=str(tmp_path / "widget.png"))
    assert_inert(report, watch, ("#seve-widget >>> .log", quoted_as_answered(quoted)))
    shown = report["areas"]["#seve-widget >>> .log"]["text"]
    assert any(title in shown for title in TITLES), shown[:300]
    hrefs = page.evaluate("() => [...document.querySelector('#seve-widget').shadowRoot.querySelectorAll('a[href]')]"
                          ".map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith(server + "/sources/") for h in hrefs), hrefs


def test_widget_on_a_phone_with_the_long_token(server, browser, tmp_path):
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, locale="fr-FR")
    watch = Watch(ctx)
    page = ctx.new_page()
    page.goto(server + "/widget/", wait_until="networkidle")
    widget_ask(page, QUESTIONS[6][0])
    report = audit(page, ("#seve-widget >>> .log",), ("#seve-widget >>> .panel",))
    page.screenshot(path=str(tmp_path / "widget-phone.png"))
    assert_inert(report, watch, ("#seve-widget >>> .log", REF))
    ctx.close()


def test_widget_citation_opens_an_inert_source_view(server, context, tmp_path):
    ctx, watch = context
    page = ctx.new_page()
    page.goto(server + "/widget/", wait_until="networkidle")
    widget_ask(page, QUESTIONS[7][0])
    with page.expect_popup() as popup:
        page.locator("#seve-widget .bot a.cite").first.click()
    view = popup.value
    view.wait_for_load_state("networkidle")
    report = audit(view, ("header", "main"))
    view.screenshot(path=str(tmp_path / "widget-source.png"), full_page=True)
    assert_inert(report, watch, ("header", HTML_TITLE), ("main", "<script>window.__xss=1;alert(1)</script>"),
                 ("main", '<a href="javascript:window.__xss=1">contact</a>'))


# --------------------------------------------------------------------------- the source view


@pytest.mark.parametrize("width", [1280, 360])
def test_source_views_show_every_document_inert(server, browser, tmp_path, width):
    ctx = browser.new_context(viewport={"width": width, "height": 800}, locale="fr-FR")
    watch = Watch(ctx)
    links = source_links(server)
    expected = {
        "md": [("header", MD_TITLE), ("header", 'Région fictive <img src=x onerror="window.__xss=1">'),
               ("header", '<svg onload="window.__xss=1">Commune fictive de Valbrune</svg>'),
               ("header", "[Mairie fictive de Valbrune](javascript:window.__xss=1)"),
               ("main", SCRIPT), ("main", IMG), ("main", A_JS), ("main", MD_LINK), ("main", IFRAME),
               ("main", STYLE), ("main", TOKEN)],
        "html": [("header", HTML_TITLE), ("main", SCRIPT), ("main", IMG)],
        "jsonl": [("header", EXAMPLE_TITLE), ("header", 'Région fictive <b onmouseover="window.__xss=1">piégée</b>'),
                  ("header", PARTNER),
                  ("main", "[Voir le bilan](javascript:window.__xss=1)"),
                  ("main", '<img src=x onerror="window.__xss=1">CCAS fictif de Valbrune')],
    }
    for kind, link in links.items():
        page = ctx.new_page()
        page.goto(link, wait_until="networkidle")
        report = audit(page, ("header", "main"))
        page.screenshot(path=str(tmp_path / f"source-{kind}-{width}.png"), full_page=True)
        assert_inert(report, watch, *expected[kind])
        # a metadata url that is not http(s) is no link: the only links are in-page
        assert page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
                             ".filter(h => !h.startsWith('#'))") == []
        header = report["areas"]["header"]["text"]
        assert "Type" in header and "Document original" not in header
        page.close()
    ctx.close()
