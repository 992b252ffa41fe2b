"""Assemble les exemples illustratifs rédigés à la main (lot-*.yaml) en JSONL et CSV.

Usage : python corpus/_sources/exemples/generer.py
Les 160 premiers exemples vont dans corpus/exemples/exemples.jsonl, les suivants dans
corpus/exemples/exemples-complementaires.csv. Les identifiants EX-NNN suivent l'ordre des lots.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent
OUT_DIR = CORPUS / "exemples"
N_JSONL = 160
SOURCE = "Exemple illustratif rédigé pour le corpus de démonstration de Sève"
FIELDS = [
    "id", "title", "resume", "description", "partenaires", "acteurs", "region", "territoire",
    "domaine", "type", "annee", "doc_type", "illustratif", "source",
]
LIST_FIELDS = {"partenaires", "acteurs"}
CSV_SEP = " | "


def load_records() -> list[dict]:
    records: list[dict] = []
    for path in sorted(HERE.glob("lot-*.yaml")):
        batch = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for raw in batch:
            rec = dict(raw)
            rec["id"] = f"EX-{len(records) + 1:03d}"
            rec["doc_type"] = "exemple"
            rec["illustratif"] = True
            rec["source"] = SOURCE
            records.append({k: rec[k] for k in FIELDS})
    return records


def main() -> int:
    records = load_records()
    if len(records) < N_JSONL + 12:
        print(f"avertissement : {len(records)} exemples seulement", file=sys.stderr)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with open(OUT_DIR / "exemples.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for rec in records[:N_JSONL]:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    with open(OUT_DIR / "exemples-complementaires.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for rec in records[N_JSONL:]:
            row = {k: (CSV_SEP.join(v) if k in LIST_FIELDS else v) for k, v in rec.items()}
            row["illustratif"] = "true"
            writer.writerow(row)
    for rec in records:
        n = len(rec["description"].split())
        if not 90 <= n <= 180:
            print(f"{rec['id']} : description de {n} mots (attendu 90-180)", file=sys.stderr)
    print(f"{min(len(records), N_JSONL)} exemples JSONL, {max(0, len(records) - N_JSONL)} exemples CSV")
    return 0


if __name__ == "__main__":
    sys.exit(main())
