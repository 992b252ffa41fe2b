"""Valide le jeu d'évaluation de référence de Sève (evals/gold/gold.jsonl).

Usage : python evals/gold/validate_gold.py [CHEMIN_GOLD] [--corpus CHEMIN_DU_CORPUS]

S'arrête au premier problème (code de sortie 1, message clair sur stderr). Vérifie :
- chaque ligne est un objet JSON UTF-8 avec les champs du schéma, identifiants « GNNN » uniques ;
- `kind` autorisé, répartition minimale par type de question, total d'au moins 190 questions ;
- `history` vide sauf pour `follow_up` (tours user/assistant alternés, commençant par user) ;
- `filters` : clés et valeurs autorisées (corpus/_sources/allowed_values.json), années cohérentes ;
  `{}` obligatoire pour `definition`, `list`, `comparison`, `english`, `typo` et `smalltalk` ;
- `answerable: false` pour `unanswerable` et `smalltalk` (ce dernier avec `note: "smalltalk"`), `true`
  pour les autres types ;
- `expected_docs` : chemins relatifs à corpus/ existants, enregistrements FILE#ID présents dans le fichier ;
  vide si et seulement si la question est sans réponse (`answerable: false`) ;
- `expected_answers` : chaque chaîne apparaît telle quelle dans le texte d'au moins un document attendu
  (PDF/DOCX : source Markdown de même nom dans corpus/_sources/rapports/ ; enregistrements : champs
  title, resume, description, partenaires, territoire, region, domaine, annee) ; au moins 2 chaînes pour
  `list` et `comparison`, au plus 6 mots par chaîne pour `definition`, `list` et `comparison` ;
- chaque document attendu respecte les filtres de la question (région, domaine, acteurs, type, année) ;
  une question sans réponse avec filtres ne doit correspondre à aucun enregistrement ;
- les questions d'exemples ont de 1 à 5 documents attendus, tous des enregistrements ;
- les questions ne recopient pas le corpus (aucune suite de 7 mots identique à un document) ;
- couverture : tous les types de documents, les 4 rapports, au moins 15 fiches et 40 enregistrements,
  chaque région citée dans les filtres d'au moins une question d'exemples.

Validates Sève's gold evaluation set; exits non-zero with a message on the first problem.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_GOLD = HERE / "gold.jsonl"
DEFAULT_CORPUS = HERE.parent.parent / "corpus"

KINDS = {"factual": 35, "conceptual": 20, "example": 30, "follow_up": 20, "unanswerable": 15,
         "definition": 8, "list": 8, "comparison": 6, "english": 7, "typo": 5, "smalltalk": 5}
MIN_TOTAL = 190
UNANSWERABLE_KINDS = {"unanswerable", "smalltalk"}  # answerable: false, expected_docs/answers vides
NO_FILTER_KINDS = {"definition", "list", "comparison", "english", "typo", "smalltalk"}  # filters: {}
MULTI_ANSWER_KINDS = {"list", "comparison"}  # au moins 2 chaînes attendues (éléments, un terme par côté)
SHORT_ANSWER_KINDS = {"definition", "list", "comparison"}  # chaînes de 6 mots au plus
MAX_SHORT_WORDS = 6
REQUIRED = {"id", "kind", "question", "history", "filters", "expected_docs", "expected_answers", "answerable"}
OPTIONAL = {"note"}
FILTER_KEYS = {"region", "domaine", "acteurs", "doc_type", "type", "annee_min", "annee_max"}
RECORD_FIELDS = ("title", "resume", "description", "partenaires", "territoire", "region", "domaine", "annee")
REPORTS = {
    "rapports/odd17-co-construction-territoriale.pdf",
    "rapports/modeles-socio-economiques-economie-alliance.docx",
    "rapports/mesurer-impact-alliances.md",
    "rapports/jeunesse-education-territoires-2050.md",
}
MIN_FICHES, MIN_RECORDS, MAX_EXAMPLE_DOCS = 15, 40, 5
SHINGLE = 7
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)


class GoldError(Exception):
    """Un problème du jeu de référence, décrit en une ligne."""


def fail(where: str, message: str) -> None:
    raise GoldError(f"{where} : {message}")


# --------------------------------------------------------------------------- corpus


class Corpus:
    """Textes et métadonnées des documents du corpus, indexés par chemin relatif (et FILE#ID)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.allowed = json.loads((root / "_sources" / "allowed_values.json").read_text(encoding="utf-8"))
        self.texts: dict[str, str] = {}
        self.meta: dict[str, dict] = {}
        self.record_files: dict[str, set[str]] = {}
        self._load_records()
        self._load_markdown("fiches")
        self._load_reports()

    def _add(self, key: str, text: str, meta: dict) -> None:
        self.texts[key] = text
        self.meta[key] = meta

    def _load_records(self) -> None:
        for path in sorted((self.root / "exemples").iterdir()):
            rel = f"exemples/{path.name}"
            if path.suffix == ".jsonl":
                rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            elif path.suffix == ".csv":
                with path.open(encoding="utf-8", newline="") as fh:
                    rows = list(csv.DictReader(fh))
                for row in rows:
                    for key in ("acteurs", "partenaires"):
                        row[key] = [v for v in row[key].split(" | ") if v]
                    row["annee"] = int(row["annee"])
            else:
                continue
            ids = set()
            for row in rows:
                ids.add(row["id"])
                parts = []
                for field in RECORD_FIELDS:
                    value = row.get(field)
                    parts.append(" ".join(value) if isinstance(value, list) else str(value))
                meta = {k: row.get(k) for k in ("region", "domaine", "acteurs", "type", "doc_type", "annee")}
                self._add(f"{rel}#{row['id']}", "\n".join(parts), meta)
            self.record_files[rel] = ids

    def _front(self, path: Path) -> tuple[dict, str]:
        raw = path.read_text(encoding="utf-8")
        match = FRONT_MATTER.match(raw)
        if not match:
            return {}, raw
        return yaml.safe_load(match.group(1)) or {}, raw

    @staticmethod
    def _doc_meta(fm: dict) -> dict:
        date = fm.get("date")
        year = int(str(date)[:4]) if date else None
        acteurs = fm.get("acteurs") or []
        return {"region": fm.get("region"), "domaine": fm.get("domaine"), "acteurs": list(acteurs),
                "type": fm.get("type"), "doc_type": fm.get("doc_type"), "annee": year}

    def _load_markdown(self, folder: str) -> None:
        for path in sorted((self.root / folder).glob("*.md")):
            fm, raw = self._front(path)
            self._add(f"{folder}/{path.name}", raw, self._doc_meta(fm))

    def _load_reports(self) -> None:
        sources = self.root / "_sources" / "rapports"
        for path in sorted((self.root / "rapports").iterdir()):
            if path.name.endswith(".meta.yaml") or path.name.startswith((".", "_")):
                continue
            source = sources / f"{path.stem}.md"
            text_path = path if path.suffix == ".md" else source
            if not text_path.exists():
                fail(f"rapports/{path.name}", f"source Markdown introuvable ({text_path})")
            fm, raw = self._front(text_path)
            self._add(f"rapports/{path.name}", raw, self._doc_meta(fm))

    def exists(self, ref: str) -> bool:
        if "#" in ref:
            file, _, rid = ref.partition("#")
            return file in self.record_files and rid in self.record_files[file]
        return (self.root / ref).is_file() and ref in self.texts


# --------------------------------------------------------------------------- checks


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text.lower()).replace("'", " ").replace("’", " ")
    return re.findall(r"\w+", text)


def shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def check_filters(where: str, filters: object, allowed: dict) -> None:
    if not isinstance(filters, dict):
        fail(where, "`filters` doit être un objet")
    values_for = {"region": allowed["regions"], "domaine": allowed["domaines"], "acteurs": allowed["acteurs"],
                  "type": allowed["types"], "doc_type": allowed["doc_types"]}
    for key, value in filters.items():
        if key not in FILTER_KEYS:
            fail(where, f"filtre inconnu « {key} » (autorisés : {', '.join(sorted(FILTER_KEYS))})")
        if key in ("annee_min", "annee_max"):
            if not isinstance(value, int) or isinstance(value, bool) or not 2000 <= value <= 2030:
                fail(where, f"« {key} » doit être une année entière, pas {value!r}")
            continue
        items = value if isinstance(value, list) else [value]
        if not items:
            fail(where, f"filtre « {key} » vide")
        for item in items:
            if item not in values_for[key]:
                fail(where, f"valeur non autorisée pour « {key} » : {item!r}")
    if "annee_min" in filters and "annee_max" in filters and filters["annee_min"] > filters["annee_max"]:
        fail(where, "annee_min > annee_max")


def doc_matches(meta: dict, filters: dict) -> str | None:
    """None si le document respecte les filtres, sinon le nom du filtre non respecté."""
    for key, value in filters.items():
        items = value if isinstance(value, list) else [value]
        if key == "acteurs":
            if not any(v in (meta.get("acteurs") or []) for v in items):
                return key
        elif key == "annee_min":
            if meta.get("annee") is None or meta["annee"] < value:
                return key
        elif key == "annee_max":
            if meta.get("annee") is None or meta["annee"] > value:
                return key
        elif meta.get(key) not in items:
            return key
    return None


def check_history(where: str, kind: str, history: object) -> None:
    if not isinstance(history, list):
        fail(where, "`history` doit être une liste")
    if kind != "follow_up":
        if history:
            fail(where, "`history` doit être vide hors follow_up")
        return
    if len(history) < 2:
        fail(where, "un follow_up doit avoir au moins un tour user + assistant dans `history`")
    for i, turn in enumerate(history):
        expected = "user" if i % 2 == 0 else "assistant"
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            fail(where, f"history[{i}] doit être {{role, content}}")
        if turn["role"] != expected:
            fail(where, f"history[{i}].role doit être « {expected} »")
        if not isinstance(turn["content"], str) or not turn["content"].strip():
            fail(where, f"history[{i}].content vide")
    if history[-1]["role"] != "assistant":
        fail(where, "history doit se terminer par une réponse de l'assistant")


def validate(gold_path: Path, corpus_root: Path) -> dict:
    corpus = Corpus(corpus_root)
    corpus_shingles: set[tuple[str, ...]] = set()
    for text in corpus.texts.values():
        corpus_shingles |= shingles(text)

    try:
        lines = gold_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        fail(str(gold_path), f"lecture impossible ({exc})")
    seen_ids: set[str] = set()
    kinds: Counter[str] = Counter()
    covered: set[str] = set()
    example_regions: set[str] = set()

    for lineno, line in enumerate(lines, 1):
        where = f"{gold_path.name}:{lineno}"
        if not line.strip():
            fail(where, "ligne vide")
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(where, f"JSON invalide ({exc})")
        if not isinstance(item, dict):
            fail(where, "chaque ligne doit être un objet JSON")
        missing = REQUIRED - item.keys()
        if missing:
            fail(where, f"champs manquants : {', '.join(sorted(missing))}")
        extra = item.keys() - REQUIRED - OPTIONAL
        if extra:
            fail(where, f"champs inconnus : {', '.join(sorted(extra))}")
        qid = item["id"]
        if not isinstance(qid, str) or not re.fullmatch(r"G\d{3}", qid):
            fail(where, f"identifiant invalide {qid!r} (attendu GNNN)")
        if qid in seen_ids:
            fail(where, f"identifiant en double {qid}")
        seen_ids.add(qid)
        where = f"{where} ({qid})"

        kind = item["kind"]
        if kind not in KINDS:
            fail(where, f"kind inconnu {kind!r}")
        kinds[kind] += 1
        question = item["question"]
        if not isinstance(question, str) or len(question.strip()) < 3:
            fail(where, "question vide")
        if "note" in item and not isinstance(item["note"], str):
            fail(where, "`note` doit être une chaîne")
        check_history(where, kind, item["history"])
        filters = item["filters"]
        check_filters(where, filters, corpus.allowed)

        answerable = item["answerable"]
        if not isinstance(answerable, bool):
            fail(where, "`answerable` doit être un booléen")
        if answerable != (kind not in UNANSWERABLE_KINDS):
            fail(where, "answerable doit valoir false pour kind=unanswerable ou smalltalk et true sinon")
        if kind in NO_FILTER_KINDS and filters:
            fail(where, f"`filters` doit être {{}} pour kind={kind}")
        if kind == "smalltalk" and item.get("note") != "smalltalk":
            fail(where, "une question smalltalk doit porter `note: \"smalltalk\"`")

        copied = shingles(question) & corpus_shingles
        if copied:
            fail(where, f"la question recopie le corpus : « {' '.join(sorted(copied)[0])} »")

        docs, answers = item["expected_docs"], item["expected_answers"]
        if not isinstance(docs, list) or not all(isinstance(d, str) and d for d in docs):
            fail(where, "`expected_docs` doit être une liste de chaînes")
        if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
            fail(where, "`expected_answers` doit être une liste de chaînes non vides")
        if not answerable:
            if docs or answers:
                fail(where, "une question sans réponse doit avoir expected_docs et expected_answers vides")
            if filters:
                hits = [k for k, meta in corpus.meta.items() if "#" in k and doc_matches(meta, filters) is None]
                if hits:
                    fail(where, f"question sans réponse, mais des enregistrements respectent ses filtres : {hits[:3]}")
            continue
        if not docs:
            fail(where, "expected_docs vide pour une question avec réponse")
        if not answers:
            fail(where, "expected_answers vide pour une question avec réponse")
        if len(set(docs)) != len(docs):
            fail(where, "document attendu en double")
        for doc in docs:
            if not corpus.exists(doc):
                fail(where, f"document attendu introuvable : {doc}")
            bad = doc_matches(corpus.meta[doc], filters)
            if bad:
                fail(where, f"{doc} ne respecte pas le filtre « {bad} »={filters[bad]!r}")
        if len(set(answers)) != len(answers):
            fail(where, "réponse attendue en double")
        if kind in MULTI_ANSWER_KINDS and len(answers) < 2:
            fail(where, f"au moins 2 réponses attendues pour kind={kind}")
        for answer in answers:
            if len(answer) > 80:
                fail(where, f"réponse attendue trop longue (> 80 caractères) : {answer!r}")
            if kind in SHORT_ANSWER_KINDS and len(answer.split()) > MAX_SHORT_WORDS:
                fail(where, f"réponse attendue trop longue (> {MAX_SHORT_WORDS} mots) pour kind={kind} : {answer!r}")
            if not any(answer in corpus.texts[d] for d in docs):
                fail(where, f"la réponse attendue {answer!r} n'apparaît telle quelle dans aucun de {docs}")
        if kind == "example":
            if len(docs) > MAX_EXAMPLE_DOCS:
                fail(where, f"au plus {MAX_EXAMPLE_DOCS} documents attendus pour une question d'exemples")
            if not all("#" in d for d in docs):
                fail(where, "les documents attendus d'une question d'exemples doivent être des enregistrements")
            region = filters.get("region")
            example_regions.update(region if isinstance(region, list) else [region] if region else [])
        covered.update(docs)

    if not lines:
        fail(str(gold_path), "fichier vide")
    for kind, minimum in KINDS.items():
        if kinds[kind] < minimum:
            fail(str(gold_path), f"{kinds[kind]} questions « {kind} », il en faut au moins {minimum}")
    if len(lines) < MIN_TOTAL:
        fail(str(gold_path), f"{len(lines)} questions, il en faut au moins {MIN_TOTAL}")
    missing_reports = REPORTS - covered
    if missing_reports:
        fail(str(gold_path), f"rapports jamais attendus : {', '.join(sorted(missing_reports))}")
    fiches = {d for d in covered if d.startswith("fiches/")}
    records = {d for d in covered if "#" in d}
    if len(fiches) < MIN_FICHES:
        fail(str(gold_path), f"{len(fiches)} fiches couvertes, il en faut au moins {MIN_FICHES}")
    if len(records) < MIN_RECORDS:
        fail(str(gold_path), f"{len(records)} enregistrements couverts, il en faut au moins {MIN_RECORDS}")
    for file in corpus.record_files:
        if not any(d.startswith(file + "#") for d in records):
            fail(str(gold_path), f"aucun enregistrement de {file} n'est attendu")
    missing_regions = set(corpus.allowed["regions"]) - example_regions
    if missing_regions:
        fail(str(gold_path), f"régions absentes des questions d'exemples : {', '.join(sorted(missing_regions))}")
    return {"questions": len(lines), "kinds": dict(kinds), "docs": len(covered), "reports": len(REPORTS & covered),
            "fiches": len(fiches), "records": len(records)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold", nargs="?", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    try:
        summary = validate(args.gold, args.corpus)
    except GoldError as exc:
        print(f"ERREUR {exc}", file=sys.stderr)
        return 1
    kinds = ", ".join(f"{k} {v}" for k, v in summary["kinds"].items())
    print(f"OK : {summary['questions']} questions ({kinds}) ; {summary['docs']} documents distincts attendus "
          f"({summary['reports']} rapports, {summary['fiches']} fiches, {summary['records']} enregistrements)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
