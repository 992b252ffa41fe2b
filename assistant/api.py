"""The HTTP API (FastAPI): /api/health, /api/chat, /api/chat/stream, /api/search; OpenAPI at /docs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.deps import AssistantDep, LangDep
from assistant.errors import SeveError, as_seve_error
from assistant.i18n import pick_lang, t
from assistant.schemas import (
    ChatRequest,
    ChatResponse,
    ExamplesResponse,
    HealthResponse,
    SearchResponse,
    chat_response,
    citation_out,
    event_out,
)
from assistant.service import Assistant
from index.filters import FILTER_KEYS, FilterError
from index.store import StoreError

router = APIRouter(prefix="/api")


@router.get("/health", response_model=HealthResponse)
def health(assistant: AssistantDep) -> dict[str, Any]:
    return assistant.health()


@router.post("/chat", response_model=ChatResponse)
def chat(body: ChatRequest, assistant: AssistantDep, lang: LangDep) -> ChatResponse:
    """The finished answer: the same events as /api/chat/stream, collected."""
    return chat_response(assistant.chat(body.message, body.history, body.filters, lang=body.lang or lang,
                                        detect_filters=body.detect_filters))


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/chat/stream", responses={200: {"content": {"text/event-stream": {}},
                                              "description": "Événements citations, token, replace, done, error"}})
async def chat_stream(body: ChatRequest, assistant: AssistantDep, lang: LangDep) -> StreamingResponse:
    """Server-sent events as the answer is produced. Bad input is an HTTP error before the stream starts;
    an error once it has started is an `error` event (`{"error", "message"}`), never a broken connection."""
    lang = body.lang or lang
    produced = await run_in_threadpool(assistant.stream, body.message, body.history, body.filters, lang,
                                       body.detect_filters)

    async def events() -> AsyncIterator[str]:
        try:
            async for event in iterate_in_threadpool(produced):
                yield sse(event.kind, event_out(event))
        except Exception as exc:  # noqa: BLE001 - reported in-band, in the one error format
            yield sse("error", as_seve_error(exc, lang).body())

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/search", response_model=SearchResponse)
def search(request: Request, assistant: AssistantDep, lang: LangDep,
           q: Annotated[str, Query(description="La requête")],
           k: Annotated[int, Query(ge=1, le=50)] = 10) -> dict[str, Any]:
    citations = assistant.search(q, k, _query_filters(request, ("q", "k", "lang")), lang=lang)
    return {"results": [citation_out(c) for c in citations]}


@router.get("/examples", response_model=ExamplesResponse)
def examples(request: Request, assistant: AssistantDep, lang: LangDep,
             q: Annotated[str, Query(description="Requête libre (facultative) ; des filtres y sont lus")] = "",
             k: Annotated[int, Query(ge=1, le=100)] = 10,
             detect_filters: Annotated[bool, Query(description="Lire des filtres dans la requête")] = True,
             ) -> dict[str, Any]:
    filters = _query_filters(request, ("q", "k", "lang", "detect_filters"))
    return assistant.examples(q, filters, k, lang=lang, detect_filters=detect_filters)


def _query_filters(request: Request, reserved: tuple[str, ...]) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for key in request.query_params:
        if key in reserved:
            continue
        values = request.query_params.getlist(key)
        filters[key] = values if len(values) > 1 else values[0]
    return filters


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": code, "message": message})


def _validation_message(exc: RequestValidationError, lang: str) -> tuple[str, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return "invalid_json", t("invalid_json", lang)
    details = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'corps'} : {e.get('msg', '')}" for e in errors[:5])
    return "invalid_request", t("invalid_request", lang, details=details)


def install_error_handlers(app: FastAPI) -> None:
    def lang_of(request: Request) -> str:
        return pick_lang(request.query_params.get("lang") or request.headers.get("accept-language"))

    async def _seve(request: Request, exc: Exception) -> JSONResponse:
        error = as_seve_error(exc, lang_of(request))
        return JSONResponse(status_code=error.status_code, content=error.body())

    # one conversion (assistant.errors.as_seve_error) for every error the assistant can raise
    for kind in (SeveError, FilterError, StoreError):
        app.add_exception_handler(kind, _seve)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = _validation_message(exc, lang_of(request))
        return _error(400 if code == "invalid_json" else 422, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = t("not_found", lang_of(request)) if exc.status_code == 404 else str(exc.detail)
        return _error(exc.status_code, "http_error", message)

    app.add_exception_handler(Exception, _seve)


def create_api(assistant_factory: Callable[[], Assistant], cors_origins: Sequence[str] = ("*",)) -> FastAPI:
    """The API app; the assistant (and its model) is built and warmed up once, in the lifespan.

    CORS is open to `cors_origins` so that the widget can call the API from partner websites.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "assistant", None) is None:
            app.state.assistant = assistant_factory().warm_up()
        yield

    app = FastAPI(
        title="Sève API",
        description="Recherche conversationnelle sur le corpus des alliances (ODD 17). Filtres acceptés : "
        + ", ".join(sorted(FILTER_KEYS)),
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.assistant = None
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "Accept-Language"])
    app.include_router(router)
    install_error_handlers(app)
    return app
