"""Shared records of the assistant: a citation, an answer, and the events an answer is made of.

The wire format of these records is defined once, in `assistant.schemas`; `as_dict` goes through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from index.store import ScoredChunk

EventKind = Literal["citations", "token", "replace", "done", "error"]


@dataclass(frozen=True)
class Citation:
    n: int
    chunk: ScoredChunk
    snippet: str
    start: int
    end: int

    def as_dict(self) -> dict[str, Any]:
        from assistant.schemas import citation_out

        return citation_out(self).model_dump()


@dataclass
class Answer:
    answer: str
    citations: list[Citation] = field(default_factory=list)
    grounded: bool = False
    standalone_question: str = ""
    mode: str = "extractive"
    filters: dict[str, Any] = field(default_factory=dict)
    kind: str = "refusal"  # what the answer is: definition, list, comparison, figure, examples, smalltalk…
    fallback_reason: str | None = None  # why an LLM answer fell back to the extractive one

    def as_dict(self) -> dict[str, Any]:
        from assistant.schemas import chat_response

        return chat_response(self).model_dump()


@dataclass(frozen=True)
class Event:
    """One step of an answer as it is produced.

    - `citations`: `data` is the list of Citation the answer may cite (sent first);
    - `token`: `data` is a piece of text to append;
    - `replace`: `data` is the whole text so far, replacing what was sent (fallback, citation repair), and
      `citations` the list it now cites;
    - `done`: `data` is the finished Answer;
    - `error`: `data` is the SeveError that ended the stream.
    """

    kind: EventKind
    data: Any
    citations: list[Citation] | None = None
