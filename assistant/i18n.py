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
    "relaxed": {
        "fr": "Peu ou pas de documents correspondent à tous ces critères ({criteria}) : ceux qui y correspondent "
              "viennent en premier, puis les plus proches.",
        "en": "Few or no documents match all these criteria ({criteria}): those that do come first, then the "
              "closest ones.",
    },
    "quoted_in_french": {
        "fr": "D'après le corpus :",
        "en": "Here is what the corpus says (quoted in French):",
    },
    "smalltalk_intro": {
        "fr": "Bonjour ! Je suis Sève, un assistant de recherche sur les alliances pour le bien commun (ODD 17). "
              "Je réponds à vos questions en citant les passages du corpus ({documents} documents : rapports, "
              "fiches Repères et exemples de partenariats entre associations, entreprises, collectivités, "
              "fondations et recherche), et je trouve des exemples par région, domaine ou type d'acteur. "
              "Essayez : « Qu'est-ce que le mécénat de compétences ? » ou « Des exemples d'alliances "
              "pour l'emploi en Bretagne ».",
        "en": "Hello! I am Sève, a search assistant about alliances for the common good (SDG 17). I answer "
              "your questions by quoting the corpus ({documents} documents, in French: reports, fiches Repères "
              "and case examples of partnerships between associations, companies, local authorities, "
              "foundations and research), and I find case examples by region, domain or kind of actor. "
              "Try: “What is skills-based sponsorship?” or “Examples of alliances for employment in Brittany”.",
    },
    "smalltalk_thanks": {
        "fr": "Avec plaisir ! Posez-moi une autre question sur les alliances et partenariats quand vous voulez.",
        "en": "You're welcome! Ask me another question about alliances and partnerships whenever you like.",
    },
    "smalltalk_bye": {
        "fr": "Au revoir, et bonnes alliances !",
        "en": "Goodbye, and good luck with your alliances!",
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
    "key_required": {
        "fr": "Une clé de partenaire est nécessaire (en-tête X-Seve-Key) : demandez-la à l'équipe Sève.",
        "en": "A partner key is required (X-Seve-Key header): ask the Sève team for one.",
    },
    "invalid_key": {
        "fr": "Cette clé de partenaire est inconnue ou révoquée.",
        "en": "This partner key is unknown or revoked.",
    },
    "origin_not_allowed": {
        "fr": "Cette clé de partenaire n'est pas autorisée sur le site {origin}.",
        "en": "This partner key is not allowed on the site {origin}.",
    },
    "origin_not_open": {
        "fr": "Le site {origin} n'est pas autorisé à interroger Sève sans clé de partenaire.",
        "en": "The site {origin} may not query Sève without a partner key.",
    },
    "quota_exceeded": {
        "fr": "Trop de questions en peu de temps : réessayez dans {seconds} s.",
        "en": "Too many questions in a short time: try again in {seconds} s.",
    },
    "document_not_found": {
        "fr": "Ce document n'est pas (ou plus) dans le corpus.",
        "en": "This document is not (or no longer) in the corpus.",
    },
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
