"""Produit les rapports du corpus de démonstration à partir de leurs sources Markdown.

Usage : python corpus/build.py

Sources : corpus/_sources/rapports/*.md (Markdown avec front matter YAML).
Sorties, dans corpus/rapports/ :
- odd17-co-construction-territoriale.pdf  (reportlab, police TTF embarquée) + .meta.yaml
- modeles-socio-economiques-economie-alliance.docx  (python-docx, styles Heading) + .meta.yaml
- les autres rapports, copiés tels quels en Markdown (front matter compris).

Le script est idempotent et déterministe : les dates internes des PDF et DOCX sont fixées à partir de la
date du rapport, l'identifiant PDF est invariant et l'archive DOCX est réécrite avec des horodatages fixes.
Après production, le texte du PDF est relu avec pypdf pour vérifier que les caractères français
(accents, « », œ) ont survécu.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import yaml

CORPUS = Path(__file__).resolve().parent
SOURCES = CORPUS / "_sources" / "rapports"
OUT = CORPUS / "rapports"
FORMATS = {
    "odd17-co-construction-territoriale": "pdf",
    "modeles-socio-economiques-economie-alliance": "docx",
}  # tout autre rapport est copié en Markdown
FOOTER = "Document illustratif — corpus de démonstration Sève"
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
FRENCH_PROBE = "é è ê à ç ù ô î « » œ Œ ’ – —"


# --------------------------------------------------------------------------- Markdown (sous-ensemble)

@dataclass(frozen=True)
class Block:
    kind: str  # "h1" | "h2" | "h3" | "p" | "bullet" | "number"
    text: str
    label: str = ""  # numéro d'un élément de liste numérotée


def parse_source(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    match = FRONT_MATTER.match(text)
    if not match:
        raise SystemExit(f"ERREUR {path} : front matter YAML absent")
    return yaml.safe_load(match.group(1)), match.group(2)


def parse_blocks(markdown: str) -> list[Block]:
    """Titres #/##/###, listes à puces ou numérotées, paragraphes (lignes consécutives)."""
    blocks: list[Block] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(Block("p", " ".join(para)))
            para.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        heading = re.match(r"(#{1,3}) (.+)", stripped)
        number = re.match(r"(\d+)\. (.+)", stripped)
        if not stripped:
            flush()
        elif heading:
            flush()
            blocks.append(Block(f"h{len(heading.group(1))}", heading.group(2)))
        elif stripped.startswith("- "):
            flush()
            blocks.append(Block("bullet", stripped[2:]))
        elif number:
            flush()
            blocks.append(Block("number", number.group(2), label=f"{number.group(1)}."))
        elif blocks and blocks[-1].kind in ("bullet", "number") and not para and line.startswith("  "):
            last = blocks.pop()  # continuation d'un élément de liste
            blocks.append(Block(last.kind, f"{last.text} {stripped}", last.label))
        else:
            para.append(stripped)
    flush()
    return blocks


INLINE = re.compile(r"\*\*(.+?)\*\*|\*(.+?)\*")


def inline_runs(text: str) -> list[tuple[str, bool, bool]]:
    """Découpe un texte Markdown en segments (texte, gras, italique)."""
    runs: list[tuple[str, bool, bool]] = []
    pos = 0
    for m in INLINE.finditer(text):
        if m.start() > pos:
            runs.append((text[pos:m.start()], False, False))
        runs.append((m.group(1), True, False) if m.group(1) is not None else (m.group(2), False, True))
        pos = m.end()
    if pos < len(text):
        runs.append((text[pos:], False, False))
    return runs


def fixed_datetime(meta: dict) -> dt.datetime:
    date = meta["date"]
    if isinstance(date, str):
        date = dt.date.fromisoformat(date)
    return dt.datetime(date.year, date.month, date.day, 9, 0, 0, tzinfo=dt.UTC)


# --------------------------------------------------------------------------- PDF (reportlab)

def _font_candidates() -> list[tuple[str, dict[str, Path]]]:
    styles = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf",
              "italic": "DejaVuSans-Oblique.ttf", "bolditalic": "DejaVuSans-BoldOblique.ttf"}
    dirs = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
            Path("/usr/local/share/fonts/dejavu")]
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.origin:  # matplotlib embarque DejaVu Sans
        dirs.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    found = [("DejaVuSans", {k: d / v for k, v in styles.items()}) for d in dirs]
    rl_spec = importlib.util.find_spec("reportlab")
    if rl_spec and rl_spec.origin:  # dernier recours : Vera, livrée avec reportlab
        rl_fonts = Path(rl_spec.origin).parent / "fonts"
        found.append(("Vera", {"regular": rl_fonts / "Vera.ttf", "bold": rl_fonts / "VeraBd.ttf",
                               "italic": rl_fonts / "VeraIt.ttf", "bolditalic": rl_fonts / "VeraBI.ttf"}))
    return found


def register_fonts() -> tuple[str, set[str]]:
    """Enregistre la première famille TTF disponible ; renvoie son nom et les caractères sans glyphe."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for family, files in _font_candidates():
        if not all(p.is_file() for p in files.values()):
            continue
        names = {k: family if k == "regular" else f"{family}-{k}" for k in files}
        for key, path in files.items():
            pdfmetrics.registerFont(TTFont(names[key], str(path)))
        addMapping(family, 0, 0, names["regular"])
        addMapping(family, 1, 0, names["bold"])
        addMapping(family, 0, 1, names["italic"])
        addMapping(family, 1, 1, names["bolditalic"])
        face = pdfmetrics.getFont(family).face
        missing = {c for c in FRENCH_PROBE.replace(" ", "") if ord(c) not in face.charToGlyph}
        return family, missing
    raise SystemExit("ERREUR aucune police TTF trouvée (installer fonts-dejavu-core)")


FALLBACK_CHARS = {"œ": "oe", "Œ": "OE", "’": "'", "–": "-", "—": "-", "«": '"', "»": '"'}


def pdf_markup(text: str, missing: set[str]) -> str:
    out = []
    for chunk, bold, italic in inline_runs(text):
        for char in missing:
            chunk = chunk.replace(char, FALLBACK_CHARS.get(char, "?"))
        chunk = escape(chunk)
        if bold:
            chunk = f"<b>{chunk}</b>"
        if italic:
            chunk = f"<i>{chunk}</i>"
        out.append(chunk)
    return "".join(out)


def build_pdf(meta: dict, body: str, target: Path) -> list[str]:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_JUSTIFY
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Spacer

    family, missing = register_fonts()
    base = getSampleStyleSheet()
    body_style = ParagraphStyle("Corps", parent=base["BodyText"], fontName=family, fontSize=10.5,
                                leading=14.5, alignment=TA_JUSTIFY, spaceAfter=6)
    styles = {
        "h1": ParagraphStyle("Titre", parent=base["Title"], fontName=f"{family}-bold", fontSize=19,
                             leading=24, spaceAfter=14, textColor=colors.HexColor("#1f4e3d")),
        "h2": ParagraphStyle("Section", parent=base["Heading2"], fontName=f"{family}-bold", fontSize=13.5,
                             leading=17, spaceBefore=12, spaceAfter=6, textColor=colors.HexColor("#1f4e3d")),
        "h3": ParagraphStyle("SousSection", parent=base["Heading3"], fontName=f"{family}-bold",
                             fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=4),
        "p": body_style,
        "bullet": ParagraphStyle("Puce", parent=body_style, leftIndent=16, bulletIndent=4, spaceAfter=3,
                                 bulletFontName=family),
        "number": ParagraphStyle("Numero", parent=body_style, leftIndent=20, bulletIndent=2, spaceAfter=3,
                                 bulletFontName=family),
    }

    class Doc(BaseDocTemplate):
        def afterFlowable(self, flowable):  # signets PDF pour les titres
            level = getattr(flowable, "_outline_level", None)
            if level is not None:
                key = f"s{self.seq.nextf('outline')}"
                self.canv.bookmarkPage(key)
                self.canv.addOutlineEntry(flowable.getPlainText(), key, level=level, closed=False)

    def decorate(canvas, doc):  # pied de page dessiné en fin de page : le texte extrait suit le contenu
        canvas.saveState()
        canvas.setFont(family, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(2 * cm, 1.2 * cm, FOOTER)
        canvas.drawRightString(A4[0] - 2 * cm, 1.2 * cm, f"Page {doc.page}")
        canvas.restoreState()

    story = []
    for block in parse_blocks(body):
        markup = pdf_markup(block.text, missing)
        if block.kind == "bullet":
            para = Paragraph(markup, styles["bullet"], bulletText="•")
        elif block.kind == "number":
            para = Paragraph(markup, styles["number"], bulletText=block.label)
        else:
            para = Paragraph(markup, styles[block.kind])
            if block.kind in ("h1", "h2", "h3"):
                para._outline_level = int(block.kind[1]) - 1
        story.append(para)
    story.append(Spacer(1, 6))

    buffer = io.BytesIO()
    doc = Doc(buffer, pagesize=A4, leftMargin=2.2 * cm, rightMargin=2.2 * cm, topMargin=2 * cm,
              bottomMargin=2 * cm, title=meta["title"], author=meta.get("auteur", ""),
              subject=f"{meta['domaine']} — {meta['region']}", creator="corpus/build.py (Sève)",
              keywords=", ".join(["ODD 17", "alliances", meta["domaine"], *meta["acteurs"]]),
              lang="fr-FR", invariant=1)
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="corps")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPageEnd=decorate)])
    doc.build(story)
    target.write_bytes(buffer.getvalue())
    warnings = [f"police {family} sans glyphe pour {''.join(sorted(missing))} : caractères remplacés"] \
        if missing else []
    return warnings + check_pdf_text(target, body)


def check_pdf_text(target: Path, body: str) -> list[str]:
    """Relit le PDF avec pypdf et vérifie que les caractères français du source y figurent."""
    try:
        from pypdf import PdfReader
    except ImportError:
        return ["pypdf absent : extraction du PDF non vérifiée"]
    text = "".join(page.extract_text() or "" for page in PdfReader(str(target)).pages)
    wanted = sorted({c for c in body if c in "éèêàçùôîâûëïÉÀ«»œŒ’"})
    lost = [c for c in wanted if c not in text]
    if lost:
        raise SystemExit(f"ERREUR {target.name} : caractères perdus à l'extraction : {' '.join(lost)}")
    return []


# --------------------------------------------------------------------------- DOCX (python-docx)

FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def set_language(document, lang: str = "fr-FR") -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rpr = document.styles["Normal"].element.get_or_add_rPr()
    lang_el = rpr.find(qn("w:lang"))
    if lang_el is None:
        lang_el = OxmlElement("w:lang")
        rpr.append(lang_el)
    lang_el.set(qn("w:val"), lang)


def add_runs(paragraph, text: str) -> None:
    for chunk, bold, italic in inline_runs(text):
        run = paragraph.add_run(chunk)
        run.bold = bold or None
        run.italic = italic or None


def build_docx(meta: dict, body: str, target: Path) -> list[str]:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document = Document()
    set_language(document)
    document.styles["Normal"].font.size = Pt(11)
    for block in parse_blocks(body):
        if block.kind.startswith("h"):
            document.add_heading(INLINE.sub(lambda m: m.group(1) or m.group(2), block.text),
                                 level=int(block.kind[1]))
        elif block.kind == "bullet":
            add_runs(document.add_paragraph(style="List Bullet"), block.text)
        elif block.kind == "number":  # numéro écrit en clair : la numérotation Word continuerait d'une liste à l'autre
            add_runs(document.add_paragraph(f"{block.label} ", style="List Paragraph"), block.text)
        else:
            para = document.add_paragraph()
            para.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            add_runs(para, block.text)
    section = document.sections[0]
    footer = section.footer.paragraphs[0]
    footer.text = FOOTER

    props = document.core_properties
    stamp = fixed_datetime(meta).replace(tzinfo=None)
    props.title = meta["title"]
    props.author = meta.get("auteur", "")
    props.last_modified_by = meta.get("auteur", "")
    props.subject = f"{meta['domaine']} — {meta['region']}"
    props.keywords = ", ".join(["ODD 17", "alliances", meta["domaine"], *meta["acteurs"]])
    props.category = "rapport"
    props.comments = "Rapport illustratif du corpus de démonstration Sève (organisations fictives)."
    props.language = "fr-FR"
    props.created = stamp
    props.modified = stamp
    props.last_printed = stamp
    props.revision = 1

    raw = io.BytesIO()
    document.save(raw)
    target.write_bytes(normalize_zip(raw.getvalue()))
    return []


def normalize_zip(data: bytes) -> bytes:
    """Réécrit l'archive avec des horodatages et attributs fixes, pour un résultat reproductible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# --------------------------------------------------------------------------- orchestration

def write_sidecar(meta: dict, target: Path) -> Path:
    sidecar = target.with_name(target.stem + ".meta.yaml")
    header = ("# Métadonnées du document " + target.name + " (même contenu que le front matter de sa source,\n"
              "# corpus/_sources/rapports/" + target.stem + ".md). Fichier produit par corpus/build.py.\n")
    sidecar.write_text(header + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=110),
                       encoding="utf-8")
    return sidecar


def build_one(source: Path) -> tuple[list[Path], list[str]]:
    meta, body = parse_source(source)
    fmt = FORMATS.get(source.stem, "md")
    if fmt == "md":
        target = OUT / source.name
        shutil.copyfile(source, target)
        return [target], []
    target = OUT / f"{source.stem}.{fmt}"
    warnings = build_pdf(meta, body, target) if fmt == "pdf" else build_docx(meta, body, target)
    return [target, write_sidecar(meta, target)], warnings


def main() -> int:
    sources = sorted(SOURCES.glob("*.md"))
    if not sources:
        print(f"ERREUR aucune source dans {SOURCES}", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    expected: set[str] = set()
    for source in sources:
        produced, warnings = build_one(source)
        expected.update(p.name for p in produced)
        for path in produced:
            print(f"écrit {path.relative_to(CORPUS.parent)}")
        for warning in warnings:
            print(f"avertissement {source.name} : {warning}", file=sys.stderr)
    for stale in sorted(OUT.iterdir()):  # sorties d'anciennes versions des sources
        if stale.is_file() and stale.name not in expected and not stale.name.startswith((".", "_")):
            stale.unlink()
            print(f"supprimé {stale.relative_to(CORPUS.parent)} (plus de source correspondante)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
