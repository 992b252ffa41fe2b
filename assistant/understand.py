"""Filters understood from the question: « en Bretagne », « avec une fondation », « dans l'éducation »,
« des exemples récents » -> structured filters over the corpus's known values.

Detection is deliberately conservative: filters apply only when the question looks for case examples
(an example noun with a place, a theme, a period or an explicit « exemple »), so a conceptual question
that names an actor is never narrowed by mistake. The detected filters are returned to the caller, who
can show them and switch detection off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ingest.models import fold as fold_text


def fold(text: str) -> str:
    """The shared folding, with hyphens and slashes as spaces: « Île-de-France » -> « ile de france »."""
    return " ".join(re.sub(r"[-/]", " ", fold_text(text)).split())


# Synonyms by canonical value (folded phrases; a trailing * means "starts with").
REGION_SYNONYMS: dict[str, list[str]] = {
    "Auvergne-Rhône-Alpes": ["auvergne rhone alpes", "aura", "auvergne", "rhone alpes"],
    "Bourgogne-Franche-Comté": ["bourgogne franche comte", "bourgogne", "franche comte"],
    "Bretagne": ["bretagne", "breton*"],
    "Centre-Val de Loire": ["centre val de loire", "region centre"],
    "Corse": ["corse*"],
    "Grand Est": ["grand est", "alsace*", "lorraine*", "champagne ardenne"],
    "Hauts-de-France": ["hauts de france", "nord pas de calais", "picardie"],
    "Île-de-France": ["ile de france", "idf", "francilien*"],
    "Normandie": ["normandie", "normand*"],
    "Nouvelle-Aquitaine": ["nouvelle aquitaine", "aquitaine"],
    "Occitanie": ["occitanie"],
    "Pays de la Loire": ["pays de la loire"],
    "Provence-Alpes-Côte d'Azur": ["provence alpes cote d'azur", "paca", "provence", "cote d'azur"],
    "Outre-mer": ["outre mer", "ultramarin*", "dom tom", "reunion", "guadeloupe", "martinique", "guyane", "mayotte"],
    "National": ["envergure nationale", "echelle nationale", "niveau national", "toute la france"],
}
DOMAIN_SYNONYMS: dict[str, list[str]] = {
    "Éducation et jeunesse": ["educati*", "ecole*", "scolaire*", "eleve*", "college*", "lycee*", "lyceen*",
                              "jeunesse", "periscolaire", "decrochage"],
    "Emploi et insertion": ["emploi*", "insertion", "chomage", "chomeur*", "recrutement", "employeur*"],
    "Santé": ["sante", "soins", "medic*", "hopita*", "maladie*", "medecin*"],
    "Environnement et biodiversité": ["environnement*", "biodiversite", "nature", "ecologi*", "foret*",
                                      "riviere*", "haies"],
    "Transition énergétique": ["energ*", "renovation thermique", "photovolta*", "eolien*", "solaire*"],
    "Alimentation et agriculture": ["aliment*", "agricult*", "agricole*", "agroalimentaire", "agriculteur*",
                                    "eleveur*", "elevage*", "circuits courts", "cantine*", "paysan*"],
    "Culture et patrimoine": ["culture*", "culturel*", "patrimoine", "musee*", "theatre*", "artist*"],
    "Solidarités et lutte contre la pauvreté": ["pauvrete", "precarite", "solidarit*", "exclusion",
                                                "sans abri", "epicerie* solidaire*"],
    "Mobilité": ["mobilite*", "transport*", "covoiturage", "deplacement*"],
    "Numérique inclusif": ["numerique*", "inclusion numerique", "digital*"],
    "Sport": ["sport*"],
    "Logement": ["logement*", "habitat*", "loyer*"],
    "Économie locale et ESS": ["ess", "economie sociale", "economie locale", "economie de proximite",
                               "commerce* de proximite"],
    "Engagement citoyen et vie associative": ["benevolat", "vie associative", "engagement citoyen",
                                              "volontariat"],
    "Coopération territoriale": ["cooperation territoriale", "projet* de territoire", "co construction territoriale"],
}
ACTOR_SYNONYMS: dict[str, list[str]] = {
    "association": ["association*", "associatif*"],
    "entreprise": ["entreprise*", "pme", "tpe", "boite* privee*", "secteur prive", "societe* privee*"],
    "collectivité": ["collectivite*", "commune*", "mairie*", "municipal*", "intercommunal*", "metropole*",
                     "conseil departemental", "conseil regional", "communaute de communes", "elus"],
    "fondation": ["fondation*"],
    "académique": ["universit*", "chercheur*", "laboratoire*", "academique*", "historien*", "recherche"],
    "citoyen": ["citoyen*", "habitant*", "riverain*", "consommateur*", "parents"],
    "État": ["l'etat", "de l'etat", "services de l'etat", "prefecture*", "ministere*", "agence regionale"],
}
TYPE_SYNONYMS: dict[str, list[str]] = {
    "ecosysteme_territorial": ["ecosysteme* territoria*"],
    "demarche_alliance": ["demarche* d'alliance"],
}
_EXAMPLE_WORD = re.compile(r"\b(exemples|(un|d'autres|quelques|autre) exemples?|cas concrets?|retours? d'experience)\b")
_EXAMPLE_NOUN = re.compile(r"\b(des|les|quels|quelles|d'autres|y a t il des) (\w+ )?(cas|initiatives?|projets?|"
                           r"demarches?|actions|cooperations?|partenariats?|ecosystemes?|alliances?|experiences?)\b")
_SINCE = re.compile(r"\b(?:depuis|a partir de|apres|des) (?:l'annee )?((?:19|20)\d\d)\b")
_UNTIL = re.compile(r"\b(?:jusqu'(?:en|a)|avant|au plus tard en) ((?:19|20)\d\d)\b")
_IN_YEAR = re.compile(r"\ben ((?:19|20)\d\d)\b")
_FACTUAL = re.compile(r"^(combien|quand|qui |a qui|quel(le)? (est|etait))|comment s'appell|\bcombien de\b")
_RECENT = re.compile(r"\b(recents?|recentes?|recemment|ces dernieres annees)\b")


def _compile(synonyms: Mapping[str, list[str]]) -> list[tuple[str, re.Pattern[str]]]:
    compiled = []
    for value, phrases in synonyms.items():
        parts = [re.escape(p.rstrip("*")).replace(r"\*", r"\w*") + (r"\w*" if p.endswith("*") else "")
                 for p in phrases]
        compiled.append((value, re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")))
    return compiled


_REGIONS, _DOMAINS = _compile(REGION_SYNONYMS), _compile(DOMAIN_SYNONYMS)
_ACTORS, _TYPES = _compile(ACTOR_SYNONYMS), _compile(TYPE_SYNONYMS)


@dataclass
class Understanding:
    """What was read in a question: the filters and whether it looks for case examples."""

    filters: dict[str, Any] = field(default_factory=dict)
    wants_examples: bool = False


def _find(compiled: list[tuple[str, re.Pattern[str]]], text: str, known: Iterable[str] | None) -> list[str]:
    """Canonical values named in the text: through the synonym tables, and (for a corpus with values of
    its own) through the literal names of the index's known values. A region the index does not hold is
    still read, so that the user hears that nothing matches instead of getting other places."""
    found = [value for value, pattern in compiled if pattern.search(text)]
    listed = {value for value, _ in compiled}
    for value in sorted(set(known or ()) - listed):
        if len(value) > 2 and re.search(r"(?<!\w)" + re.escape(fold(value)) + r"(?!\w)", text):
            found.append(value)
    return found


def _years(text: str, latest_year: int | None) -> dict[str, int]:
    """Year bounds; years after the corpus's latest one (« la jeunesse en 2050 ») are topics, not filters."""
    years: dict[str, int] = {}
    if m := _SINCE.search(text):
        years["annee_min"] = int(m.group(1)) + (1 if "apres" in m.group(0) else 0)
    if m := _UNTIL.search(text):
        years["annee_max"] = int(m.group(1)) - (1 if "avant" in m.group(0) else 0)
    if not years and (m := _IN_YEAR.search(text)):
        years["annee_min"] = years["annee_max"] = int(m.group(1))
    if not years and latest_year and _RECENT.search(text):
        years["annee_min"] = latest_year - 2
    if latest_year and any(y > latest_year + 1 for y in years.values()):
        return {}
    return years


def understand(question: str, known: Mapping[str, Iterable[str]] | None = None,
               latest_year: int | None = None) -> Understanding:
    """Filters meant by one message. `known` adds the index's own values to the synonym tables."""
    text = fold(question)
    known = known or {}
    filters: dict[str, Any] = {}
    for key, compiled in (("region", _REGIONS), ("domaine", _DOMAINS), ("acteurs", _ACTORS), ("type", _TYPES)):
        values = _find(compiled, text, known.get(key))
        if key == "acteurs" and len(values) >= 2 and not re.search(r"\bou\b", text):
            filters["acteurs_tous"] = values  # « entre une fondation et un labo »: both in the same example
        elif values:
            filters[key] = values[0] if len(values) == 1 else values
    filters.update(_years(text, latest_year))
    scoped = any(k in filters for k in ("region", "domaine", "type", "annee_min", "annee_max"))
    wants = not _FACTUAL.search(text) and (
        bool(_EXAMPLE_WORD.search(text)) or (bool(_EXAMPLE_NOUN.search(text)) and scoped))
    return Understanding(filters if wants else {}, wants)


def understand_turn(message: str, previous_user_message: str | None, known: Mapping[str, Iterable[str]] | None,
                    latest_year: int | None, follow_up: bool) -> Understanding:
    """For a follow-up (« Et en Occitanie ? »), the new message's filters replace the previous ones, key by key."""
    current = understand(message, known, latest_year)
    if not follow_up or not previous_user_message or _FACTUAL.search(fold(message)):
        return current
    before = understand(previous_user_message, known, latest_year)
    if not before.wants_examples:
        return current
    raw_current = understand(message + " exemples", known, latest_year).filters
    return Understanding({**before.filters, **raw_current}, True)
