"""What a message asks, read without a model: its language, its kind (definition, list, comparison,
figure, date, name, how-to, explanation), the terms it is about, and whether it is small talk.

Pure functions over the text, shared by the planner, the answer composer and the answerability gate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ingest.models import fold

Kind = Literal["definition", "list", "comparison", "figure", "date", "name", "howto", "explanation"]

# SMS and phonetic spellings seen in typed questions (« c koi », « kel »), folded.
_SMS = {
    "c": "c'est", "koi": "quoi", "kel": "quel", "kels": "quels", "kelle": "quelle", "kelles": "quelles",
    "pk": "pourquoi", "pq": "pourquoi", "pkoi": "pourquoi", "cmt": "comment", "qd": "quand", "bcp": "beaucoup",
    "ya": "il y a", "dc": "donc", "tt": "tout", "ds": "dans", "pr": "pour", "ke": "que", "ki": "qui",
    "svp": "", "stp": "", "kesako": "qu'est-ce que", "keske": "qu'est-ce que", "quesque": "qu'est-ce que",
    "qsq": "qu'est-ce que", "dexemple": "d'exemples", "dexemples": "d'exemples",
}

_EN_WORDS = set(
    "the what which who whom whose where when why how is are was were does do did can could should would "
    "of and or to in on for with about between from any some many much there their this that these those "
    "you your me tell give show examples example partnership partnerships difference".split())
_FR_WORDS = set(
    "le la les un une des du de et ou est sont quel quelle quels quelles qui que quoi comment pourquoi "
    "combien dans pour avec sur au aux ce cette ces il elle ils elles on je tu vous nous exemple exemples".split())


def normalize_typed(text: str) -> str:
    """A typed question with SMS spellings expanded (« c koi le mecena » -> « c'est quoi le mecena »)."""
    out = []
    for word in text.split():
        core = word.strip("?!.,;:")
        low = fold(core)
        out.append(word.replace(core, _SMS[low]) if core and low in _SMS else word)
    return " ".join(" ".join(out).split())


def language(text: str) -> Literal["fr", "en"]:
    """`en` when the message is written in English (counted on function words), else `fr`."""
    words = re.findall(r"[a-zA-Zà-ÿ']+", text.lower())
    en = sum(w in _EN_WORDS for w in words)
    fr = sum(w in _FR_WORDS for w in words)
    if re.search(r"[éèêàùçœ«»]", text):
        fr += 1
    return "en" if en >= 2 and en > fr else "fr"


_DEFINITION = re.compile(
    r"\b(?:qu'?est[- ]ce (?:que|qu')|c'?est quoi|c est quoi|que (?:signifie|veut dire|designe|recouvre)|"
    r"definition (?:de|du|des|d')|definir|en quoi consiste|a quoi correspond|ca veut dire quoi|"
    r"what (?:is|are|does|do) (?:an? |the )?|what's (?:an? |the )?|meaning of|define)\b")
_DEFINITION_TERM = re.compile(
    r"(?:qu'?est[- ]ce (?:que|qu')|c'?est quoi|c est quoi|que (?:signifie|veut dire|designe|recouvre)|"
    r"definition (?:de|du|des|d')|definir|en quoi consiste|a quoi correspond|what (?:is|are) |"
    r"what's |what does |meaning of |define )\s*(?P<term>.+?)\s*(?:\?|$|\bmean\b|\bsignifie\b|,)")
_COMPARISON = re.compile(
    r"\b(?:difference|differences|distinguer|distingue|comparer|comparaison|compare|versus|vs|"
    r"plutot que|par rapport a|ou bien|differ|differs|different from|compared)\b")
_COMPARISON_TERMS = re.compile(
    r"(?:entre|between|distinguer|distingue|comparer|compare)\s+(?P<a>.+?)\s+(?:et|and|de|from|with|avec)\s+"
    r"(?P<b>.+?)\s*(?:\?|$|,)")
_LIST = re.compile(
    r"\b(?:quels sont|quelles sont|quels? (?:leviers|etapes|criteres|conditions|pieges|outils|principes|"
    r"membres|acteurs|objectifs|actions|axes|piliers|facteurs|moyens|freins|cles)|liste|lister|enumere|"
    r"citez|cite|les (?:deux|trois|quatre|cinq|six|sept|huit|neuf|dix) |what are|list |which are|name the|"
    r"(?:two|three|four|five|six|seven) )")
_LIST_NOUN = re.compile(
    r"\b(?:etapes|leviers|criteres|conditions|pieges|outils|principes|membres|objectifs|axes|piliers|facteurs|"
    r"moyens|freins|cles|regles|points|engagements|missions|priorites|recommandations|conseils|ingredients|"
    r"steps|levers|criteria|pillars|principles|members|tools|conditions|pitfalls|stages|phases)\b")
# « quels scénarios », « quelles recommandations », « de quels atouts »: a plural « which » asks for a list.
_PLURAL_WHICH = re.compile(r"\b(?:quels|quelles) (?!sont\b|etaient\b|seront\b)(?:\w+ )?\w{3,}[sx]\b|"
                           r"\b(?:quels|quelles) sont les \w+[sx]\b")
_PLURAL_NOUN = re.compile(r"\b(?:quels|quelles|les (?:deux|trois|quatre|cinq|six|sept|huit|neuf|dix)) "
                          r"(?:sont les )?(?:\w+ )??(\w{3,}[sx])\b")
_HOWTO = re.compile(r"\b(?:comment (?:faire|monter|creer|construire|lancer|mettre|organiser|trouver|reussir|"
                    r"evaluer|mesurer|rediger|choisir|s'y prendre|devenir|financer|mobiliser)|how (?:to|do|can|should)|"
                    r"que faut[- ]il|quelles? demarches?|par ou commencer)\b")
_FIGURE = re.compile(r"\b(?:combien|quel(?:le)?s? (?:pourcentage|part|montant|nombre|cout|budget|taux|surface|"
                     r"tonnage|somme|chiffre|proportion|duree|effectif|population)|a quel (?:taux|prix|niveau)|"
                     r"how (?:many|much)|what (?:percentage|share|amount|number))\b")
_DATE = re.compile(r"\b(?:quand(?! on\b| il\b| elle\b| ils\b| elles\b| une?\b| ca\b| c'est\b| vous\b| nous\b)|"
                   r"quelle (?:annee|date|periode)|en quelle|depuis quand|a quelle date|when|what year|which year|"
                   r"since when)\b")
_NAME = re.compile(r"\b(?:qui (?:est|sont|a|ont|etait|etaient|porte|pilote|dirige|preside|finance|anime)|"
                   r"quel(?:le)?s? (?:organisme|acteur|ministre|personne|structure|association|entreprise|"
                   r"fondation|collectivite|commune|ville|nom|loi|texte|dispositif|politologue)|"
                   r"comment s'appell|who|which (?:organisation|organization|company|foundation|law))\b")
NUMBER_WORDS = {"deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9,
                "dix": 10, "two": 2, "three": 3, "four": 4, "five": 5, "seven": 7}


@dataclass(frozen=True)
class Question:
    """A message as read: its folded text, language, kind, the count a list question names, and the
    terms a definition or a comparison is about."""

    text: str
    folded: str
    lang: Literal["fr", "en"]
    kind: Kind
    count: int | None = None
    terms: tuple[str, ...] = ()


def _strip_article(term: str) -> str:
    term = re.sub(r"^(?:le |la |les |l'|un |une |des |du |de la |de l'|d'|the |an? )", "", term.strip())
    term = re.sub(r"\s*(?:exactement|concretement|au juste|vraiment|exactly|actually|in practice)$", "", term)
    return term.strip(" ?!.,;:«»\"'")


def read_turn(message: str, standalone: str) -> Question:
    """A follow-up (« et avant, elles s'organisaient comment ? ») asks its own kind of question about the
    previous topic: the kind comes from the message when it says one, the rest from the standalone text."""
    whole = read_question(standalone)
    if message.strip() == standalone.strip():
        return whole
    own = read_question(message)
    asks = re.search(r"\b(comment|pourquoi|quoi|que|qu'|quel\w*|combien|quand|qui|ou|what|how|why|which|who)\b|"
                     r"\bqu'", own.folded)
    if own.kind == "explanation" and not asks:
        return whole  # « Et en Occitanie ? »: the same kind of question, elsewhere
    return Question(standalone, whole.folded, whole.lang, own.kind, own.count or whole.count, own.terms or whole.terms)


def _who_or_list(text: str, folded: str, lang: Literal["fr", "en"], count: int | None) -> Question | None:
    """Name, figure, date and list questions, in that order (« qui sont les membres » is a list)."""
    if m := re.match(r"(?:qui sont les|who are the) (\w+[sx])\b", folded):
        return Question(text, folded, lang, "list", count, (m.group(1),))
    if re.match(r"(?:qui|who)\b", folded):
        return Question(text, folded, lang, "name", count)
    if _FIGURE.search(folded):
        return Question(text, folded, lang, "figure", count)
    if _DATE.search(folded):
        return Question(text, folded, lang, "date", count)
    if m := re.search(r"\bque (recommand|conseill|propos|preconis|sugger)\w*", folded):
        return Question(text, folded, lang, "list", count, (m.group(1),))  # « que recommande le rapport ? »
    if (_LIST.search(folded) and (_LIST_NOUN.search(folded) or count)) or _PLURAL_WHICH.search(folded):
        found = _LIST_NOUN.search(folded) or _PLURAL_NOUN.search(folded)
        noun = found.group(found.lastindex or 0) if found else ""
        noun = EN_FR.get(noun, noun).split()[0] if lang == "en" and noun else noun  # « levers » -> « leviers »
        return Question(text, folded, lang, "list", count, (noun,) if noun else ())
    return None


def read_question(text: str) -> Question:
    """Classify one (standalone) question. The order matters: a comparison or a list asked as
    « qu'est-ce qui distingue… » is not a definition."""
    typed = normalize_typed(text)
    folded = fold(typed).replace("’", "'")
    lang = language(text)
    count = next((n for word, n in NUMBER_WORDS.items() if re.search(rf"\b{word.strip()}\b", folded)), None)
    if _COMPARISON.search(folded) and (m := _COMPARISON_TERMS.search(folded)):
        terms = tuple(t for t in (_strip_article(m.group("a")), _strip_article(m.group("b"))) if t)
        if len(terms) == 2:
            return Question(text, folded, lang, "comparison", count, terms)
    if early := _who_or_list(text, folded, lang, count):
        return early
    if _HOWTO.search(folded):
        return Question(text, folded, lang, "howto", count)
    if lang == "en" and re.match(r"what(?: is|'s) the \w+(?: \w+)? (?:of|for|in|at|does)\b", folded):
        return Question(text, folded, lang, "explanation", count)  # « what is the target of X »: not a definition
    if _DEFINITION.search(folded):
        m = _DEFINITION_TERM.search(folded)
        term = _strip_article(m.group("term")) if m else ""
        if term and len(term.split()) <= 8:
            return Question(text, folded, lang, "definition", count, (term,))
    if _NAME.search(folded):
        return Question(text, folded, lang, "name", count)
    return Question(text, folded, lang, "explanation", count)


_GREETING = re.compile(r"^(?:bonjour|bonsoir|salut|coucou|hello|hi|hey|bonne journee|good (?:morning|evening))\b")
_IDENTITY = re.compile(r"\b(?:qui es[- ]tu|qui etes[- ]vous|tu es qui|vous etes qui|t'es qui|tu sers a quoi|"
                       r"tu fais quoi|que sais[- ]tu faire|que peux[- ]tu faire|"
                       r"qu'est[- ]ce que tu (?:sais|peux) faire|"
                       r"a quoi sers[- ]tu|comment (?:ca|tu) (?:marche|fonctionne)s?|presente[- ]toi|"
                       r"who are you|what can you do|what do you do|how do you work|what are you)\b")
_THANKS = re.compile(r"^(?:merci|thanks|thank you|super merci|parfait merci|top merci|ok merci|genial)\b")
_BYE = re.compile(r"^(?:au revoir|a bientot|bonne (?:journee|soiree)|bye|goodbye|a plus|ciao)\b")
_CONTENT_HINT = re.compile(r"\b(?:odd|alliance|partenariat|mecenat|exemple|fondation|association|entreprise|"
                           r"collectivite|territoire|partnership|foundation|company)\w*")


def small_talk(text: str) -> Literal["greeting", "identity", "thanks", "bye"] | None:
    """The kind of small talk a message is, if it is only that (a greeting followed by a real question
    is a question)."""
    folded = fold(normalize_typed(text)).replace("’", "'").strip(" !?.")
    words = re.findall(r"\w+", folded)
    if not words or len(words) > 12:
        return None
    if _IDENTITY.search(folded):
        return "identity"
    if _CONTENT_HINT.search(folded):
        return None
    if _THANKS.search(folded) and len(words) <= 6:
        return "thanks"
    if _BYE.search(folded) and len(words) <= 6:
        return "bye"
    if _GREETING.search(folded) and len(words) <= 5:
        return "greeting"
    return None


# English words of the domain and their French counterparts, so that the lexical side can read an English
# question (the dense side is multilingual already). Folded keys; a value may hold several words.
EN_FR = {
    "partnership": "partenariat alliance", "partnerships": "partenariats alliances", "alliance": "alliance",
    "alliances": "alliances", "association": "association", "associations": "associations",
    "nonprofit": "association", "nonprofits": "associations", "ngo": "association", "ngos": "associations",
    "charity": "association", "company": "entreprise", "companies": "entreprises", "business": "entreprise",
    "businesses": "entreprises", "firm": "entreprise", "firms": "entreprises",
    "foundation": "fondation", "foundations": "fondations", "local": "local territorial",
    "government": "collectivite etat", "authority": "collectivite", "authorities": "collectivites",
    "municipality": "commune", "municipalities": "communes", "town": "commune ville", "city": "ville",
    "region": "region", "regions": "regions", "territory": "territoire", "territorial": "territorial",
    "ecosystem": "ecosysteme", "ecosystems": "ecosystemes", "sponsorship": "mecenat", "patronage": "mecenat",
    "skills": "competences", "skill": "competence", "volunteer": "benevole", "volunteers": "benevoles",
    "volunteering": "benevolat", "research": "recherche", "university": "universite", "researchers": "chercheurs",
    "citizen": "citoyen", "citizens": "citoyens", "state": "etat", "goal": "objectif", "goals": "objectifs",
    "sdg": "odd", "sdgs": "odd", "target": "cible", "targets": "cibles", "levers": "leviers", "lever": "levier",
    "steps": "etapes", "step": "etape", "method": "methode", "pillars": "piliers", "pitfalls": "pieges",
    "criteria": "criteres", "tools": "outils", "contract": "contrat convention", "agreement": "convention accord",
    "funding": "financement", "fund": "fonds", "funds": "fonds", "donation": "don", "donations": "dons",
    "tax": "fiscal impot", "reduction": "reduction", "employees": "salaries", "employee": "salarie",
    "jobs": "emplois", "employment": "emploi", "integration": "insertion", "education": "education",
    "youth": "jeunesse jeunes", "school": "ecole", "schools": "ecoles", "health": "sante", "food": "alimentation",
    "agriculture": "agriculture", "energy": "energie", "mobility": "mobilite", "transport": "transport",
    "housing": "logement", "culture": "culture", "heritage": "patrimoine", "sport": "sport", "digital": "numerique",
    "poverty": "pauvrete", "environment": "environnement", "biodiversity": "biodiversite", "waste": "dechets",
    "impact": "impact", "evaluation": "evaluation", "governance": "gouvernance", "cooperation": "cooperation",
    "report": "rapport", "survey": "barometre enquete", "french": "francais", "france": "france",
    "percent": "%", "percentage": "%", "share": "part", "many": "nombre", "year": "annee", "years": "annees",
    "common": "commun", "good": "bien", "public": "public", "interest": "interet", "general": "general",
    "difference": "difference", "definition": "definition", "example": "exemple", "examples": "exemples",
    "mission": "mission", "law": "loi", "network": "reseau", "club": "club", "employers": "employeurs",
    "elderly": "personnes agees", "loneliness": "isolement solitude", "libraries": "bibliotheques",
}


def french_terms(text: str) -> str:
    """French counterparts of the domain words of an English question (empty for a French one)."""
    words = re.findall(r"[a-z]+", fold(text))
    return " ".join(EN_FR[w] for w in words if w in EN_FR)
