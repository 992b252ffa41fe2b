"""Loaders: a path (file or folder) -> SourceDocument records, one loader per format.

Every failure on one file becomes a `LoadError` with a French reason; the other files load.
Files and folders whose names start with `.` or `_` are skipped (that is where sources and
build inputs live), and so are `README.md` files and `*.meta.yaml` sidecars (read with their file).
"""

from __future__ import annotations

import csv
import io
import json
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from ingest.models import LoadError, SourceDocument

LIST_FIELDS = ("acteurs", "partenaires")
RECORD_TEXT_FIELDS = ("resume", "description", "texte", "text", "summary")
MAX_FILE_BYTES = 50 * 1024 * 1024


class LoaderError(Exception):
    """A file that cannot be loaded; `reason` is shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- helpers -----------------------------------------------------------------------------------

def _read_bytes(path: Path) -> bytes:
    mode = path.stat().st_mode
    if not mode & (stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH):
        raise LoaderError("lecture non autorisée (aucun droit de lecture sur le fichier)")
    try:
        data = path.read_bytes()
    except PermissionError as exc:
        raise LoaderError("lecture non autorisée (permission refusée)") from exc
    if len(data) > MAX_FILE_BYTES:
        raise LoaderError(f"fichier trop volumineux (plus de {MAX_FILE_BYTES // (1024 * 1024)} Mo)")
    if not data.strip():
        raise LoaderError("fichier vide")
    return data


def _decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise LoaderError("fichier binaire : ce n'est pas du texte")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise LoaderError("encodage illisible (ni UTF-8 ni Windows-1252)") from exc
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.01 * min(len(text), 8192) + 2:
        raise LoaderError("fichier binaire : ce n'est pas du texte")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _clean_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def normalize_metadata(raw: dict[str, Any]) -> dict[str, Any]:
    """Coerce metadata into the corpus schema: lists for list fields, int years, ISO dates."""
    meta: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None or value == "" or value == []:
            continue
        key = str(key).strip()
        value = _clean_value(value)
        if key in LIST_FIELDS:
            if isinstance(value, str):
                value = [v.strip() for v in re.split(r"\s*[|;]\s*", value) if v.strip()]
            value = [str(v) for v in value]
        elif key == "annee":
            try:
                value = int(value)
            except (TypeError, ValueError):
                continue
        elif isinstance(value, (list, tuple)):
            value = [str(v) for v in value]
        elif not isinstance(value, (str, int, float, bool)):
            value = str(value)
        meta[key] = value
    if "annee" not in meta and isinstance(meta.get("date"), str) and re.match(r"\d{4}", meta["date"]):
        meta["annee"] = int(meta["date"][:4])
    return meta


def _sidecar(path: Path) -> dict[str, Any]:
    meta_path = path.with_name(path.stem + ".meta.yaml")
    if not meta_path.exists():
        return {}
    try:
        data = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LoaderError(f"métadonnées illisibles dans {meta_path.name} : {exc}") from exc
    if not isinstance(data, dict):
        raise LoaderError(f"métadonnées invalides dans {meta_path.name} : un objet YAML est attendu")
    return data


_BOILERPLATE = re.compile(
    r"^(aller au contenu|skip to|menu|accueil|recevoir les|tous les articles|partager|par .{0,60} publié)",
    re.IGNORECASE)


def _title_from_text(text: str, path: Path) -> str:
    """The first short line that is not web-page boilerplate, else the file name."""
    for line in text.splitlines()[:15]:
        line = line.strip().lstrip("#").strip()
        if not line or _BOILERPLATE.match(line):
            continue
        return line if len(line) <= 120 and len(line.split()) >= 2 else path.stem
    return path.stem


def _document(path: Path, text: str, meta: dict[str, Any], source: str | None = None) -> SourceDocument:
    text = text.strip("\n")
    if not text.strip():
        raise LoaderError("aucun texte exploitable")
    meta = normalize_metadata({**meta, **_sidecar(path)})
    meta.setdefault("title", _title_from_text(text, path))
    meta.setdefault("path", str(path))
    return SourceDocument(source=source or str(path), text=text, metadata=meta)


# --- one loader per format --------------------------------------------------------------------

FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)


def load_markdown(path: Path) -> list[SourceDocument]:
    text = _decode_text(_read_bytes(path))
    meta: dict[str, Any] = {}
    match = FRONT_MATTER.match(text)
    if match:
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise LoaderError(f"en-tête YAML invalide : {exc}") from exc
        if not isinstance(meta, dict):
            raise LoaderError("en-tête YAML invalide : un objet est attendu")
        text = text[match.end():]
    meta.setdefault("doc_type", "article")
    return [_document(path, text, meta)]


_PAGE_NUMBER = re.compile(r"\s*(?:page\s*)?\d{1,4}(?:\s*/\s*\d{1,4})?\s*", re.IGNORECASE)


def _page_key(line: str) -> str:
    """A line as a running header compares: its page number (at either end) made generic."""
    return re.sub(r"^\d{1,4}(?=\s)|(?<=\s)\d{1,4}$", "#", line.strip())


def drop_running_lines(pages: list[str], min_repeats: int = 3) -> list[str]:
    """Remove running headers and footers (the same short line on many pages) and lone page numbers:
    text pulled from PDFs repeats them in the middle of sentences and lists."""
    counts: dict[str, int] = {}
    for page in pages:
        for line in {_page_key(ln) for ln in page.splitlines()}:
            if 8 <= len(line) <= 100 and not line.startswith(("-", "•", "*", "#")):
                counts[line] = counts.get(line, 0) + 1
    threshold = max(min_repeats, len(pages) // 2) if len(pages) > 2 else min_repeats
    running = {line for line, n in counts.items() if n >= threshold}
    cleaned = []
    for page in pages:
        kept = [ln for ln in page.splitlines()
                if _page_key(ln) not in running and not _PAGE_NUMBER.fullmatch(ln)]
        cleaned.append("\n".join(kept))
    return cleaned


def load_text(path: Path) -> list[SourceDocument]:
    text = _decode_text(_read_bytes(path))
    pages = text.split("\f") if "\f" in text else [text]
    return [_document(path, "\n\n".join(drop_running_lines(pages)).strip() or text, {"doc_type": "article"})]


def load_html(path: Path) -> list[SourceDocument]:
    from ingest.html import html_to_text

    text, found = html_to_text(_decode_text(_read_bytes(path)))
    meta: dict[str, Any] = {"doc_type": "article", **found}
    return [_document(path, text, meta)]


def load_pdf(path: Path) -> list[SourceDocument]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    data = _read_bytes(path)
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata or {}
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoaderError(f"PDF illisible ou corrompu ({type(exc).__name__})") from exc
    except Exception as exc:  # pypdf raises many types on damaged files
        raise LoaderError(f"PDF illisible ou corrompu ({type(exc).__name__})") from exc
    text = "\n\n".join(p.strip() for p in drop_running_lines(pages, 2) if p.strip())
    if not text.strip():
        raise LoaderError("PDF sans texte extractible (image scannée ?)")
    meta: dict[str, Any] = {"doc_type": "rapport"}
    title = info.get("/Title") if hasattr(info, "get") else None
    if title:
        meta["title"] = str(title)
    return [_document(path, text, meta)]


def load_docx(path: Path) -> list[SourceDocument]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    data = _read_bytes(path)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise LoaderError(f"DOCX illisible ou corrompu ({type(exc).__name__})") from exc
    except Exception as exc:  # zipfile.BadZipFile, lxml errors...
        raise LoaderError(f"DOCX illisible ou corrompu ({type(exc).__name__})") from exc
    parts = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    meta: dict[str, Any] = {"doc_type": "rapport"}
    core = document.core_properties
    if core.title:
        meta["title"] = core.title
    return [_document(path, "\n\n".join(parts), meta)]


def record_text(record: dict[str, Any]) -> str:
    """The readable text of one case-example record: what is embedded, searched and quoted."""
    lines = [str(record.get("title", "")).strip()]
    for key in RECORD_TEXT_FIELDS:
        if record.get(key):
            lines.append(str(record[key]).strip())
    facts = [
        ("Partenaires", record.get("partenaires")),
        ("Acteurs", record.get("acteurs")),
        ("Territoire", record.get("territoire")),
        ("Région", record.get("region")),
        ("Domaine", record.get("domaine")),
        ("Année", record.get("annee")),
    ]
    fact_lines = []
    for label, value in facts:
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        fact_lines.append(f"{label} : {value}.")
    return "\n\n".join([line for line in lines if line] + ([" ".join(fact_lines)] if fact_lines else []))


def _records_to_documents(path: Path, records: Iterable[dict[str, Any]]) -> list[SourceDocument]:
    docs: list[SourceDocument] = []
    seen: set[str] = set()
    for number, record in enumerate(records, start=1):
        record_id = str(record.get("id") or "").strip()
        if not record_id:
            raise LoaderError(f"enregistrement n°{number} sans identifiant (colonne « id »)")
        if record_id in seen:
            raise LoaderError(f"identifiant en double : {record_id}")
        seen.add(record_id)
        if not str(record.get("title") or "").strip():
            raise LoaderError(f"enregistrement {record_id} sans titre (colonne « title »)")
        meta = {k: v for k, v in record.items() if k not in RECORD_TEXT_FIELDS or k in ("resume", "summary")}
        meta.setdefault("doc_type", "exemple")
        meta["record_id"] = record_id
        meta.pop("id", None)
        docs.append(_document(path, record_text(record), meta, source=f"{path}#{record_id}"))
    if not docs:
        raise LoaderError("aucun enregistrement")
    return docs


def _check_columns(columns: Iterable[str]) -> None:
    present = {c.strip() for c in columns if c}
    missing = [c for c in ("id", "title") if c not in present]
    if not any(c in present for c in RECORD_TEXT_FIELDS):
        missing.append("resume ou description")
    if missing:
        raise LoaderError("colonne(s) manquante(s) : " + ", ".join(missing))


def load_csv(path: Path) -> list[SourceDocument]:
    text = _decode_text(_read_bytes(path))
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    _check_columns(reader.fieldnames or [])
    rows = []
    for row in reader:
        if None in row:
            raise LoaderError(f"ligne {reader.line_num} : plus de valeurs que de colonnes")
        rows.append({k.strip(): (v or "").strip() for k, v in row.items() if k})
    return _records_to_documents(path, rows)


def load_jsonl(path: Path) -> list[SourceDocument]:
    text = _decode_text(_read_bytes(path))
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoaderError(f"ligne {number} : JSON invalide ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise LoaderError(f"ligne {number} : un objet JSON est attendu")
        records.append(record)
    if records:
        _check_columns(set().union(*(r.keys() for r in records)))
    return _records_to_documents(path, records)


LOADERS: dict[str, Callable[[Path], list[SourceDocument]]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".csv": load_csv,
    ".jsonl": load_jsonl,
}


def _ignored(path: Path) -> bool:
    name = path.name
    return name.startswith((".", "_")) or name.lower() == "readme.md" or name.endswith(".meta.yaml")


def iter_files(root: Path) -> Iterator[Path]:
    """Every loadable file under root (or root itself), sorted, skipping ignored names."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        rel_parts = path.relative_to(root).parts
        if any(_ignored(Path(part)) for part in rel_parts):
            continue
        if path.is_file() and path.suffix.lower() in LOADERS:
            yield path


def load_file(path: Path) -> list[SourceDocument]:
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoaderError(f"format non pris en charge ({path.suffix or 'sans extension'})")
    try:
        return loader(path)
    except LoaderError:
        raise
    except OSError as exc:
        raise LoaderError(f"lecture impossible : {exc.strerror or exc}") from exc


def load_path(root: Path) -> tuple[list[SourceDocument], list[LoadError]]:
    """All documents under root and the files that could not be loaded, with their reason."""
    if not root.exists():
        return [], [LoadError(str(root), "chemin introuvable")]
    docs: list[SourceDocument] = []
    errors: list[LoadError] = []
    for path in iter_files(root):
        try:
            docs.extend(load_file(path.resolve()))
        except LoaderError as exc:
            errors.append(LoadError(str(path), exc.reason))
    return docs, errors
