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
    "not_found": {
        "fr": "Ressource introuvable : {path}. Les routes de l'API sont décrites sur /docs.",
        "en": "Not found: {path}. The API's routes are described at /docs.",
    },
    "method_not_allowed": {
        "fr": "Méthode {method} non permise sur {path} (permises : {allowed}).",
        "en": "Method {method} is not allowed on {path} (allowed: {allowed}).",
    },
    "http_error": {"fr": "Requête refusée (HTTP {status}).", "en": "Request refused (HTTP {status})."},
    "filter_unknown_key": {
        "fr": "Filtre inconnu : « {key} ». Filtres acceptés : {accepted}.",
        "en": "Unknown filter: “{key}”. Accepted filters: {accepted}.",
    },
    "filter_not_a_year": {
        "fr": "La valeur du filtre « {key} » doit être une année (nombre entier) : « {value} ».",
        "en": "The value of the filter “{key}” must be a year (a whole number): “{value}”.",
    },
    "filter_single_value": {
        "fr": "Le filtre « {key} » prend une seule valeur.",
        "en": "The filter “{key}” takes a single value.",
    },
    "filter_unknown_region": {
        "fr": "Région inconnue : « {value} ». Régions acceptées : {accepted}.",
        "en": "Unknown region: “{value}”. Accepted regions: {accepted}.",
    },
    "filter_not_an_object": {
        "fr": "Les filtres doivent être un objet JSON (clé : valeur).",
        "en": "Filters must be a JSON object (key: value).",
    },
    "filter_invalid": {"fr": "Filtre invalide.", "en": "Invalid filter."},
    "body": {"fr": "corps", "en": "body"},
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


# Request validation (pydantic error types) in the user's language: pydantic's own messages are English only.
VALIDATION: dict[str, dict[str, str]] = {
    "missing": {"fr": "champ obligatoire", "en": "field required"},
    "string_type": {"fr": "texte attendu", "en": "a string is expected"},
    "string_too_long": {"fr": "texte trop long (au plus {max_length} caractères)",
                        "en": "text too long (at most {max_length} characters)"},
    "string_too_short": {"fr": "texte trop court", "en": "text too short"},
    "too_long": {"fr": "trop d'éléments (au plus {max_length})", "en": "too many items (at most {max_length})"},
    "list_type": {"fr": "liste attendue", "en": "a list is expected"},
    "dict_type": {"fr": "objet attendu", "en": "an object is expected"},
    "model_type": {"fr": "objet attendu", "en": "an object is expected"},
    "model_attributes_type": {"fr": "objet attendu", "en": "an object is expected"},
    "bool_type": {"fr": "booléen attendu (true ou false)", "en": "a boolean is expected (true or false)"},
    "bool_parsing": {"fr": "booléen attendu (true ou false)", "en": "a boolean is expected (true or false)"},
    "int_type": {"fr": "nombre entier attendu", "en": "a whole number is expected"},
    "int_parsing": {"fr": "nombre entier attendu", "en": "a whole number is expected"},
    "int_from_float": {"fr": "nombre entier attendu", "en": "a whole number is expected"},
    "greater_than_equal": {"fr": "doit être supérieur ou égal à {ge}", "en": "must be at least {ge}"},
    "less_than_equal": {"fr": "doit être inférieur ou égal à {le}", "en": "must be at most {le}"},
    "greater_than": {"fr": "doit être supérieur à {gt}", "en": "must be greater than {gt}"},
    "less_than": {"fr": "doit être inférieur à {lt}", "en": "must be less than {lt}"},
    "literal_error": {"fr": "valeur non permise (attendu : {expected})",
                      "en": "value not allowed (expected: {expected})"},
    "enum": {"fr": "valeur non permise (attendu : {expected})", "en": "value not allowed (expected: {expected})"},
    "extra_forbidden": {"fr": "champ inconnu", "en": "unknown field"},
    "json_type": {"fr": "JSON attendu", "en": "JSON is expected"},
    "string_unicode": {"fr": "texte Unicode invalide", "en": "invalid Unicode text"},
}


def validation_text(kind: str, lang: str, ctx: dict[str, object] | None = None) -> str:
    """One pydantic error in the user's language; unknown types say « valeur invalide »."""
    entry = VALIDATION.get(kind)
    if entry is None:
        return "valeur invalide" if lang != "en" else "invalid value"
    text = entry.get(lang) or entry["fr"]
    try:
        return text.format(**{k: str(v).replace("'", "") for k, v in (ctx or {}).items()})
    except (KeyError, IndexError):
        return text.split(" (")[0]


def t(key: str, lang: str = "fr", /, **kwargs: object) -> str:
    entry = MESSAGES[key]
    text = entry.get(lang) or entry["fr"]
    return text.format(**kwargs) if kwargs else text


def pick_lang(value: str | None) -> Lang:
    """`en` if the value (a `lang` parameter or an Accept-Language header) prefers English, else `fr`."""
    if not value:
        return "fr"
    first = value.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "fr"
