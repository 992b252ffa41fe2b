"""`Annotated` dependency aliases for the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from assistant.i18n import Lang, pick_lang
from assistant.service import Assistant


def get_assistant(request: Request) -> Assistant:
    return request.app.state.assistant


def get_lang(request: Request, accept_language: Annotated[str | None, Header()] = None) -> Lang:
    return pick_lang(request.query_params.get("lang") or accept_language)


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
LangDep = Annotated[Lang, Depends(get_lang)]
