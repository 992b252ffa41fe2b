"""The wire format, defined once: request and response schemas of the HTTP API, also used by the stream
(SSE), `seve ask --json` and the Gradio chat. `citation_out`, `chat_response` and `event_out` turn the
assistant's records (assistant.models) into them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from assistant.models import Answer, Citation, Event


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20000)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(description="La question de l'utilisateur")
    history: list[Message] = Field(default_factory=list, max_length=200)
    filters: dict[str, Any] = Field(default_factory=dict)
    detect_filters: bool = Field(default=True, description="Lire des filtres dans la question (région, domaine…)")
    lang: Literal["fr", "en"] | None = None


class CitationOut(BaseModel):
    n: int
    doc_id: str
    chunk_id: str
    title: str
    doc_type: str
    url: str | None = Field(description="Adresse d'origine du document, s'il en a une")
    source: str = Field(description="Nom du fichier d'origine (sans dossier)")
    link: str = Field(description="Page de Sève qui montre le document, passage cité surligné (/sources/…)")
    snippet: str
    start: int
    end: int
    score: float
    metadata: dict[str, Any]


class FiltersOut(BaseModel):
    applied: dict[str, list[Any]] = Field(description="Filtres appliqués (lus dans la question et explicites)")
    detected: dict[str, list[Any]] = Field(description="Filtres lus dans la question ; detect_filters=false les retire")
    relaxed: bool = Field(description="Vrai si les filtres lus dans la question laissaient trop peu de résultats "
                                      "et ne servent plus qu'à classer")
    preferred: dict[str, list[Any]] = Field(default_factory=dict,
                                            description="Filtres lus dans la question appliqués comme préférence "
                                                        "de classement (quand relaxed)")


class ChatResponse(BaseModel):
    answer: str
    citations: list[CitationOut]
    grounded: bool
    standalone_question: str
    mode: Literal["extractive", "llm"] = Field(description="llm : réponse rédigée par le modèle et vérifiée ; "
                                                            "extractive : phrases citées du corpus")
    filters: FiltersOut
    answer_type: str = Field(default="refusal", description="definition, list, comparison, figure, date, name, "
                                                            "howto, explanation, examples, smalltalk ou refusal")
    fallback_reason: str | None = Field(
        default=None, description="Pourquoi la réponse générée a été remplacée par la réponse extractive "
                                  "(unavailable, timeout, quota, auth, http_error, malformed, unsupported, "
                                  "empty) ; null sinon")


class SearchResponse(BaseModel):
    results: list[CitationOut]


class HealthResponse(BaseModel):
    status: str
    chunks: int
    documents: int
    embedding_model: str
    answer_mode: str
    llm_backend: str | None = Field(default=None, description="local, openai-compatible, ou null (extractif)")
    index_version: int | None = Field(default=None, description="version de l'index que ce processus sert "
                                                                "(augmente à chaque écriture, tout processus confondu)")
    encoder: str | None = Field(default=None, description="encodeur des questions : onnx-int8 ou torch")


class ErrorResponse(BaseModel):
    error: str
    message: str


class TextEvent(BaseModel):
    """`token` (a piece to append) and `replace` (the whole text so far, and what it now cites)."""
    text: str
    citations: list[CitationOut] | None = None


class ExampleCard(BaseModel):
    doc_id: str
    record_id: str | None
    title: str | None
    resume: str | None
    region: str | None
    territoire: str | None
    domaine: str | None
    acteurs: list[str]
    partenaires: list[str]
    type: str | None
    annee: int | None
    url: str | None
    source: str
    link: str | None = None
    score: float | None
    snippet: str
    illustratif: bool


class ExamplesResponse(BaseModel):
    results: list[ExampleCard]
    facets: dict[str, dict[str, int]] = Field(description="Nombre d'exemples par valeur, pour les filtres appliqués")
    total: int = Field(description="Nombre d'exemples qui correspondent aux filtres appliqués")
    filters: FiltersOut


def citation_out(citation: Citation, base: str = "", lang: str = "fr") -> CitationOut:
    """`base` is the server's public address: citation links are absolute when it is given."""
    from assistant.sources import public_metadata, public_source, safe_url, source_link

    meta = citation.chunk.metadata
    return CitationOut(
        n=citation.n,
        doc_id=citation.chunk.doc_id,
        chunk_id=citation.chunk.chunk_id,
        title=str(meta.get("title") or ""),
        doc_type=str(meta.get("doc_type") or ""),
        url=safe_url(meta.get("url")),
        source=public_source(meta),
        link=source_link(base, citation.chunk.doc_id, citation.start, citation.end, lang),
        snippet=citation.snippet,
        start=citation.start,
        end=citation.end,
        score=round(float(citation.chunk.score), 4),
        metadata=public_metadata(meta, ("title", "doc_type", "url")),
    )


def chat_response(answer: Answer, base: str = "", lang: str = "fr") -> ChatResponse:
    filters = {"applied": {}, "detected": {}, "relaxed": False, "preferred": {}, **(answer.filters or {})}
    return ChatResponse(
        answer=answer.answer,
        citations=[citation_out(c, base, lang) for c in answer.citations],
        grounded=answer.grounded,
        standalone_question=answer.standalone_question,
        mode=answer.mode,  # type: ignore[arg-type]
        filters=FiltersOut(**filters),
        answer_type=answer.kind if answer.grounded or answer.kind == "smalltalk" else "refusal",
        fallback_reason=answer.fallback_reason,
    )


def event_out(event: Event, base: str = "", lang: str = "fr") -> Any:
    """The JSON payload of one event of the stream."""
    from assistant.errors import SeveError

    if event.kind == "citations":
        return [citation_out(c, base, lang).model_dump() for c in event.data]
    if event.kind == "done":
        return chat_response(event.data, base, lang).model_dump()
    if event.kind == "error":
        error: SeveError = event.data
        return ErrorResponse(**error.body()).model_dump()
    citations = [citation_out(c, base, lang) for c in event.citations] if event.citations is not None else None
    return TextEvent(text=event.data, citations=citations).model_dump(exclude_none=True)
