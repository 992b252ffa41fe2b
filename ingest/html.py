"""Web pages -> readable text with their structure: headings as Markdown `#`, list items as `- `,
table rows as lines, paragraphs apart; menus, cookie banners, share buttons, sidebars and footers out.

Real pages are messy: a menu may be a `<nav>`, a `<div class="menu">` or a `<ul id="main-menu">`; a
cookie banner is a `<div>` like any other. Boilerplate is recognised by tag, by ARIA role and by the
words in its id and class; the page's `<main>` or `<article>` is preferred when it holds the text.
"""

from __future__ import annotations

import re
from typing import Any

_DROP_TAGS = ("script", "style", "noscript", "svg", "form", "button", "iframe", "template", "nav", "aside",
              "select", "input", "label", "dialog", "canvas", "video", "audio", "picture", "img")
_BOILERPLATE = re.compile(
    r"(?:^|[-_ ])(?:cookies?|consent\w*|gdpr|rgpd|tarteaucitron|banner|bandeau|newsletter|breadcrumbs?|"
    r"fil-?ariane|ariane|share|sharing|partage|social|socials|reseaux|menu|menus|navbar|nav|navigation|sidebar|"
    r"side-bar|related|lire-aussi|a-lire|voir-aussi|read-more|footer|pied|comments?|commentaires?|pagination|"
    r"skip|modal|popup|popin|widget|ads?|advert\w*|pub|promo|tags|mentions)(?:$|[-_ ])", re.IGNORECASE)
_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog"}
_BLOCK = {"p", "div", "section", "article", "main", "header", "blockquote", "figure", "figcaption", "address",
          "pre", "body", "html", "center", "details", "summary", "hr", "br"}
_HEADINGS = {f"h{i}": i for i in range(1, 7)}


def _is_boilerplate(tag: Any) -> bool:
    if tag.name in ("footer", "header") and tag.find_parent(("article", "main")) is None:
        return True
    if str(tag.get("role") or "").lower() in _ROLES:
        return True
    if tag.name in ("html", "body", "main", "article"):
        return False
    names = " ".join([str(tag.get("id") or "")] + [str(c) for c in (tag.get("class") or [])])
    return bool(names.strip()) and bool(_BOILERPLATE.search(names))


def _text(tag: Any) -> str:
    return " ".join(tag.get_text("").split())


# Below this many nested tags a subtree is read as flat text: a page nested 100,000 deep would otherwise
# exhaust Python's recursion limit.
MAX_NESTING = 150


class _Writer:
    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.inline: list[str] = []
        self.level = 0

    def flush(self) -> None:
        text = " ".join("".join(self.inline).split())
        if text:
            self.blocks.append(text)
        self.inline = []

    def walk(self, node: Any, depth: int = 0) -> None:
        from bs4 import NavigableString, Tag

        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child).__name__ not in ("Comment", "Doctype", "Declaration", "ProcessingInstruction", "CData"):
                    self.inline.append(str(child))
            elif isinstance(child, Tag):
                self._tag(child, depth)

    def _tag(self, tag: Any, depth: int) -> None:
        if self.level >= MAX_NESTING:
            self.inline.append(" " + tag.get_text(" ") + " ")
            return
        self.level += 1
        try:
            self._structured(tag, depth)
        finally:
            self.level -= 1

    def _structured(self, tag: Any, depth: int) -> None:
        name = tag.name
        special = {"ul": self._list, "ol": self._list, "table": self._table, "dl": self._definitions}
        if name in _HEADINGS:
            self.flush()
            if text := _text(tag):
                self.blocks.append("#" * _HEADINGS[name] + " " + text)
        elif name in special:
            self.flush()
            special[name](tag, depth)
        elif name == "br":
            self.flush()
        elif name in _BLOCK or name == "li":
            self.flush()
            self.walk(tag, depth)
            self.flush()
        else:
            self.walk(tag, depth)

    def _definitions(self, node: Any, depth: int = 0) -> None:
        for item in node.find_all(("dt", "dd")):
            if text := _text(item):
                self.blocks.append(("#### " if item.name == "dt" else "") + text)

    def _list(self, node: Any, depth: int) -> None:
        if depth >= MAX_NESTING:
            self.blocks.append(_text(node))
            return
        lines = []
        for item in node.find_all("li", recursive=False):
            nested = [sub.extract() for sub in item.find_all(("ul", "ol"), recursive=False)]
            if text := _text(item):
                lines.append("  " * depth + "- " + text)
            for sub in nested:
                inner = _Writer()
                inner._list(sub, depth + 1)
                lines.extend(inner.blocks[0].splitlines() if inner.blocks else [])
        if lines:
            self.blocks.append("\n".join(lines))

    def _table(self, node: Any, depth: int = 0) -> None:
        rows = []
        for row in node.find_all("tr"):
            cells = [_text(c) for c in row.find_all(("th", "td"))]
            if any(cells):
                rows.append(" | ".join(c for c in cells if c) + ("." if not cells[-1].endswith(".") else ""))
        if rows:
            self.blocks.append("\n\n".join(rows))


def html_to_text(markup: str) -> tuple[str, dict[str, str]]:
    """(structured text, metadata read from the page: title, description, date)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    meta: dict[str, str] = {}
    if soup.title and soup.title.get_text(strip=True):
        meta["title"] = " ".join(soup.title.get_text(" ", strip=True).split())
    for name in ("description", "date"):
        tag = soup.find("meta", attrs={"name": name})
        if tag and tag.get("content"):
            meta[name] = str(tag["content"])
    for tag in soup(list(_DROP_TAGS)):
        tag.decompose()
    for tag in [t for t in soup.find_all(True) if _is_boilerplate(t)]:
        if not tag.decomposed:
            tag.decompose()
    heading = soup.find("h1")
    if "title" not in meta and heading is not None and _text(heading):
        meta["title"] = _text(heading)
    root = soup.body or soup
    for candidate in (soup.find("main"), soup.find("article")):
        if candidate is not None and len(_text(candidate)) >= 200:
            root = candidate
            break
    writer = _Writer()
    writer.walk(root)
    writer.flush()
    return "\n\n".join(writer.blocks).strip(), meta
