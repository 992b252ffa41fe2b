#!/usr/bin/env python3
"""Vérification du jeu d'évaluation tenu à l'écart « transfer/test ».

Usage : /work/main/.venv/bin/python check.py   (BeautifulSoup si disponible,
sinon repli sur une suppression grossière des balises).

Contrôles :
- identifiants uniques, types connus, champs obligatoires ;
- documents attendus existants ;
- questions répondables : au moins une réponse attendue présente mot pour mot
  dans le texte visible d'un des documents attendus (casse ignorée, espaces
  normalisés, apostrophes ’/' unifiées, césure « -\\n » recollée pour les .txt) ;
- questions sans réponse : affichage des documents contenant les mots
  principaux de la question, pour relecture manuelle ;
- corpus : 15 à 17 documents, pas de front matter YAML ni de fichier annexe,
  mention « Contenu fictif à des fins de démonstration » partout.
"""
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
QUESTIONS = HERE / "questions.jsonl"

KINDS = {"factual", "definition", "list", "comparison", "howto", "example",
         "follow_up", "english", "typo", "unanswerable"}

try:
    from bs4 import BeautifulSoup  # type: ignore
except ImportError:  # pragma: no cover
    BeautifulSoup = None


def html_text(raw: str) -> str:
    if BeautifulSoup is not None:
        soup = BeautifulSoup(raw, "html.parser")
        for tag in soup(["script", "style", "noscript"]):
            tag.decompose()
        title = soup.title.get_text(" ") if soup.title else ""
        if soup.head:
            soup.head.decompose()
        return title + "\n" + soup.get_text(" ")
    raw = re.sub(r"(?is)<(script|style|noscript)\b.*?</\1>", " ", raw)
    raw = re.sub(r"(?s)<[^>]+>", " ", raw)
    import html as _html
    return _html.unescape(raw)


def txt_text(raw: str) -> str:
    # recoller les mots coupés en fin de ligne (« coopé-\nration »)
    return re.sub(r"(\w)-\n\s*(\w)", r"\1\2", raw)


def norm(s: str) -> str:
    s = unicodedata.normalize("NFC", s)
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("\u02bc", "'")
    s = s.replace("\u00a0", " ").replace("\u202f", " ")
    s = re.sub(r"\s+", " ", s)
    return s.strip().lower()


def load_docs():
    docs = {}
    for p in sorted(CORPUS.rglob("*")):
        if p.is_file():
            rel = p.relative_to(CORPUS).as_posix()
            raw = p.read_text(encoding="utf-8")
            if p.suffix == ".html":
                docs[rel] = (raw, norm(html_text(raw)))
            elif p.suffix == ".txt":
                docs[rel] = (raw, norm(txt_text(raw)))
            else:
                docs[rel] = (raw, None)
    return docs


STOP = set("""quel quelle quels quelles combien comment pourquoi quand est-ce qu'est-ce
c'est cest dans pour avec leur leurs sont elle elles ils font faire faut peut
what which how does many much the and for with who founded year have members
annual entre après avant depuis chaque année prochain prochaine exactement
association""".split())


def keywords(q: str):
    words = re.findall(r"[\w'’-]+", q)
    out = []
    for w in words:
        w2 = w.strip("'’-")
        lw = w2.lower()
        if "'" in lw or "’" in lw:
            lw = re.split(r"['’]", lw)[-1]
            w2 = re.split(r"['’]", w2)[-1]
        if len(lw) >= 5 and lw not in STOP:
            out.append(w2)
    # priorité aux noms propres, puis aux mots longs
    out = sorted(set(out), key=lambda w: (not w[:1].isupper(), -len(w)))
    return out[:4]


def main() -> int:
    errors = []
    docs = load_docs()

    # --- corpus ---
    n_html = sum(1 for d in docs if d.endswith(".html"))
    n_txt = sum(1 for d in docs if d.endswith(".txt"))
    others = [d for d in docs if not d.endswith((".html", ".txt"))]
    if others:
        errors.append(f"fichiers non attendus dans corpus/ : {others}")
    if not 15 <= len(docs) <= 17:
        errors.append(f"{len(docs)} documents (attendu 15 à 17)")
    for d, (raw, text) in docs.items():
        if raw.lstrip().startswith("---"):
            errors.append(f"{d} : front matter YAML interdit")
        if text is not None and "contenu fictif à des fins de démonstration" not in text:
            errors.append(f"{d} : mention « Contenu fictif… » absente")
        if d.endswith(".html") and "<title>" not in raw.lower():
            errors.append(f"{d} : pas de <title>")
        if d.endswith(".txt"):
            nw = len(re.findall(r"\w+", raw))
            if not 1500 <= nw <= 4000:
                errors.append(f"{d} : {nw} mots (attendu 1 500 à 4 000)")
    print(f"Corpus : {len(docs)} documents ({n_html} .html, {n_txt} .txt)")

    # --- questions ---
    qs = []
    for i, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            qs.append(json.loads(line))
        except json.JSONDecodeError as e:
            errors.append(f"questions.jsonl ligne {i} : JSON invalide ({e})")
    ids = Counter(q.get("id") for q in qs)
    for k, v in ids.items():
        if v > 1:
            errors.append(f"id en double : {k}")
    kinds = Counter(q.get("kind") for q in qs)
    print(f"Questions : {len(qs)}  " + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())))

    ok = 0
    unans_report = []
    for q in qs:
        qid = q.get("id")
        for f in ("id", "kind", "question", "history", "filters", "expected_docs",
                  "expected_answers", "answerable"):
            if f not in q:
                errors.append(f"{qid} : champ {f} manquant")
        if q.get("kind") not in KINDS:
            errors.append(f"{qid} : type inconnu {q.get('kind')!r}")
        if q.get("kind") == "follow_up":
            h = q.get("history") or []
            if len(h) < 2 or [m.get("role") for m in h[:2]] != ["user", "assistant"]:
                errors.append(f"{qid} : follow_up sans historique user/assistant")
        for d in q.get("expected_docs", []):
            if d not in docs:
                errors.append(f"{qid} : document attendu introuvable {d}")
        if q.get("answerable"):
            if q.get("kind") == "unanswerable":
                errors.append(f"{qid} : kind unanswerable mais answerable=true")
            answers = q.get("expected_answers") or []
            if not 1 <= len(answers) <= 3:
                errors.append(f"{qid} : {len(answers)} réponses attendues (1 à 3)")
            found = [a for a in answers for d in q.get("expected_docs", [])
                     if d in docs and docs[d][1] and norm(a) in docs[d][1]]
            if not found:
                errors.append(f"{qid} : aucune réponse attendue trouvée dans {q.get('expected_docs')} : {answers}")
            else:
                ok += 1
        else:
            if q.get("expected_docs") or q.get("expected_answers"):
                errors.append(f"{qid} : sans réponse mais expected_docs/answers non vides")
            kws = keywords(q["question"])
            hits = {}
            for kw in kws:
                hits[kw] = [d for d, (_, t) in docs.items() if t and norm(kw) in t]
            unans_report.append((qid, q["question"], hits))

    answerable = sum(1 for q in qs if q.get("answerable"))
    print(f"Répondables : {ok}/{answerable} vérifiées dans le texte visible")
    print("\nSans réponse - documents contenant les mots principaux (à relire) :")
    for qid, question, hits in unans_report:
        print(f"  {qid} {question}")
        for kw, ds in hits.items():
            print(f"      {kw!r:22} -> {', '.join(ds) if ds else '(aucun)'}")

    if errors:
        print(f"\n{len(errors)} ERREUR(S) :")
        for e in errors:
            print("  -", e)
        return 1
    print("\nOK : toutes les vérifications automatiques passent.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
