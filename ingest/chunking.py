"""Chunking: SourceDocument -> Chunk spans with character offsets.

llama-index's SentenceSplitter does the splitting (here and nowhere else), with a French sentence
tokenizer and the embedding model's own token counter, so `chunk_size` is in model tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Protocol

from ingest.models import Chunk, SourceDocument

# Abbreviations after which a period does not end a French sentence.
_ABBREVIATIONS = (
    "M", "MM", "Mme", "Mmes", "Mlle", "Dr", "Pr", "St", "Ste", "art", "cf", "coll", "env", "etc", "ex",
    "fig", "hab", "n", "no", "p", "pp", "vol", "éd", "av", "bd", "J.-C", "c.-à-d", "min", "max", "Mds", "Md",
)
_SENTENCE_END = re.compile(r"[.!?…]+[»\")\]]*\s+|\n{2,}")


_BLOCK_START = re.compile(r"[ \t]*(?:[-*+•]|#{1,6}|\d{1,2}[.)])[ \t]")


def _blocks(text: str) -> list[str]:
    """Paragraphs, headings and list items: a heading or a list item is never glued to the next line."""
    blocks: list[str] = []
    start = pos = 0
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        pos += len(line)
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if (not line.strip() or line.lstrip().startswith("#") or not following.strip()
                or _BLOCK_START.match(following)):
            blocks.append(text[start:pos])
            start = pos
    if start < len(text):
        blocks.append(text[start:])
    return blocks


def _split_block(text: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        candidate = text[start:match.start()]
        last_word = re.search(r"([\w.\-]+)$", candidate)
        if match.group().startswith(".") and last_word:
            word = last_word.group(1)
            if word in _ABBREVIATIONS or re.fullmatch(r"[A-ZÀ-Ý]", word) or word.isdigit() and end < len(text) \
                    and text[end:end + 1].isdigit():
                continue
        following = text[end:end + 1]
        if following and following.islower() and "\n" not in match.group():
            continue
        pieces.append(text[start:end])
        start = end
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def split_sentences(text: str) -> list[str]:
    """French-aware sentence split that keeps every character: "".join(result) == text.

    Headings and list items (Markdown) end where their line ends; elsewhere a line break is not a
    sentence end (PDF text wraps lines mid-sentence).
    """
    return [piece for block in _blocks(text) for piece in _split_block(block)]


def sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence in text, trailing whitespace excluded."""
    cursor = 0
    for piece in split_sentences(text):
        stripped = piece.rstrip()
        lead = len(stripped) - len(stripped.lstrip())
        if stripped.strip():
            yield cursor + lead, cursor + len(stripped)
        cursor += len(piece)


class TokenCounter(Protocol):
    def count_tokens(self, text: str) -> int: ...


class Chunker:
    """Splits documents into overlapping chunks of at most `chunk_size` model tokens."""

    def __init__(self, counter: TokenCounter, chunk_size: int = 256, chunk_overlap: int = 32) -> None:
        if chunk_overlap >= chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        from llama_index.core.node_parser import SentenceSplitter

        tokenize: Callable[[str], list[int]] = lambda s: [0] * counter.count_tokens(s)  # noqa: E731
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._splitter = SentenceSplitter(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            tokenizer=tokenize,
            paragraph_separator="\n\n",
            chunking_tokenizer_fn=split_sentences,
            secondary_chunking_regex=r"[^,;:]+[,;:]?",
            include_metadata=False,
            include_prev_next_rel=False,
        )

    @property
    def signature(self) -> str:
        """What the chunks depend on besides the document: changing it re-chunks every document."""
        return f"sentence-splitter/fr-v2/{self.chunk_size}/{self.chunk_overlap}"

    def chunk(self, document: SourceDocument) -> list[Chunk]:
        pieces = self._splitter.split_text(document.text)
        chunks: list[Chunk] = []
        cursor = 0
        for piece in pieces:
            span = locate(document.text, piece, cursor)
            if span is None:
                continue
            start, end = span
            chunks.append(Chunk(doc_id=document.id, text=document.text[start:end], start=start, end=end,
                                metadata=dict(document.metadata)))
            # overlapping chunks may begin before the previous chunk's end
            cursor = start + 1
        return chunks


def locate(text: str, piece: str, cursor: int) -> tuple[int, int] | None:
    """Where `piece` stands in `text` at or after `cursor`, tolerant to whitespace changes."""
    piece = piece.strip()
    if not piece:
        return None
    found = text.find(piece, cursor)
    if found < 0:
        found = text.find(piece)
    if found >= 0:
        return found, found + len(piece)
    words = piece.split()
    pattern = r"\s+".join(re.escape(w) for w in words)
    match = re.compile(pattern).search(text, cursor) or re.compile(pattern).search(text)
    return (match.start(), match.end()) if match else None
