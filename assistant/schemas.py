"""Request and response schemas of the HTTP API (kept apart from the routes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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
    url: str | None
    source: str
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
    mode: Literal["extractive", "llm"]
    filters: FiltersOut
    answer_type: str = Field(default="refusal", description="definition, list, comparison, figure, date, name, "
                                                            "howto, explanation, examples, smalltalk ou refusal")


class SearchResponse(BaseModel):
    results: list[CitationOut]


class HealthResponse(BaseModel):
    status: str
    chunks: int
    documents: int
    embedding_model: str
    answer_mode: str


class ErrorResponse(BaseModel):
    error: str
    message: str


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
    score: float | None
    snippet: str
    illustratif: bool


class ExamplesResponse(BaseModel):
    results: list[ExampleCard]
    facets: dict[str, dict[str, int]] = Field(description="Nombre d'exemples par valeur, pour les filtres appliqués")
    total: int = Field(description="Nombre d'exemples qui correspondent aux filtres appliqués")
    filters: FiltersOut
