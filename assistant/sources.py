"""Sources that open: the public name of a source (never a server path), the absolute link of a citation,
and the page `/sources/{doc_id}` that shows a document with the cited span highlighted.

The page is built with every piece of document text escaped, and served with a Content-Security-Policy
that allows no script at all: a document that carries HTML or JavaScript is shown as text, inert.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from assistant.i18n import Lang

# Metadata that names where a file lives on the server: never sent, never shown.
PRIVATE_KEYS = frozenset({"path", "source"})

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; "
                               "form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

LABELS: dict[str, dict[Lang, str]] = {
    "type": {"fr": "Type", "en": "Type"},
    "original": {"fr": "Document original", "en": "Original document"},
    "cited": {"fr": "Passage cité", "en": "Quoted passage"},
    "to_cited": {"fr": "Aller au passage cité", "en": "Go to the quoted passage"},
    "illustrative": {"fr": "Exemple illustratif (fictif)", "en": "Illustrative example (fictional)"},
    "not_found_title": {"fr": "Document introuvable", "en": "Document not found"},
    "back": {"fr": "Revenir au chat Sève", "en": "Back to the Sève chat"},
    "region": {"fr": "Région", "en": "Region"},
    "domaine": {"fr": "Domaine", "en": "Domain"},
    "acteurs": {"fr": "Acteurs", "en": "Actors"},
    "partenaires": {"fr": "Partenaires", "en": "Partners"},
    "annee": {"fr": "Année", "en": "Year"},
    "date": {"fr": "Date", "en": "Date"},
    "territoire": {"fr": "Territoire", "en": "Territory"},
}
SHOWN_FIELDS = ("region", "territoire", "domaine", "acteurs", "partenaires", "annee", "date")


def public_source(meta: Mapping[str, Any]) -> str:
    """The file name a source came from (with `#record` for one record of a CSV/JSONL file), no folders."""
    raw = str(meta.get("source") or meta.get("path") or "")
    path, _, record = raw.partition("#")
    record = record or str(meta.get("record_id") or "")
    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return f"{name}#{record}" if record else name


def public_metadata(meta: Mapping[str, Any], drop: Sequence[str] = ()) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in PRIVATE_KEYS and k not in drop}


def safe_url(value: Any) -> str | None:
    """An http(s) URL, or None: `javascript:`, `data:` and the like are never turned into links."""
    if not isinstance(value, str) or not value.strip():
        return None
    url = value.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def source_link(base: str, doc_id: str, start: int | None = None, end: int | None = None, lang: str = "fr") -> str:
    """The link of a citation: `{base}/sources/{doc_id}?start=&end=#cite` (absolute when base is)."""
    params = [f"start={int(start)}", f"end={int(end)}"] if start is not None and end is not None else []
    params += ["lang=en"] if lang == "en" else []
    query = "?" + "&".join(params) if params else ""
    anchor = "#cite" if start is not None and end is not None and end > start else ""
    return f"{base.rstrip('/')}/sources/{doc_id}{query}{anchor}"


@dataclass(frozen=True)
class SourceView:
    doc_id: str
    text: str
    origin: int  # document offset of text[0]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or public_source(self.metadata) or self.doc_id)


STYLE = (
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:52rem;margin:0 auto;"
    "padding:1rem;color:#1f2a1f;line-height:1.55;background:#fff;overflow-wrap:anywhere}"
    "header{border-bottom:2px solid #2f6b2f;margin-bottom:1rem;padding-bottom:.5rem}"
    "h1{font-size:1.4rem;margin:.2rem 0}"
    "dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2rem .8rem;margin:.5rem 0;font-size:.95rem}"
    "dt{font-weight:600}dd{margin:0;min-width:0}"
    ".badge{display:inline-block;background:#fff3cd;color:#5c4400;border-radius:4px;padding:.1rem .4rem;"
    "font-size:.85rem}a{color:#1d5c1d}"
    ".doc{white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;font-size:1rem}"
    "mark{background:#ffe066;color:#000;padding:.05rem 0;scroll-margin-top:4rem;outline:2px solid #c9a200}"
    ".skip{font-size:.9rem}.h1,.h2,.h3,.h4,.h5,.h6{font-weight:700;display:inline-block;margin-top:.4rem}"
    ".h1{font-size:1.3rem}.h2{font-size:1.15rem}.h3{font-size:1.05rem}"
)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _meta_rows(view: SourceView, lang: Lang) -> str:
    rows = []
    if view.metadata.get("doc_type"):
        rows.append((LABELS["type"][lang], _esc(view.metadata["doc_type"])))
    for key in SHOWN_FIELDS:
        value = view.metadata.get(key)
        if value in (None, "", []):
            continue
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        rows.append((LABELS[key][lang], _esc(shown)))
    url = safe_url(view.metadata.get("url"))
    if url:
        rows.append((LABELS["original"][lang],
                     f'<a href="{_esc(url)}" rel="noopener noreferrer nofollow" target="_blank">{_esc(url)}</a>'))
    return "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)


_BOLD = re.compile(r"\*\*(?=\S)(.+?)\*\*")
_HEADING = re.compile(r"^(#{1,6}) +(.*)$", re.MULTILINE)


def _markdown_styles(text: str) -> tuple[dict[int, int], list[tuple[int, int, str, str]]]:
    """Markdown's headings and bold, found in the raw text: the markup to hide (start -> end) and the spans
    to style (start, end, opening tag, closing tag). Nothing else is interpreted: no link, image or HTML."""
    hidden: dict[int, int] = {}
    spans: list[tuple[int, int, str, str]] = []
    for m in _HEADING.finditer(text):
        hidden[m.start()] = m.start(2)
        spans.append((m.start(2), m.end(), f'<span class="h{len(m.group(1))}">', "</span>"))
    for m in _BOLD.finditer(text):
        hidden[m.start()] = m.start() + 2
        hidden[m.end() - 2] = m.end()
        spans.append((m.start() + 2, m.end() - 2, "<strong>", "</strong>"))
    for m in re.finditer(r"\*\*", text):  # an unpaired marker is markup too
        hidden.setdefault(m.start(), m.end())
    return hidden, spans


def _body(text: str, lo: int | None, hi: int | None, markdown: bool, label: str) -> str:
    """The document as escaped HTML, [lo, hi) in <mark id="cite">; styles are closed and reopened around
    the mark so that tags always nest."""
    hidden, spans = _markdown_styles(text) if markdown else ({}, [])
    opens: dict[int, list[tuple[int, str, str]]] = {}
    for a, b, tag, close in spans:
        opens.setdefault(a, []).append((b, tag, close))
    cuts = {0, len(text), *hidden, *hidden.values(), *(a for a, _, _, _ in spans), *(b for _, b, _, _ in spans)}
    marks = {lo: f'<mark id="cite" aria-label="{label}">', hi: "</mark>"} if lo is not None and hi is not None else {}
    cuts |= set(marks)
    out: list[str] = []
    stack: list[tuple[int, str, str]] = []
    skip_to = 0
    points = sorted(cuts)
    for a, b in zip(points, points[1:] + [len(text)], strict=True):
        while stack and stack[-1][0] <= a:
            out.append(stack.pop()[2])
        if a in marks:
            out.extend(close for _, _, close in reversed(stack))
            out.append(marks[a])
            out.extend(tag for _, tag, _ in stack)
        for item in sorted(opens.get(a, []), reverse=True):  # the longer span opens first
            out.append(item[1])
            stack.append(item)
        skip_to = max(skip_to, hidden.get(a, 0))
        if a >= skip_to and b > a:
            out.append(_esc(text[a:b]))
    out.extend(close for _, _, close in reversed(stack))
    return "".join(out)


def render_source_page(view: SourceView, start: int | None, end: int | None, lang: Lang = "fr") -> str:
    """The page of one document; [start, end) (document offsets) is highlighted and scrolled to (#cite)."""
    text = view.text
    # Markdown files, and web pages, whose headings the loader writes as Markdown ones (ingest.html)
    markdown = public_source(view.metadata).split("#", 1)[0].lower().endswith((".md", ".markdown", ".html", ".htm"))
    lo = hi = None
    if start is not None and end is not None and end > start:
        lo = min(max(start - view.origin, 0), len(text))
        hi = min(max(end - view.origin, 0), len(text))
    if lo is not None and hi is not None and hi > lo:
        body = _body(text, lo, hi, markdown, LABELS["cited"][lang])
        skip = f'<p class="skip"><a href="#cite">{LABELS["to_cited"][lang]}</a></p>'
    else:
        body, skip = _body(text, None, None, markdown, ""), ""
    badge = f'<p><span class="badge">{LABELS["illustrative"][lang]}</span></p>' \
        if view.metadata.get("illustratif") else ""
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(view.title)} — Sève</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{_esc(view.title)}</h1>{badge}<dl>{_meta_rows(view, lang)}</dl>{skip}</header>"
            f'<main><div class="doc">{body}</div></main></body></html>')


def render_not_found(lang: Lang, message: str) -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{LABELS['not_found_title'][lang]} — Sève</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{LABELS['not_found_title'][lang]}</h1></header><main><p>{_esc(message)}</p>"
            f'<p><a href="/">{LABELS["back"][lang]}</a></p></main></body></html>')
