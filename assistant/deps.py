"""`Annotated` dependency aliases for the routes, and the partner gate of the app."""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from assistant.i18n import Lang, pick_lang
from assistant.partners import Gate, PartnerKey, gate_from_settings, normalize_origin
from assistant.service import Assistant

_gate_lock = threading.Lock()


def get_assistant(request: Request) -> Assistant:
    assistant = request.app.state.assistant
    if assistant is None:  # mounted without its lifespan (tests of the UI alone)
        assistant = request.app.state.assistant = request.app.state.assistant_factory().warm_up()
    return assistant


def get_lang(request: Request, accept_language: Annotated[str | None, Header()] = None) -> Lang:
    return pick_lang(request.query_params.get("lang") or accept_language)


def gate_of(app: Any) -> Gate:
    """The app's gate; built once from the assistant's settings unless one was given to create_api."""
    gate = app.state.gate
    if gate is None:
        with _gate_lock:
            if app.state.gate is None:
                assistant = app.state.assistant or app.state.assistant_factory().warm_up()
                app.state.assistant = assistant
                app.state.gate = gate_from_settings(assistant.settings)
            gate = app.state.gate
    return gate


def base_url(request: Request) -> str:
    """Sève's public address, for absolute links: SEVE_PUBLIC_URL, else the address the request came to."""
    assistant = request.app.state.assistant
    public = getattr(getattr(assistant, "settings", None), "public_url", None)
    return public or str(request.base_url).rstrip("/")


def own_origins(request: Request) -> set[str]:
    """Sève's own origins: the one the request came to, and SEVE_PUBLIC_URL's (behind a proxy)."""
    origins = set()
    for url in (base_url(request), str(request.base_url)):
        try:
            origins.add(normalize_origin(url.rstrip("/")))
        except ValueError:  # a malformed Host header: no own origin to recognise
            pass
    return origins


async def check_partner(request: Request, lang: Annotated[Lang, Depends(get_lang)],
                        x_seve_key: Annotated[str | None, Header(
                            alias="X-Seve-Key", description="Clé publique de partenaire (pk_…) : `seve keys create`")
                        ] = None) -> PartnerKey | None:
    """The gate: the partner's key, if any, checked against the page's origin and its quotas. Its refusals
    speak the language the request asked for, the chat body's `lang` included."""
    lang = await body_lang(request) or lang
    request.state.lang = lang
    return await run_in_threadpool(
        gate_of(request.app).check, x_seve_key, request.headers.get("origin"), own_origins(request),
        client=request.client.host if request.client else "", lang=lang)


async def body_lang(request: Request) -> Lang | None:
    """The `lang` of a JSON body (the chat routes'), when there is one; the body is read once and cached."""
    if request.method != "POST" or "json" not in request.headers.get("content-type", ""):
        return None
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    lang = body.get("lang") if isinstance(body, dict) else None
    return lang if lang in ("fr", "en") else None


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
LangDep = Annotated[Lang, Depends(get_lang)]
