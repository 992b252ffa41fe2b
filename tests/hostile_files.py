"""A generated set of hostile input files for `seve ingest`, and what each one must give.

`make_hostile(root)` writes every file under `root` and returns the expected outcome per relative path:
`("error", words)` — the file is reported, its French reason contains `words` — or `("ok", n)` — the file
loads and gives `n` documents (a bad file that can still be read correctly, such as Latin-1 text, is loaded,
not refused). Beside them lie good files whose every record must be kept.

Run `python -m tests.hostile_files DIR` to write the set into DIR and try it by hand.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import zipfile
from pathlib import Path

GOOD_TEXT = ("Dans la vallée fictive de l'Ubaye-Haute, une association d'aide alimentaire, deux communes et une "
             "entreprise de transport se sont alliées pour livrer des paniers aux habitants isolés. ")
Expected = dict[str, tuple[str, object]]


def _pdf_bytes(text: str, *, password: str | None = None, pages: int = 1) -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    for page in range(pages):
        y = 800
        for line in (text[i:i + 90] for i in range(0, len(text), 90)):
            pdf.drawString(40, y, line)
            y -= 14
        pdf.drawString(40, 40, f"page {page + 1}")
        pdf.showPage()
    pdf.save()
    data = buf.getvalue()
    if password is None:
        return data
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _docx_with_part(name: str, payload: bytes, *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A valid DOCX whose `name` part is replaced by `payload`."""
    src = zipfile.ZipFile(io.BytesIO(_docx_bytes(["Texte."])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as out:
        for item in src.infolist():
            out.writestr(item.filename, payload if item.filename == name else src.read(item.filename))
    return buf.getvalue()


def _zip_bomb_docx() -> bytes:
    """A DOCX whose document part inflates to 1 GB of spaces inside about 1 MB (written streamed)."""
    src = zipfile.ZipFile(io.BytesIO(_docx_bytes(["Texte."])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for item in src.infolist():
            if item.filename == "word/document.xml":
                info = zipfile.ZipInfo(item.filename)
                info.compress_type = zipfile.ZIP_DEFLATED
                with out.open(info, "w", force_zip64=True) as part:
                    part.write(src.read(item.filename)[:-30])
                    block = b" " * (1 << 20)
                    for _ in range(1024):
                        part.write(block)
            else:
                out.writestr(item, src.read(item.filename))
    return buf.getvalue()


def _record(i: int, **extra: object) -> dict[str, object]:
    return {"id": f"H-{i:03d}", "title": f"Alliance fictive n°{i} pour l'accès aux droits",
            "resume": GOOD_TEXT + f"Record {i}.", "region": "Bretagne", "domaine": "Solidarité", **extra}


def make_hostile(root: Path) -> Expected:
    """Write the hostile set under root; return {relative path: expected outcome}."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    expect: Expected = {}

    def put(name: str, data: bytes | str, outcome: tuple[str, object]) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        expect[name] = outcome

    good_pdf = _pdf_bytes(GOOD_TEXT * 3)
    # --- PDF
    put("pdf/corrompu.pdf", b"%PDF-1.7\n" + rng.randbytes(20_000), ("error", "PDF"))
    put("pdf/tronque.pdf", good_pdf[: len(good_pdf) // 2], ("error", "PDF"))
    put("pdf/chiffre.pdf", _pdf_bytes(GOOD_TEXT, password="secret"), ("error", "mot de passe"))
    put("pdf/entete-seul.pdf", b"%PDF-1.4\n%%EOF\n", ("error", "PDF"))
    put("pdf/pas-un-pdf.pdf", GOOD_TEXT.encode(), ("error", "PDF"))
    put("pdf/sans-texte.pdf", _pdf_bytes(""), ("error", "sans texte"))
    put("pdf/bon.pdf", good_pdf, ("ok", 1))
    # --- DOCX
    put("docx/bombe.docx", _zip_bomb_docx(), ("error", "archive"))
    put("docx/pas-un-zip.docx", rng.randbytes(5000), ("error", "DOCX"))
    put("docx/xml-casse.docx", _docx_with_part("word/document.xml", b"<w:document><w:body><w:p>"), ("error", "DOCX"))
    put("docx/zip-vide.docx", _empty_zip(), ("error", "DOCX"))
    put("docx/bon.docx", _docx_bytes([GOOD_TEXT, "Deuxième paragraphe du document fictif."]), ("ok", 1))
    # --- text and encodings
    big = root / "texte" / "enorme-200mo.txt"
    big.parent.mkdir(parents=True, exist_ok=True)
    with open(big, "wb") as f:
        line = (GOOD_TEXT + "\n").encode()
        for _ in range(200 * 1024 * 1024 // len(line) + 1):
            f.write(line)
    expect["texte/enorme-200mo.txt"] = ("error", "trop volumineux")
    put("texte/latin1.txt", ("Coopération entre élus et associations : " + GOOD_TEXT).encode("latin-1"), ("ok", 1))
    put("texte/utf16-sans-bom.txt", ("Coopération : " + GOOD_TEXT).encode("utf-16-le"), ("ok", 1))
    put("texte/utf16-be-sans-bom.md", ("Réseau fictif : " + GOOD_TEXT).encode("utf-16-be"), ("ok", 1))
    put("texte/utf16-avec-bom.txt", ("Énergie partagée : " + GOOD_TEXT).encode("utf-16"), ("ok", 1))
    put("texte/octets-nuls.txt", (GOOD_TEXT[:80] + "\x00\x00" + GOOD_TEXT[80:] * 3 + "\x00").encode(), ("ok", 1))
    put("texte/binaire.txt", rng.randbytes(30_000), ("error", "binaire"))
    put("texte/vide.md", b"", ("error", "vide"))
    put("texte/blancs.txt", b" \n\t\n   \n", ("error", "vide"))
    put("texte/mot-geant.txt", "Un mot très long : " + "x" * 2_000_000 + " fin. " + GOOD_TEXT, ("ok", 1))
    put("texte/yaml-invalide.md", "---\ntitle: [pas fermé\n---\n" + GOOD_TEXT, ("error", "YAML"))
    laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
        f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(9))
    put("texte/yaml-bombe.md", f"---\ntitle: Bombe\n{laughs}---\n{GOOD_TEXT}", ("error", "YAML"))
    put("texte/annexe.md", GOOD_TEXT, ("error", "métadonnées"))
    put("texte/annexe.meta.yaml", "title: [oups\n", ("skip", 0))
    # --- names
    put("noms/retour\nà la ligne.md", "# Nom avec retour à la ligne\n\n" + GOOD_TEXT, ("ok", 1))
    put("noms/rapport-..∕..∕etc∕passwd.md", "# Nom qui imite un chemin\n\n" + GOOD_TEXT, ("ok", 1))
    put("noms/format.exe.md", "# Extension trompeuse\n\n" + GOOD_TEXT, ("ok", 1))
    # --- HTML
    put("html/imbrique.html", "<html><body>" + "<div>" * 200_000 + GOOD_TEXT + "</div>" * 200_000
        + "</body></html>", ("ok", 1))
    put("html/que-du-script.html", "<html><head><script>alert(1)</script></head><body><script>x()</script>"
        "</body></html>", ("error", "aucun texte"))
    # --- records
    cols = ",".join(["id", "title", "resume"] + [f"c{i}" for i in range(1_000_000)])
    put("fiches/un-million-de-colonnes.csv", cols + "\nH-1,Titre,Résumé\n", ("error", "colonnes"))
    put("fiches/champ-geant.csv", "id,title,resume\nH-1,Titre," + "y" * 300_000 + "\n", ("error", "champ"))
    rows = [_record(i) for i in range(1, 6)]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(2, '{"id": "H-BAD", "title": "ligne coupée')
    lines.insert(4, "[1, 2, 3]")
    lines.insert(5, "[" * 100_000 + "]" * 100_000)
    lines.append(json.dumps({"id": "H-001", "title": "Doublon", "resume": "x"}))
    lines.append(json.dumps({"id": "H-NOTITLE", "resume": "Sans titre"}))
    lines.append(json.dumps({"id": "../../etc/passwd", "title": "Identifiant qui imite un chemin",
                             "resume": GOOD_TEXT}))
    put("fiches/mixte.jsonl", "\n".join(lines) + "\n", ("ok", 6))
    csv_rows = ["id,title,resume,region", "C-1,Cantine fictive,Une cantine partagée.,Bretagne",
                "C-2,Trop de valeurs,a,b,c,d", "C-3,Ressourcerie fictive,Une ressourcerie.,Normandie",
                ",Sans identifiant,texte,Bretagne"]
    put("fiches/lignes-mixtes.csv", "\n".join(csv_rows) + "\n", ("ok", 2))
    # --- links and special files
    (root / "liens").mkdir(exist_ok=True)
    os.symlink("boucle-b.md", root / "liens" / "boucle-a.md")
    os.symlink("boucle-a.md", root / "liens" / "boucle-b.md")
    expect["liens/boucle-a.md"] = ("error", "lien")
    expect["liens/boucle-b.md"] = ("error", "lien")
    os.symlink(".", root / "liens" / "dossier-boucle")
    os.symlink("nulle-part.md", root / "liens" / "casse.md")
    expect["liens/casse.md"] = ("error", "lien")
    os.mkfifo(root / "liens" / "tube.txt")
    expect["liens/tube.txt"] = ("error", "ordinaire")
    put("liens/bon.md", "# Lien ordinaire\n\n" + GOOD_TEXT, ("ok", 1))
    return expect


def _empty_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w"):
        pass
    return buf.getvalue()


def bad_count(expect: Expected) -> int:
    """Hostile inputs in the set: files reported as errors, bad files read correctly, and bad lines of the
    record files (each bad line or row counts once)."""
    files = sum(1 for name, (kind, _) in expect.items() if kind != "skip" and not name.endswith(("bon.pdf",
                "bon.docx", "bon.md")))
    return files + 5 + 2  # mixte.jsonl: 5 bad lines; lignes-mixtes.csv: 2 bad rows


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile")
    result = make_hostile(out)
    print(f"{len(result)} fichiers écrits dans {out}")
