"""User-facing messages: French first, English available."""

from __future__ import annotations

from typing import Literal

Lang = Literal["fr", "en"]

MESSAGES: dict[str, dict[str, str]] = {
    "refusal": {
        "fr": "Je ne trouve pas dans le corpus d'information qui permette de répondre à cette question.",
        "en": "I cannot find information in the corpus that answers this question.",
    },
    "closest": {
        "fr": "Les documents les plus proches sont : {titles}.",
        "en": "The closest documents are: {titles}.",
    },
    "empty_index": {
        "fr": "L'index est vide : lancez d'abord « seve ingest DOSSIER ».",
        "en": "The index is empty: run “seve ingest FOLDER” first.",
    },
    "examples_intro": {
        "fr": "Voici des exemples du corpus qui correspondent à votre demande :",
        "en": "Here are examples from the corpus that match your request:",
    },
    "no_match": {
        "fr": "Aucun document du corpus ne correspond à tous ces critères ({criteria}). "
              "Voici les plus proches sans ces filtres :",
        "en": "No document in the corpus matches all these criteria ({criteria}). "
              "Here are the closest ones without these filters:",
    },
    "empty_question": {"fr": "La question est vide.", "en": "The question is empty."},
    "question_too_long": {
        "fr": "La question est trop longue ({n} caractères, maximum {max}).",
        "en": "The question is too long ({n} characters, at most {max}).",
    },
    "invalid_json": {
        "fr": "Le corps de la requête n'est pas un JSON valide.",
        "en": "The request body is not valid JSON.",
    },
    "invalid_request": {"fr": "Requête invalide : {details}", "en": "Invalid request: {details}"},
    "not_found": {"fr": "Ressource introuvable.", "en": "Not found."},
    "internal": {
        "fr": "Erreur interne du serveur. L'incident a été journalisé.",
        "en": "Internal server error. The incident was logged.",
    },
}


def t(key: str, lang: str = "fr", **kwargs: object) -> str:
    entry = MESSAGES[key]
    text = entry.get(lang) or entry["fr"]
    return text.format(**kwargs) if kwargs else text


def pick_lang(value: str | None) -> Lang:
    """`en` if the value (a `lang` parameter or an Accept-Language header) prefers English, else `fr`."""
    if not value:
        return "fr"
    first = value.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "fr"
