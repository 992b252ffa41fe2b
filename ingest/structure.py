"""The structure of a passage: headings, list items and sentences, with their offsets in the document.

A retrieved chunk is read inside a window of its document (the chunks around it), so an answer can
quote the list that continues after the chunk, the sentence before one that starts with « Il », or the
figure in the next sentence. Markdown headings and list markers are read, and so are the shapes that
text pulled from PDFs and web pages has: numbered section titles, « • » bullets, short title lines,
words hyphenated across lines, running page headers and lone page numbers (dropped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ingest.chunking import sentence_spans

UnitKind = Literal["heading", "item", "sentence"]

_MD_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+(.*)$")
_ITEM = re.compile(r"^[ \t]*(?:[-*+•–▪◦·]|\(?\d{1,2}[.)]|[a-h]\))[ \t]+(?=\S)")
_NUMBERED_TITLE = re.compile(r"^[ \t]*(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[IVX]{1,5}\.|[A-H]\.)[ \t]+[A-ZÀ-Ý]")
_NOISE = re.compile(r"^\s*(?:\d{1,4}|p\. ?\d+|\d+ ?/ ?\d+)\s*$|\bpage \d+( sur \d+)?\s*$|\|\s*\d+\s*$",
                    re.IGNORECASE)
_END = re.compile(r"[.!?…:;»\")]\s*$")
_BOLD_LINE = re.compile(r"^[ \t]*(?:\*\*|__)[^*_\n]{2,80}(?:\*\*|__)[ \t]*:?[ \t]*$")
_BOLD_LEAD = re.compile(r"^[ \t]*(?:\*\*|__)[^*_\n]{2,80}(?:\*\*|__)")
# bold (** anywhere; __ only around words, as Markdown reads it, so that snake__case keeps its own) and code
_MARKUP = re.compile(r"\*\*|`|(?<![\w_])__(?=[^\s_])|(?<=[^\s_])__(?![\w_])")


def strip_inline_markup(text: str) -> str:
    """Text without the Markdown marks a reader does not see: bold, underscore bold, code."""
    return _MARKUP.sub("", text)


@dataclass(frozen=True)
class Unit:
    """One heading, list item or sentence of a document, as a reader sees it."""

    kind: UnitKind
    text: str
    start: int  # offsets in the document
    end: int
    heading: str = ""  # the nearest heading above
    level: int = 0  # headings: 1 (top) to 6; items: indentation depth
    block: int = 0  # paragraph or list number: units of one block are contiguous
    list_id: int = -1  # items of one list share it

    @property
    def is_statement(self) -> bool:
        return self.kind != "heading"


def clean(text: str) -> str:
    """One line of plain text: markup and list markers removed, hyphenated words joined."""
    text = re.sub(r"(\w)-\n[ \t]*(?=[a-zà-ÿ])", r"\1", text)
    text = _ITEM.sub("", text, count=1)
    return " ".join(strip_inline_markup(text).split())


def _looks_like_title(line: str, previous_blank: bool, following: str) -> bool:
    """A short line with no sentence end, followed by a line that starts a new sentence or a list."""
    text = line.strip()
    if not previous_blank or not text or len(text) > 80 or re.search(r"[.!?…:;]\s*$", text) \
            or re.search(r"\w[.?!] ", text[4:]):
        return False
    nxt = following.strip()[:1]
    if not (nxt == "" or nxt.isupper() or nxt.isdigit() or nxt in "-•–▪*«\""):
        return False
    return bool(_NUMBERED_TITLE.match(text)) or (len(text) < 70 and text[:1].isupper() and len(text.split()) <= 10)


@dataclass
class _Block:
    kind: UnitKind
    start: int
    end: int
    level: int = 0
    numbered: bool = False
    short: bool = False  # an item whose first line reads like a title (« 1. Diagnostic »)


def _blocks(text: str) -> list[_Block]:
    """Headings, list items and paragraphs of a text (offsets into it)."""
    blocks: list[_Block] = []
    lines = text.splitlines(keepends=True)
    seen: dict[str, int] = {}
    for line in lines:
        key = line.strip()
        if 10 < len(key) < 100:
            seen[key] = seen.get(key, 0) + 1
    repeated = {k for k, n in seen.items() if n >= 2 and not _ITEM.match(k)}  # running headers and footers
    lengths = sorted(len(line.rstrip()) for line in lines if line.strip())
    width = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0  # of hard-wrapped text (PDF)
    last_line = ""
    pos = 0
    current: _Block | None = None
    previous_blank = True
    for i, line in enumerate(lines):
        start, pos = pos, pos + len(line)
        stripped = line.strip()
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if not stripped or (len(stripped) < 70 and _NOISE.search(stripped)) or stripped in repeated:
            current = None
            previous_blank = previous_blank or not stripped
            continue
        block = _new_block(line, start, following, blocks, current, previous_blank)
        if block is None and current is not None and _ends_paragraph(last_line, stripped, width):
            block = _Block("sentence", start, start + len(line.rstrip()))
        if block is None and current is not None:
            current.end = start + len(line.rstrip())
        elif block is not None:
            blocks.append(block)
            current = None if block.kind == "heading" else block
        previous_blank = False
        last_line = line.rstrip()
    return blocks


def _new_block(line: str, start: int, following: str, blocks: list[_Block], current: _Block | None,
               previous_blank: bool) -> _Block | None:
    """The block a line starts (heading, item, paragraph), or None when it continues the current one."""
    stripped = line.strip()
    end = start + len(line.rstrip())
    if m := _MD_HEADING.match(line):
        return _Block("heading", start, end, len(m.group(1)))
    if _BOLD_LINE.match(line) and current is None:  # « **Moyens engagés** » alone on its line
        return _Block("heading", start, end, 5)
    after_short_items = bool(blocks) and blocks[-1].kind == "item" and blocks[-1].numbered and blocks[-1].short
    if _NUMBERED_TITLE.match(line) and _looks_like_title(line, True, following) and not _ITEM.match(following) \
            and not after_short_items:
        return _Block("heading", start, end, min(2 + stripped.split()[0].rstrip(".").count("."), 6))
    if _ITEM.match(line):
        indent = len(line) - len(line.lstrip())
        short = len(stripped) < 60 and not _END.search(stripped) and not re.search(r"\w[.?!] ", stripped)
        return _Block("item", start, end, 1 + indent // 2, bool(re.match(r"\s*\(?\d", line)), short)
    if _looks_like_title(line, previous_blank, following) and current is None:
        return _Block("heading", start, end, 3)
    if current is not None:
        return None
    if _BOLD_LEAD.match(line):  # « **Les richesses humaines.** Ce sont… »: an item of a list of paragraphs
        return _Block("item", start, end, 1)
    return _Block("sentence", start, end)


def _ends_paragraph(previous: str, line: str, width: int) -> bool:
    """In hard-wrapped text, a short line that ends a sentence, followed by a capital, ends a paragraph."""
    return bool(previous) and width >= 50 and len(previous.strip()) < 0.7 * width \
        and bool(re.search(r"[.!?…:]\s*$", previous)) and line[:1].isupper()


def parse(text: str, offset: int = 0) -> list[Unit]:
    """The units of a passage, in order; `offset` is where `text` starts in its document."""
    units: list[Unit] = []
    heading = ""
    list_id = -1
    last_kind: UnitKind | None = None
    for number, block in enumerate(_blocks(text)):
        raw = text[block.start:block.end]
        if block.kind == "heading":
            heading = clean(_MD_HEADING.sub(r"\2", raw))
            units.append(Unit("heading", heading, offset + block.start, offset + block.end, heading, block.level,
                              number))
            last_kind = "heading"
            continue
        if block.kind == "item":
            if last_kind != "item":
                list_id = number
            units.append(Unit("item", clean(raw), offset + block.start, offset + block.end, heading, block.level,
                              number, list_id))
            last_kind = "item"
            continue
        for start, end in sentence_spans(raw):
            sentence = clean(raw[start:end])
            if sentence:
                units.append(Unit("sentence", sentence, offset + block.start + start, offset + block.start + end,
                                  heading, 0, number))
        last_kind = "sentence"
    return units


QUOTABLE_MIN_CHARS = 25


def sentence_texts(text: str) -> list[str]:
    """The statements of a text that an answer may quote (list items and sentences), as the answer
    composer reads them: the ingest embeds them once, so a question only embeds itself."""
    seen: dict[str, None] = {}
    for unit in parse(text):
        if unit.kind != "heading" and QUOTABLE_MIN_CHARS <= len(unit.text) <= 700:
            seen.setdefault(unit.text, None)
    return list(seen)


_PRONOUN_START = re.compile(
    r"^(?:il|elle|ils|elles|ce|cela|ceci|ça|celui-ci|celle-ci|ceux-ci|celles-ci|ces|cette|cet|leur|leurs|"
    r"son|sa|ses|lui|eux|en effet|ainsi|par ailleurs|de plus|en outre|pourtant|cependant|toutefois|mais|donc|"
    r"aussi|enfin|ensuite|puis|or|c'est|c’est|là|y|en revanche|à l'inverse|à l’inverse|de même|"
    r"dans ce cadre|dans ce cas|pour cela|à cet égard|à ce titre|celui|celle|ceux|celles|autrement dit|"
    r"this|these|they|it|its|their)\b",
    re.IGNORECASE)


def leans_on_previous(text: str) -> bool:
    """A sentence whose subject is a pronoun or that opens with a connector needs the one before it."""
    return bool(_PRONOUN_START.match(text.strip()))
