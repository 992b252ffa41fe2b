"""Metadata filters: validated user filters -> a Chroma `where` clause."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

# key -> kind: "str" (equality), "list" (the metadata holds a list; match if it contains the value),
# "int" (equality), "min"/"max" (bounds on `annee`)
FILTER_KEYS: dict[str, str] = {
    "doc_type": "str",
    "region": "str",
    "domaine": "str",
    "type": "str",
    "acteurs": "list",
    "acteurs_tous": "all",  # the metadata list must hold every value (« entre une fondation et un labo »)
    "annee": "int",
    "annee_min": "min",
    "annee_max": "max",
}


# The regions of the corpus schema: the 13 metropolitan regions, Outre-mer and National.
REGIONS: tuple[str, ...] = (
    "Auvergne-Rhône-Alpes", "Bourgogne-Franche-Comté", "Bretagne", "Centre-Val de Loire", "Corse", "Grand Est",
    "Hauts-de-France", "Île-de-France", "Normandie", "Nouvelle-Aquitaine", "Occitanie", "Pays de la Loire",
    "Provence-Alpes-Côte d'Azur", "Outre-mer", "National")


class FilterError(ValueError):
    """A filter the index does not understand. `kind` and `params` let each surface say it in the user's
    language (assistant.i18n, keys `filter_<kind>`); str() is the French message."""

    def __init__(self, message: str, key: str | None = None, *, kind: str = "invalid",
                 params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.kind = kind
        self.params = dict(params or {})


def _folded(value: str) -> str:
    from ingest.models import fold

    return " ".join(fold(value).replace("-", " ").replace("'", " ").split())


_CANONICAL_REGIONS = {_folded(r): r for r in REGIONS}


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [v for v in value if v not in (None, "")]
    if isinstance(value, str) and "," in value:
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value] if value not in (None, "") else []


def _as_int(key: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FilterError(f"la valeur du filtre « {key} » doit être une année (nombre entier) : « {value} »",
                          key, kind="not_a_year", params={"key": key, "value": _shown(value)}) from None


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def normalize_filters(filters: Mapping[str, Any] | None,
                      regions: Collection[str] | None = None) -> dict[str, list[Any]]:
    """Validate user filters; every value becomes a non-empty list (OR within a key, AND across keys).

    A region is matched to the schema's spelling whatever its case and accents (« ile-de-france »). With
    `regions` (the values the index holds besides REGIONS), a region that is in neither is refused by name.
    """
    if filters is not None and not isinstance(filters, Mapping):
        raise FilterError("les filtres doivent être un objet {clé: valeur}", kind="not_an_object")
    clean: dict[str, list[Any]] = {}
    for key, value in (filters or {}).items():
        kind = FILTER_KEYS.get(key)
        if kind is None:
            accepted = ", ".join(sorted(FILTER_KEYS))
            raise FilterError(f"filtre inconnu : « {_shown(key)} ». Filtres acceptés : {accepted}", key,
                              kind="unknown_key", params={"key": _shown(key), "accepted": accepted})
        values = _as_list(value)
        if not values:
            continue
        if kind in ("int", "min", "max"):
            values = [_as_int(key, v) for v in values]
            if kind != "int" and len(values) > 1:
                raise FilterError(f"le filtre « {key} » prend une seule valeur", key, kind="single_value",
                                  params={"key": key})
        else:
            values = [str(v) for v in values]
        if key == "region":
            values = [_region(v, regions) for v in values]
        clean[key] = values
    return clean


def _region(value: str, known: Collection[str] | None) -> str:
    canonical = _CANONICAL_REGIONS.get(_folded(value))
    if canonical is not None:
        return canonical
    if known is None or value in known:
        return value
    accepted = ", ".join(REGIONS)
    raise FilterError(f"région inconnue : « {_shown(value)} ». Régions acceptées : {accepted}", "region",
                      kind="unknown_region", params={"value": _shown(value), "accepted": accepted})


def _clause(key: str, kind: str, values: list[Any]) -> dict[str, Any]:
    if kind == "min":
        return {"annee": {"$gte": values[0]}}
    if kind == "max":
        return {"annee": {"$lte": values[0]}}
    if kind == "list":
        parts = [{key: {"$contains": v}} for v in values]
        return parts[0] if len(parts) == 1 else {"$or": parts}
    if kind == "all":
        parts = [{"acteurs": {"$contains": v}} for v in values]
        return parts[0] if len(parts) == 1 else {"$and": parts}
    return {key: values[0]} if len(values) == 1 else {key: {"$in": values}}


def to_where(filters: Mapping[str, list[Any]]) -> dict[str, Any] | None:
    clauses = [_clause(k, FILTER_KEYS[k], v) for k, v in filters.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def matches(metadata: Mapping[str, Any], filters: Mapping[str, list[Any]]) -> bool:
    """The same semantics as `to_where`, in Python (for stores without filtering and for tests)."""
    for key, values in filters.items():
        kind = FILTER_KEYS[key]
        have = metadata.get({"min": "annee", "max": "annee", "all": "acteurs"}.get(kind, key))
        if kind == "min" and not (isinstance(have, int) and have >= values[0]):
            return False
        if kind == "max" and not (isinstance(have, int) and have <= values[0]):
            return False
        if kind == "list" and not (isinstance(have, list) and any(v in have for v in values)):
            return False
        if kind == "all" and not (isinstance(have, list) and all(v in have for v in values)):
            return False
        if kind in ("str", "int") and have not in values:
            return False
    return True
