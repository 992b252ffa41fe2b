"""The HTTP API (FastAPI): /api/health, /api/chat, /api/chat/stream, /api/search, /api/examples, the source
view /sources/{doc_id}; OpenAPI at /docs.

Partner keys: the routes that answer (chat, stream, search, examples) go through the gate
(`assistant.partners`): an `X-Seve-Key` header, the page's Origin, quotas. `PartnerCORS` answers the
browser's CORS questions per key's origins."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.deps import AssistantDep, LangDep, base_url, check_partner, gate_of
from assistant.errors import SeveError, as_seve_error
from assistant.i18n import pick_lang, t, validation_text
from assistant.partners import Gate, PartnerError
from assistant.schemas import (
    ChatRequest,
    ChatResponse,
    ErrorResponse,
    ExamplesResponse,
    HealthResponse,
    SearchResponse,
    chat_response,
    citation_out,
    event_out,
)
from assistant.service import Assistant
from assistant.sources import PAGE_HEADERS, render_not_found, render_source_page, source_link
from index.filters import FILTER_KEYS, FilterError
from index.store import StoreError

GATE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Clé de partenaire manquante (SEVE_REQUIRE_KEY=1), inconnue ou "
                                                 "révoquée"},
    403: {"model": ErrorResponse, "description": "Clé utilisée depuis un site auquel elle n'est pas liée, ou site "
                                                 "non autorisé sans clé"},
    429: {"model": ErrorResponse, "description": "Quota dépassé ; l'en-tête Retry-After donne l'attente en secondes"},
}

# Every error is `{"error", "message"}` in the asked language (not FastAPI's default `{"detail": ...}`).
INPUT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Corps de requête qui n'est pas du JSON valide"},
    422: {"model": ErrorResponse, "description": "Requête invalide : champ manquant ou mal typé, question vide ou "
                                                 "trop longue, filtre ou région inconnus"},
    503: {"model": ErrorResponse, "description": "Index vide ou indisponible"},
}
router = APIRouter(prefix="/api", responses={503: INPUT_ERRORS[503]})
# The routes that answer questions: behind the partner gate (key, origin, quotas).
answering = APIRouter(prefix="/api", dependencies=[Depends(check_partner)], responses={**GATE_ERRORS, **INPUT_ERRORS})
pages = APIRouter()


@router.get("/health", response_model=HealthResponse)
def health(assistant: AssistantDep) -> dict[str, Any]:
    return assistant.health()


@answering.post("/chat", response_model=ChatResponse)
def chat(request: Request, body: ChatRequest, assistant: AssistantDep, lang: LangDep) -> ChatResponse:
    """The finished answer: the same events as /api/chat/stream, collected."""
    lang = request.state.lang = body.lang or lang
    return chat_response(assistant.chat(body.message, body.history, body.filters, lang=lang,
                                        detect_filters=body.detect_filters), base_url(request), lang)


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@answering.post("/chat/stream", responses={200: {"content": {"text/event-stream": {}},
                                                 "description": "Événements citations, token, replace, done, error"}})
async def chat_stream(request: Request, body: ChatRequest, assistant: AssistantDep,
                      lang: LangDep) -> StreamingResponse:
    """Server-sent events as the answer is produced. Bad input is an HTTP error before the stream starts;
    an error once it has started is an `error` event (`{"error", "message"}`), never a broken connection."""
    lang = request.state.lang = body.lang or lang
    produced = await run_in_threadpool(assistant.stream, body.message, body.history, body.filters, lang,
                                       body.detect_filters)
    base = base_url(request)

    async def events() -> AsyncIterator[str]:
        try:
            async for event in iterate_in_threadpool(produced):
                yield sse(event.kind, event_out(event, base, lang))
        except Exception as exc:  # noqa: BLE001 - reported in-band, in the one error format
            yield sse("error", as_seve_error(exc, lang).body())

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@answering.get("/search", response_model=SearchResponse)
def search(request: Request, assistant: AssistantDep, lang: LangDep,
           q: Annotated[str, Query(description="La requête")],
           k: Annotated[int, Query(ge=1, le=50)] = 10) -> dict[str, Any]:
    citations = assistant.search(q, k, _query_filters(request, ("q", "k", "lang")), lang=lang)
    base = base_url(request)
    return {"results": [citation_out(c, base, lang) for c in citations]}


@answering.get("/examples", response_model=ExamplesResponse)
def examples(request: Request, assistant: AssistantDep, lang: LangDep,
             q: Annotated[str, Query(description="Requête libre (facultative) ; des filtres y sont lus")] = "",
             k: Annotated[int, Query(ge=1, le=100)] = 10,
             detect_filters: Annotated[bool, Query(description="Lire des filtres dans la requête")] = True,
             ) -> dict[str, Any]:
    filters = _query_filters(request, ("q", "k", "lang", "detect_filters"))
    found = assistant.examples(q, filters, k, lang=lang, detect_filters=detect_filters)
    base = base_url(request)
    for card in found["results"]:
        card["link"] = source_link(base, card["doc_id"], lang=lang)
    return found


@pages.get("/sources/{doc_id}", response_class=HTMLResponse, include_in_schema=True,
           summary="Un document du corpus, passage cité surligné")
def source_page(doc_id: str, assistant: AssistantDep, lang: LangDep,
                start: Annotated[str | None, Query(description="Début du passage cité (décalage)")] = None,
                end: Annotated[str | None, Query(description="Fin du passage cité (décalage)")] = None,
                ) -> HTMLResponse:
    """The page citations link to: the document's title, type, metadata and original address, its text with
    the cited span highlighted (`#cite`). No script runs on it (Content-Security-Policy)."""
    view = assistant.document(doc_id)
    if view is None:
        return HTMLResponse(render_not_found(lang, t("document_not_found", lang)), status_code=404,
                            headers=PAGE_HEADERS)
    return HTMLResponse(render_source_page(view, _offset(start), _offset(end), lang), headers=PAGE_HEADERS)


def _offset(value: str | None) -> int | None:
    """A document offset from the query; anything else (missing, negative, not a number) highlights nothing."""
    if value is None or not value.strip().isdigit() or len(value) > 12:
        return None
    return int(value)


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
    """The request's validation errors in the user's language (pydantic's own messages are English only)."""
    errors = exc.errors()
    if any(e.get("type") in ("json_invalid", "json_type") for e in errors):
        return "invalid_json", t("invalid_json", lang)
    parts = []
    for e in errors[:5]:
        loc = [str(p) for p in e.get("loc", ())]
        where = ".".join(loc[1:]) if len(loc) > 1 else t("body", lang)
        if loc and loc[0] in ("query", "header", "path") and len(loc) > 1:
            where = loc[1]
        parts.append(f"{where} : {validation_text(str(e.get('type')), lang, e.get('ctx'))}")
    return "invalid_request", t("invalid_request", lang, details="; ".join(parts))


def lang_of(request: Request) -> str:
    """The language of an error: the one the route read (body `lang` included), else `lang` or Accept-Language."""
    chosen = getattr(request.state, "lang", None)
    if chosen in ("fr", "en"):
        return chosen
    try:
        return pick_lang(request.query_params.get("lang") or request.headers.get("accept-language"))
    except Exception:  # noqa: BLE001 - a malformed query string: French
        return "fr"


def install_error_handlers(app: FastAPI) -> None:
    async def _seve(request: Request, exc: Exception) -> JSONResponse:
        error = as_seve_error(exc, lang_of(request))
        headers = error.headers if isinstance(error, PartnerError) else None
        return JSONResponse(status_code=error.status_code, content=error.body(), headers=headers)

    # one conversion (assistant.errors.as_seve_error) for every error the assistant can raise
    for kind in (SeveError, FilterError, StoreError):
        app.add_exception_handler(kind, _seve)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = _validation_message(exc, lang_of(request))
        return _error(400 if code == "invalid_json" else 422, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        lang = lang_of(request)
        path = request.url.path[:200]
        if exc.status_code == 404:
            return _error(404, "not_found", t("not_found", lang, path=path))
        if exc.status_code == 405:
            given = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow") or ""
            allowed = ", ".join(sorted({m.strip() for m in given.split(",") if m.strip()} - {"HEAD"})) or "GET"
            return JSONResponse(status_code=405, headers={"Allow": allowed}, content={
                "error": "method_not_allowed",
                "message": t("method_not_allowed", lang, method=request.method[:20], path=path, allowed=allowed)})
        return _error(exc.status_code, "http_error", t("http_error", lang, status=exc.status_code))

    app.add_exception_handler(Exception, _seve)


class PartnerCORS:
    """CORS for the API, per partner key (a pure ASGI middleware, so streamed answers stay streamed).

    - A preflight (`OPTIONS` with `Access-Control-Request-Method`) to /api is answered for any page: it only
      lets the browser send the request, which the gate then judges with its key.
    - A response is shared with the calling page (`Access-Control-Allow-Origin`) when the page's site is in
      SEVE_CORS_ORIGINS or is bound to the request's key; the gate's own refusals (401, 403, 429) are shared
      too, so that the widget can tell the visitor what happened (with `Retry-After`).
    """

    ALLOW_HEADERS = "Content-Type, Accept-Language, X-Seve-Key"
    SHARED_ERRORS = (401, 403, 429)

    def __init__(self, app: Any, api: FastAPI) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if not origin:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await send({"type": "http.response.start", "status": 204, "headers": [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", b"GET, POST"),
                (b"access-control-allow-headers", self.ALLOW_HEADERS.encode()),
                (b"access-control-max-age", b"600"), (b"vary", b"Origin")]})
            await send({"type": "http.response.body", "body": b""})
            return
        shared = gate_of(self.api).may_read(origin, headers.get("x-seve-key"))

        async def send_with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and (shared or message["status"] in self.SHARED_ERRORS):
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"access-control-allow-origin", origin.encode("latin-1")),
                                                  (b"access-control-expose-headers", b"Retry-After"),
                                                  (b"vary", b"Origin")]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


def create_api(assistant_factory: Callable[[], Assistant], gate: Gate | None = None) -> FastAPI:
    """The API app; the assistant (and its model) is built and warmed up once, in the lifespan.

    `gate` judges partner keys, origins and quotas; by default it is built from the assistant's settings
    (keys in DATA_DIR/partners.sqlite3).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "assistant", None) is None:
            app.state.assistant = assistant_factory().warm_up()
        app.state.assistant.watch()
        gate_of(app)
        yield
        app.state.assistant.close()

    app = FastAPI(
        docs_url=None,  # served below from packaged assets: the default page loads Swagger UI from a CDN
        redoc_url=None,
        title="Sève API",
        description="Recherche conversationnelle sur le corpus des alliances (ODD 17). Filtres acceptés : "
        + ", ".join(sorted(FILTER_KEYS)) + ". Les routes qui répondent acceptent une clé de partenaire "
        "(en-tête X-Seve-Key, créée par `seve keys create`).",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.assistant = None
    app.state.gate = gate
    app.state.assistant_factory = assistant_factory
    app.add_middleware(PartnerCORS, api=app)
    app.include_router(router)
    app.include_router(answering)
    app.include_router(pages)
    install_docs(app)
    install_api_fallback(app)
    install_error_handlers(app)
    return app


def install_api_fallback(app: FastAPI) -> None:
    """Every other /api address answers in the API's own error format, even when an app is mounted at / after
    the API (the Gradio UI would otherwise answer `{"detail": "Not Found"}`): 405 with `Allow` when the path
    exists for other methods, else 404."""
    from starlette.routing import Match, Mount

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]

    @app.api_route("/api/{rest:path}", methods=methods, include_in_schema=False)
    def api_fallback(request: Request, rest: str) -> None:
        allowed: set[str] = set()
        for route in app.router.routes:
            if getattr(route, "endpoint", None) is api_fallback or isinstance(route, Mount):
                continue  # mounts (the UI at /, static files) take any method
            for method in methods:
                if route.matches({**request.scope, "method": method})[0] == Match.FULL:
                    allowed.add(method)
        if allowed:
            raise StarletteHTTPException(405, headers={"Allow": ", ".join(sorted(allowed - {"HEAD"}))})
        raise StarletteHTTPException(404)


def install_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc from the assets that ship in the fastapi-offline package: they work with
    no network, and no page of ours loads a script from another site."""
    from importlib.resources import files

    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs-assets", StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} — documentation",
                                   swagger_js_url=f"{root}/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}/docs-assets/swagger-ui.css",
                                   swagger_favicon_url=f"{root}/docs-assets/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} — ReDoc",
                              redoc_js_url=f"{root}/docs-assets/redoc.standalone.js",
                              redoc_favicon_url=f"{root}/docs-assets/favicon.png", with_google_fonts=False)
