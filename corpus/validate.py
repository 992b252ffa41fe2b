"""Valide le corpus de démonstration de Sève.

Usage : python corpus/validate.py [CHEMIN_DU_CORPUS]

Vérifie, dans cet ordre, et s'arrête au premier problème (code de sortie 1, message clair sur stderr) :
- les valeurs autorisées (corpus/_sources/allowed_values.json) ;
- les exemples JSONL (exemples/exemples.jsonl) et CSV (exemples/exemples-complementaires.csv) :
  chaque ligne se lit, champs requis présents et typés, valeurs dans les listes autorisées,
  identifiants uniques, couverture minimale par région, domaine, profil d'acteur et type ;
- les fiches Repères (fiches/*.md) : front matter YAML, valeurs autorisées, longueur, sections `##` ;
- les sources des rapports (_sources/rapports/*.md) et les rapports produits (rapports/) :
  front matter ou fichier compagnon NAME.meta.yaml pour les PDF et DOCX.
Affiche un résumé et sort avec le code 0 si tout est conforme.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

CORPUS = Path(__file__).resolve().parent
SOURCE_EXEMPLE = "Exemple illustratif rédigé pour le corpus de démonstration de Sève"
CSV_SEP = " | "
EXEMPLE_FIELDS = {
    "id": str, "title": str, "resume": str, "description": str, "partenaires": list, "acteurs": list,
    "region": str, "territoire": str, "domaine": str, "type": str, "annee": int, "doc_type": str,
    "illustratif": bool, "source": str,
}
LIST_FIELDS = ("partenaires", "acteurs")
MIN_JSONL, MIN_CSV = 160, 12
MIN_PAR_REGION, MIN_PAR_DOMAINE, MIN_PAR_ACTEUR, MIN_PAR_TYPE = 6, 8, 15, 50
MIN_FICHES, FICHE_MOTS = 22, (300, 600)
RAPPORT_MOTS, RAPPORT_SECTIONS = (1500, 2500), (5, 8)
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)


class CorpusError(Exception):
    """Un problème de conformité du corpus, décrit en une ligne."""


def fail(where: object, message: str) -> None:
    raise CorpusError(f"{where} : {message}")


def load_allowed(root: Path) -> dict[str, list[str]]:
    path = root / "_sources" / "allowed_values.json"
    try:
        allowed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        fail(path, f"lecture impossible ({exc})")
    for key in ("regions", "domaines", "acteurs", "types", "doc_types"):
        values = allowed.get(key)
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            fail(path, f"la clé {key!r} doit être une liste non vide de chaînes")
        if len(set(values)) != len(values):
            fail(path, f"la clé {key!r} contient des doublons")
    return allowed


def check_value(where: str, field: str, value: object, allowed: list[str]) -> None:
    if value not in allowed:
        fail(where, f"valeur {value!r} non autorisée pour {field!r} (attendu : {', '.join(allowed)})")


def check_date(where: str, value: object) -> None:
    if isinstance(value, dt.date):
        return
    if not isinstance(value, str):
        fail(where, f"date {value!r} : chaîne ISO AAAA-MM-JJ attendue")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        fail(where, f"date {value!r} : format ISO AAAA-MM-JJ attendu")


def check_exemple_fields(where: str, rec: dict) -> None:
    for field, kind in EXEMPLE_FIELDS.items():
        if field not in rec:
            fail(where, f"champ requis manquant : {field!r}")
        value = rec[field]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            fail(where, f"champ {field!r} : type {kind.__name__} attendu, reçu {type(value).__name__}")
        if kind is str and not value.strip():
            fail(where, f"champ {field!r} vide")


def check_exemple(where: str, rec: dict, allowed: dict[str, list[str]]) -> None:
    check_exemple_fields(where, rec)
    if not re.fullmatch(r"EX-\d{3,}", rec["id"]):
        fail(where, f"identifiant {rec['id']!r} : format EX-NNN attendu")
    check_value(where, "region", rec["region"], allowed["regions"])
    check_value(where, "domaine", rec["domaine"], allowed["domaines"])
    check_value(where, "type", rec["type"], allowed["types"])
    if rec["doc_type"] != "exemple":
        fail(where, f"doc_type {rec['doc_type']!r} : 'exemple' attendu")
    if rec["illustratif"] is not True:
        fail(where, "illustratif doit valoir true")
    if rec["source"] != SOURCE_EXEMPLE:
        fail(where, f"source inattendue : {rec['source']!r}")
    if not 2012 <= rec["annee"] <= 2025:
        fail(where, f"annee {rec['annee']} hors de l'intervalle 2012-2025")
    if not 2 <= len(rec["partenaires"]) <= 4 or not all(isinstance(p, str) and p for p in rec["partenaires"]):
        fail(where, "partenaires : 2 à 4 noms (chaînes non vides) attendus")
    if not rec["acteurs"] or len(set(rec["acteurs"])) != len(rec["acteurs"]):
        fail(where, "acteurs : liste non vide et sans doublon attendue")
    for acteur in rec["acteurs"]:
        check_value(where, "acteurs", acteur, allowed["acteurs"])
    n = len(rec["description"].split())
    if not 90 <= n <= 180:
        fail(where, f"description de {n} mots (attendu 90 à 180)")


def read_jsonl(path: Path) -> list[tuple[str, dict]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            where = f"{path.relative_to(path.parents[1])}:{lineno}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                fail(where, f"JSON invalide ({exc})")
            if not isinstance(rec, dict):
                fail(where, "un objet JSON par ligne est attendu")
            rows.append((where, rec))
    return rows


def read_csv(path: Path) -> list[tuple[str, dict]]:
    rows = []
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(EXEMPLE_FIELDS) - set(reader.fieldnames or [])
        if missing:
            fail(path.name, f"colonnes manquantes : {', '.join(sorted(missing))}")
        for lineno, row in enumerate(reader, 2):
            where = f"{path.relative_to(path.parents[1])}:{lineno}"
            rec: dict = dict(row)
            for field in LIST_FIELDS:
                rec[field] = [v.strip() for v in (row[field] or "").split(CSV_SEP.strip()) if v.strip()]
            if not re.fullmatch(r"\d{4}", row["annee"] or ""):
                fail(where, f"annee {row['annee']!r} : entier attendu")
            rec["annee"] = int(row["annee"])
            if row["illustratif"] not in ("true", "True"):
                fail(where, f"illustratif {row['illustratif']!r} : 'true' attendu")
            rec["illustratif"] = True
            rows.append((where, rec))
    return rows


def check_exemples(root: Path, allowed: dict[str, list[str]]) -> dict[str, int]:
    jsonl = root / "exemples" / "exemples.jsonl"
    csv_path = root / "exemples" / "exemples-complementaires.csv"
    for path in (jsonl, csv_path):
        if not path.is_file():
            fail(path, "fichier absent")
    rows_jsonl, rows_csv = read_jsonl(jsonl), read_csv(csv_path)
    if len(rows_jsonl) < MIN_JSONL:
        fail(jsonl.name, f"{len(rows_jsonl)} exemples, au moins {MIN_JSONL} attendus")
    if len(rows_csv) < MIN_CSV:
        fail(csv_path.name, f"{len(rows_csv)} exemples, au moins {MIN_CSV} attendus")
    seen: dict[str, str] = {}
    counts: dict[str, Counter] = {k: Counter() for k in ("region", "domaine", "acteurs", "type")}
    for where, rec in rows_jsonl + rows_csv:
        check_exemple(where, rec, allowed)
        if rec["id"] in seen:
            fail(where, f"identifiant {rec['id']} déjà utilisé ({seen[rec['id']]})")
        seen[rec["id"]] = where
        counts["region"][rec["region"]] += 1
        counts["domaine"][rec["domaine"]] += 1
        counts["type"][rec["type"]] += 1
        counts["acteurs"].update(rec["acteurs"])
    minima = (("region", "regions", MIN_PAR_REGION), ("domaine", "domaines", MIN_PAR_DOMAINE),
              ("acteurs", "acteurs", MIN_PAR_ACTEUR), ("type", "types", MIN_PAR_TYPE))
    for field, key, minimum in minima:
        for value in allowed[key]:
            if counts[field][value] < minimum:
                fail("exemples", f"couverture insuffisante : {field}={value!r} a {counts[field][value]} "
                                 f"exemple(s), au moins {minimum} attendus")
    return {"jsonl": len(rows_jsonl), "csv": len(rows_csv)}


def parse_front_matter(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    match = FRONT_MATTER.match(text)
    if not match:
        fail(path, "front matter YAML absent (le fichier doit commencer par '---')")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        fail(path, f"front matter YAML invalide ({exc})")
    if not isinstance(meta, dict):
        fail(path, "le front matter doit être un dictionnaire YAML")
    return meta, match.group(2)


def check_metadata(where: str, meta: dict, doc_type: str, allowed: dict[str, list[str]]) -> None:
    for field in ("title", "doc_type", "date", "region", "domaine", "acteurs", "illustratif"):
        if field not in meta:
            fail(where, f"métadonnée requise manquante : {field!r}")
    if not isinstance(meta["title"], str) or not meta["title"].strip():
        fail(where, "title doit être une chaîne non vide")
    check_value(where, "doc_type", meta["doc_type"], allowed["doc_types"])
    if meta["doc_type"] != doc_type:
        fail(where, f"doc_type {meta['doc_type']!r} : {doc_type!r} attendu")
    check_date(where, meta["date"])
    check_value(where, "region", meta["region"], allowed["regions"])
    check_value(where, "domaine", meta["domaine"], allowed["domaines"])
    if not isinstance(meta["acteurs"], list) or not meta["acteurs"]:
        fail(where, "acteurs doit être une liste YAML non vide")
    for acteur in meta["acteurs"]:
        check_value(where, "acteurs", acteur, allowed["acteurs"])
    if meta["illustratif"] is not True:
        fail(where, "illustratif doit valoir true")
    if "url" in meta and meta["url"] is not None and not isinstance(meta["url"], str):
        fail(where, "url doit être null ou une chaîne")


def count_words(markdown: str) -> int:
    return len(re.findall(r"[\wÀ-ÿœŒ’'-]+", markdown))


def check_fiches(root: Path, allowed: dict[str, list[str]]) -> int:
    fiches = sorted(p for p in (root / "fiches").glob("*.md") if not p.name.startswith(("_", ".")))
    if len(fiches) < MIN_FICHES:
        fail("fiches", f"{len(fiches)} fiches, au moins {MIN_FICHES} attendues")
    for path in fiches:
        where = str(path.relative_to(root))
        meta, body = parse_front_matter(path)
        check_metadata(where, meta, "fiche", allowed)
        n = count_words(body)
        if not FICHE_MOTS[0] <= n <= FICHE_MOTS[1]:
            fail(where, f"{n} mots, entre {FICHE_MOTS[0]} et {FICHE_MOTS[1]} attendus")
        if len(re.findall(r"^## ", body, re.M)) < 3:
            fail(where, "au moins trois sections '## ' attendues")
    return len(fiches)


def check_rapport_source(path: Path, root: Path, allowed: dict[str, list[str]]) -> None:
    where = str(path.relative_to(root))
    meta, body = parse_front_matter(path)
    check_metadata(where, meta, "rapport", allowed)
    if "url" not in meta:
        fail(where, "métadonnée requise manquante : 'url' (null accepté)")
    if not re.search(r"^# \S", body, re.M):
        fail(where, "titre de niveau 1 ('# ') attendu")
    n = count_words(body)
    if not RAPPORT_MOTS[0] <= n <= RAPPORT_MOTS[1]:
        fail(where, f"{n} mots, entre {RAPPORT_MOTS[0]} et {RAPPORT_MOTS[1]} attendus")
    sections = len(re.findall(r"^## ", body, re.M))
    if not RAPPORT_SECTIONS[0] <= sections <= RAPPORT_SECTIONS[1]:
        fail(where, f"{sections} sections '## ', entre {RAPPORT_SECTIONS[0]} et {RAPPORT_SECTIONS[1]} attendues")


def check_rapport_output(path: Path, root: Path, allowed: dict[str, list[str]]) -> str | None:
    """Vérifie un fichier de rapports/ ; renvoie son extension s'il s'agit d'un document."""
    where = str(path.relative_to(root))
    if path.name.endswith(".meta.yaml"):
        stem = path.name[: -len(".meta.yaml")]
        if not any((path.parent / f"{stem}{ext}").is_file() for ext in (".pdf", ".docx", ".html")):
            fail(where, "fichier compagnon orphelin (aucun PDF, DOCX ou HTML du même nom)")
        return None
    if path.suffix == ".md":
        meta, _ = parse_front_matter(path)
        check_metadata(where, meta, "rapport", allowed)
    elif path.suffix in (".pdf", ".docx"):
        sidecar = path.with_name(path.stem + ".meta.yaml")
        if not sidecar.is_file():
            fail(where, f"fichier compagnon {sidecar.name} absent")
        meta = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            fail(sidecar.relative_to(root), "dictionnaire YAML attendu")
        check_metadata(str(sidecar.relative_to(root)), meta, "rapport", allowed)
    else:
        fail(where, "format inattendu dans rapports/")
    return path.suffix


def check_rapports(root: Path, allowed: dict[str, list[str]]) -> dict[str, int]:
    sources = sorted((root / "_sources" / "rapports").glob("*.md"))
    if len(sources) < 4:
        fail("_sources/rapports", f"{len(sources)} sources de rapports, au moins 4 attendues")
    for path in sources:
        check_rapport_source(path, root, allowed)
    produced: Counter = Counter()
    for path in sorted((root / "rapports").iterdir()):
        if path.name.startswith(("_", ".")) or path.name == "README.md":
            continue
        suffix = check_rapport_output(path, root, allowed)
        if suffix:
            produced[suffix] += 1
    for ext in (".pdf", ".docx", ".md"):
        if not produced[ext]:
            fail("rapports", f"aucun rapport {ext} (lancer : python corpus/build.py)")
    return dict(produced)


def main(argv: list[str]) -> int:
    root = Path(argv[1]).resolve() if len(argv) > 1 else CORPUS
    try:
        allowed = load_allowed(root)
        exemples = check_exemples(root, allowed)
        n_fiches = check_fiches(root, allowed)
        rapports = check_rapports(root, allowed)
    except CorpusError as exc:
        print(f"ERREUR {exc}", file=sys.stderr)
        return 1
    print(f"Corpus conforme : {exemples['jsonl']} exemples JSONL, {exemples['csv']} exemples CSV, "
          f"{n_fiches} fiches, rapports {rapports}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
