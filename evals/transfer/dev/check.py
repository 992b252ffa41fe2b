#!/usr/bin/env python3
"""Sanity checks for the transfer dev set (questions.jsonl + corpus/).

Usage: python3 check.py   (exit code 0 when everything passes)

- ids unique, kinds known, fields well-formed;
- every answerable question: expected docs exist and at least one expected
  answer appears verbatim (case-insensitive, whitespace collapsed, ' vs ’
  normalised) in the visible text of one expected doc;
- every unanswerable question: prints the docs containing its main noun(s),
  to be re-read by hand;
- corpus: no metadata (no front matter, no sidecar files), disclaimer present,
  .txt files between 1,500 and 4,000 words.
"""
import json
import os
import re
import sys
from collections import Counter

try:
    from bs4 import BeautifulSoup  # type: ignore
except ImportError:  # pragma: no cover
    venv = "/work/main/.venv/bin/python"
    if os.path.exists(venv) and not os.environ.get("CHECK_NO_REEXEC"):
        os.environ["CHECK_NO_REEXEC"] = "1"
        os.execv(venv, [venv] + sys.argv)
    BeautifulSoup = None

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
KINDS = {"factual", "definition", "list", "comparison", "howto", "example",
         "follow_up", "english", "typo", "unanswerable"}
DISCLAIMER = "page d'exemple fictive — contenu illustratif"
STOP = set("""le la les un une des du de d l au aux et ou en dans pour par sur avec sans
quel quelle quels quelles qui que quoi quand comment combien est sont ce c ça
the of a an is what who when how many which does do in at to for""".split())
GENERIC = set("""association associations entreprise entreprises organiser créer règles peut-il
obtenir faire avoir""".split())


def norm(s):
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("\u00a0", " ").replace("\u202f", " ")
    return re.sub(r"\s+", " ", s).strip().lower()


def visible_text(path):
    raw = open(path, encoding="utf-8").read()
    if path.endswith(".html"):
        if BeautifulSoup is not None:
            soup = BeautifulSoup(raw, "html.parser")
            for t in soup(["script", "style", "head"]):
                t.decompose()
            text = soup.get_text(" ")
        else:
            raw = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", raw)
            text = re.sub(r"<[^>]+>", " ", raw)
            import html as _h
            text = _h.unescape(text)
        return norm(text)
    text = re.sub(r"(\w)-\n[ \t]*(\w)", r"\1\2", raw)  # join words hyphenated across lines
    return norm(text)


def main_nouns(q):
    """Heuristic: capitalised multi-word names (not the first word), else the longest words."""
    words = re.findall(r"[\w'’&-]+", q)
    names, cur = [], []
    connectors = {"de", "du", "des", "d'", "en", "&", "la", "le", "vers", "l'"}
    for i, w in enumerate(words):
        w2 = w.split("'")[-1].split("’")[-1] if ("'" in w or "’" in w) else w
        if i > 0 and w2[:1].isupper() and not (w2.isupper() and len(w2) <= 3 and not cur):
            cur.append(w if cur else w2)
        elif cur and w.lower() in connectors:
            cur.append(w)
        else:
            if cur:
                names.append(cur)
            cur = []
    if cur:
        names.append(cur)
    out = []
    for n in names:
        while n and n[-1].lower() in connectors:
            n = n[:-1]
        if n:
            out.append(" ".join(n))
    if not out:
        cand = [w for w in words if w.lower() not in STOP and w.lower() not in GENERIC and len(w) > 3]
        out = sorted(cand, key=len, reverse=True)[:2]
    return out


def main():
    errors, warnings = [], []
    # ---------- corpus ----------
    docs = {}
    for root, _, files in os.walk(CORPUS):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), CORPUS)
            if not f.endswith((".html", ".txt")):
                errors.append(f"corpus: unexpected file (metadata/sidecar?) {rel}")
                continue
            raw = open(os.path.join(CORPUS, rel), encoding="utf-8").read()
            if raw.lstrip().startswith("---"):
                errors.append(f"corpus: front matter in {rel}")
            docs[rel] = visible_text(os.path.join(CORPUS, rel))
            if DISCLAIMER not in docs[rel]:
                errors.append(f"corpus: disclaimer missing in {rel}")
            if f.endswith(".txt"):
                n = len(raw.split())
                if not 1500 <= n <= 4000:
                    errors.append(f"corpus: {rel} has {n} words (want 1500-4000)")
    n_html = sum(k.endswith(".html") for k in docs)
    n_txt = sum(k.endswith(".txt") for k in docs)
    print(f"python: {sys.executable} — html text via {'BeautifulSoup' if BeautifulSoup else 'regex fallback'}")
    print(f"corpus: {len(docs)} documents ({n_html} html, {n_txt} txt)")
    if not 16 <= len(docs) <= 18:
        errors.append(f"corpus: {len(docs)} documents (want 16-18)")

    # ---------- questions ----------
    qs = [json.loads(l) for l in open(os.path.join(HERE, "questions.jsonl"), encoding="utf-8") if l.strip()]
    ids = Counter(q["id"] for q in qs)
    for i, c in ids.items():
        if c > 1:
            errors.append(f"{i}: duplicate id")
    kinds = Counter(q["kind"] for q in qs)
    for q in qs:
        qid = q["id"]
        for key in ("id", "kind", "question", "history", "filters", "expected_docs", "expected_answers", "answerable"):
            if key not in q:
                errors.append(f"{qid}: missing field {key}")
        if q["kind"] not in KINDS:
            errors.append(f"{qid}: unknown kind {q['kind']}")
        if q["kind"] == "follow_up":
            h = q["history"]
            if not h or any(set(t) != {"role", "content"} for t in h) or h[-1]["role"] != "assistant":
                errors.append(f"{qid}: follow_up needs a user/assistant history")
        if q["answerable"]:
            if q["kind"] == "unanswerable":
                errors.append(f"{qid}: kind unanswerable but answerable=true")
            if not q["expected_docs"] or not 1 <= len(q["expected_answers"]) <= 3:
                errors.append(f"{qid}: answerable needs expected_docs and 1-3 expected_answers")
            found = False
            for d in q["expected_docs"]:
                if d not in docs:
                    errors.append(f"{qid}: expected doc not found: {d}")
                    continue
                for a in q["expected_answers"]:
                    if norm(a) in docs[d]:
                        found = True
            if not found:
                errors.append(f"{qid}: none of {q['expected_answers']} found in {q['expected_docs']}")
        else:
            if q["expected_docs"] or q["expected_answers"] or q["kind"] != "unanswerable":
                errors.append(f"{qid}: unanswerable must have kind=unanswerable and empty expectations")

    print(f"questions: {len(qs)} — " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda x: -x[1])))

    print("\nUnanswerable questions — docs mentioning their main noun (re-read them by hand):")
    for q in qs:
        if q["answerable"]:
            continue
        nouns = main_nouns(q["question"])
        hits = []
        for n in nouns:
            ds = sorted(d for d, t in docs.items() if norm(n) in t)
            hits.append(f"'{n}' -> {', '.join(ds) if ds else '(none)'}")
        print(f"  {q['id']} {q['question']}\n      " + "\n      ".join(hits))

    for w in warnings:
        print("WARNING:", w)
    if errors:
        print(f"\nFAILED: {len(errors)} error(s)")
        for e in errors:
            print("  -", e)
        return 1
    print("\nOK: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
