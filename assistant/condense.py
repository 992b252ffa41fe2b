"""Query condensation: history + follow-up question -> a standalone question (no LLM needed)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_FOLLOW_UP = re.compile(
    r"^(et|mais|alors|aussi|puis|ensuite|and|what about)\b|"
    r"\b(ils|elles|eux|celui|celle|ceux|celles|cela|ça|ce dispositif|cette démarche|ces (exemples|projets|"
    r"initiatives|actions|acteurs|partenariats)|leur|leurs|là-bas|y|en|lesquel(le)?s?|le même|la même|"
    r"les mêmes|ce dernier|cette dernière|it|they|them|those|these)\b",
    re.IGNORECASE,
)


def _content(message: Any) -> tuple[str, str]:
    if isinstance(message, dict):
        return str(message.get("role", "")), str(message.get("content", ""))
    return str(getattr(message, "role", "")), str(getattr(message, "content", ""))


def is_follow_up(question: str) -> bool:
    words = re.findall(r"\w+", question)
    return len(words) <= 4 or bool(_FOLLOW_UP.search(question.strip()))


def last_user_message(history: Sequence[Any]) -> str | None:
    previous = [content for role, content in map(_content, history) if role == "user" and content.strip()]
    return previous[-1] if previous else None


def last_assistant_message(history: Sequence[Any]) -> str:
    said = [content for role, content in map(_content, history) if role == "assistant" and content.strip()]
    return said[-1] if said else ""


def condense(question: str, history: Sequence[Any]) -> str:
    """Prefix a follow-up with the previous user question, so retrieval sees the whole topic."""
    question = question.strip()
    previous = [content for role, content in map(_content, history) if role == "user" and content.strip()]
    if not previous or not is_follow_up(question):
        return question
    return f"{previous[-1].strip()} {question}"
