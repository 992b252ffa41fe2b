"""One error tree: each error knows its HTTP status and its code.

Errors raised below the assistant (a bad filter in `index.filters`, an unusable store in `index.store`) and
unexpected exceptions are converted by `as_seve_error` — the one place every surface (HTTP, server-sent
events, CLI, Gradio) goes through — so a store error is "index_unavailable" everywhere, never "internal".
"""

from __future__ import annotations

import logging

from assistant.i18n import MESSAGES, t

log = logging.getLogger("seve")


class SeveError(Exception):
    status_code = 500
    default_code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code

    def body(self) -> dict[str, str]:
        """The wire form of every error: `{"error": code, "message": text}`."""
        return {"error": self.code, "message": self.message}


class BadRequest(SeveError):
    status_code = 400
    default_code = "bad_request"


class InvalidInput(SeveError):
    status_code = 422
    default_code = "invalid_request"


class InvalidFilter(InvalidInput):
    default_code = "invalid_filter"


class NotFound(SeveError):
    status_code = 404
    default_code = "not_found"


class NotReady(SeveError):
    status_code = 503
    default_code = "not_ready"


class IndexUnavailable(SeveError):
    status_code = 503
    default_code = "index_unavailable"


class Internal(SeveError):
    status_code = 500
    default_code = "internal"


class GenerationError(SeveError):
    """A generative backend failed (down, timeout, quota, malformed output). Never shown to a user: the
    answer falls back to the extractive one, and `reason` becomes the response's `fallback_reason`."""

    status_code = 502
    default_code = "generation_failed"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason, code="generation_failed")
        self.reason = reason


def as_seve_error(exc: BaseException, lang: str = "fr") -> SeveError:
    """Any exception as a SeveError. Unknown ones are logged with their traceback and become `internal`."""
    from index.filters import FilterError
    from index.store import StoreError

    if isinstance(exc, SeveError):
        return exc
    if isinstance(exc, FilterError):
        key = f"filter_{exc.kind}"
        return InvalidFilter(t(key, lang, **exc.params) if key in MESSAGES else str(exc))
    if isinstance(exc, StoreError):
        return IndexUnavailable(str(exc))
    log.error("unexpected error", exc_info=exc)
    return Internal(t("internal", lang))


def question_error(message: str, max_chars: int, lang: str = "fr") -> InvalidInput | None:
    """The validation error for a question, or None when it is acceptable."""
    if not message or not message.strip():
        return InvalidInput(t("empty_question", lang), code="empty_question")
    if len(message) > max_chars:
        return InvalidInput(t("question_too_long", lang, n=len(message), max=max_chars), code="question_too_long")
    return None
