"""A small error hierarchy that knows its HTTP status; turned into a response or a CLI line in one place."""

from __future__ import annotations

from assistant.i18n import t


class SeveError(Exception):
    status_code = 500

    def __init__(self, message: str, *, code: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class BadRequest(SeveError):
    status_code = 400


class InvalidInput(SeveError):
    status_code = 422


class NotReady(SeveError):
    status_code = 503


def question_error(message: str, max_chars: int, lang: str = "fr") -> InvalidInput | None:
    """The validation error for a question, or None when it is acceptable."""
    if not message or not message.strip():
        return InvalidInput(t("empty_question", lang), code="empty_question")
    if len(message) > max_chars:
        return InvalidInput(t("question_too_long", lang, n=len(message), max=max_chars), code="question_too_long")
    return None
