"""Loaders: a path (file or folder) -> SourceDocument records, one loader per format.

Every failure on one file becomes a `LoadError` with a French reason; the other files load.
Files and folders whose names start with `.` or `_` are skipped (that is where sources and
build inputs live), and so are `README.md` files and `*.meta.yaml` sidecars (read with their file).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import stat
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from ingest.models import LoadError, SourceDocument

LIST_FIELDS = ("acteurs", "partenaires")
RECORD_TEXT_FIELDS = ("resume", "description", "texte", "text", "summary")
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # a DOCX that inflates to more is refused (zip bomb)
MAX_COLUMNS = 500
MAX_FRONT_MATTER = 64 * 1024


class LoaderError(Exception):
    """A file that cannot be loaded; `reason` is shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- helpers -----------------------------------------------------------------------------------

def _read_bytes(path: Path) -> bytes:
    info = path.stat()  # follows links: a loop or a dangling link fails here (see `load_file`)
    if not stat.S_ISREG(info.st_mode):
        raise LoaderError("pas un fichier ordinaire (tube, socket ou périphérique) : non lu")
    if not info.st_mode & (stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH):
        raise LoaderError("lecture non autorisée (aucun droit de lecture sur le fichier)")
    if info.st_size > MAX_FILE_BYTES:  # refused before a byte is read
        raise LoaderError(f"fichier trop volumineux ({info.st_size // (1024 * 1024)} Mo, "
                          f"maximum {MAX_FILE_BYTES // (1024 * 1024)} Mo)")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except PermissionError as exc:
        raise LoaderError("lecture non autorisée (permission refusée)") from exc
    if len(data) > MAX_FILE_BYTES:  # it grew while being read
        raise LoaderError(f"fichier trop volumineux (plus de {MAX_FILE_BYTES // (1024 * 1024)} Mo)")
    if not data.strip():
        raise LoaderError("fichier vide")
    return data


def _utf16_order(data: bytes) -> str | None:
    """`utf-16-le` or `utf-16-be` for UTF-16 text without a byte-order mark (NUL on every other byte of
    Latin-script text), else None."""
    sample = data[:4096]
    if len(sample) < 8 or len(sample) % 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    if odd > 0.4 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.4 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_order(data):
        try:
            text = data.decode("utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else _utf16_order(data))
        except UnicodeDecodeError as exc:
            raise LoaderError("encodage illisible (UTF-16 invalide)") from exc
        text = text.lstrip("\ufeff")
    else:
        head = data[:8192]
        controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
        if controls > 0.01 * len(head) + 2 or head.count(0) > 0.01 * len(head):  # not text, whatever its encoding
            raise LoaderError("fichier binaire : ce n'est pas du texte")
        data = data.replace(b"\x00", b"")  # a few stray NUL bytes in a text file: dropped
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError as exc:
                raise LoaderError("encodage illisible (ni UTF-8, ni UTF-16, ni Windows-1252)") from exc
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.01 * min(len(text), 8192) + 2:
        raise LoaderError("fichier binaire : ce n'est pas du texte")
    text = text.replace("\x00", "")
    if not text.strip():
        raise LoaderError("fichier vide")
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


class _YamlRefused(yaml.YAMLError):
    """Our own refusal, with a French reason."""


def safe_yaml(text: str) -> Any:
    """YAML without aliases: `*ref` could make a few lines expand into billions of values."""
    if len(text) > MAX_FRONT_MATTER:
        raise _YamlRefused(f"plus de {MAX_FRONT_MATTER // 1024} Ko de métadonnées")
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise _YamlRefused("les alias YAML (*nom) ne sont pas acceptés")
    return yaml.safe_load(text)


def _yaml_reason(exc: yaml.YAMLError) -> str:
    if isinstance(exc, _YamlRefused):
        return str(exc)
    mark = getattr(exc, "problem_mark", None)
    return "syntaxe YAML incorrecte" + (f" (ligne {mark.line + 1}, colonne {mark.column + 1})" if mark else "")


def _sidecar(path: Path) -> dict[str, Any]:
    meta_path = path.with_name(path.stem + ".meta.yaml")
    if not meta_path.exists():
        return {}
    try:
        data = safe_yaml(meta_path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise LoaderError(f"métadonnées illisibles dans {meta_path.name} : encodage non UTF-8") from exc
    except yaml.YAMLError as exc:
        raise LoaderError(f"métadonnées illisibles dans {meta_path.name} : {_yaml_reason(exc)}") from exc
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


_GIANT_TOKEN = re.compile(r"\S{1000,}")


def _split_giant_tokens(text: str) -> str:
    """A "word" of 1,000+ characters (a pasted blob, a repeated character) is cut every 200 characters: it is
    not language, and it would make chunking slow."""
    return _GIANT_TOKEN.sub(lambda m: " ".join(m.group(0)[i:i + 200] for i in range(0, len(m.group(0)), 200)), text)


def _document(path: Path, text: str, meta: dict[str, Any], source: str | None = None) -> SourceDocument:
    text = _split_giant_tokens(text.strip("\n"))
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
            meta = safe_yaml(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise LoaderError(f"en-tête YAML invalide : {_yaml_reason(exc)}") from exc
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

    data = _read_bytes(path)
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise LoaderError("PDF illisible : ce fichier n'est pas un PDF (en-tête %PDF absent)")
    # pypdf reports what it repairs on its logger and as warnings: the user gets one reason per file instead
    quiet = logging.getLogger("pypdf")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not _pdf_opens_without_password(reader):
                raise LoaderError("PDF protégé par un mot de passe (chiffré) : son texte ne peut pas être lu")
            pages = [page.extract_text() or "" for page in reader.pages]
            info = reader.metadata or {}
    except LoaderError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        raise LoaderError(f"PDF illisible ou corrompu ({type(exc).__name__})") from exc
    finally:
        quiet.setLevel(level)
    text = "\n\n".join(p.strip() for p in drop_running_lines(pages, 2) if p.strip())
    if not text.strip():
        raise LoaderError("PDF sans texte extractible (image scannée ?)")
    meta: dict[str, Any] = {"doc_type": "rapport"}
    title = info.get("/Title") if hasattr(info, "get") else None
    if title:
        meta["title"] = str(title)
    return [_document(path, text, meta)]


def _pdf_opens_without_password(reader: Any) -> bool:
    """An encrypted PDF with an empty user password (print or copy restrictions only) can still be read."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # noqa: BLE001 - an unsupported cipher is a refusal like a wrong password
        return False


def _check_zip(data: bytes, kind: str) -> None:
    """Refuse an archive that is not one, or that would inflate past MAX_UNZIPPED_BYTES (a zip bomb), before any
    part of it is decompressed."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise LoaderError(f"{kind} illisible : ce n'est pas une archive ZIP valide") from exc
    with archive:
        total = sum(item.file_size for item in archive.infolist())
    if total > MAX_UNZIPPED_BYTES:
        raise LoaderError(f"{kind} refusé : archive suspecte, {total // (1024 * 1024)} Mo une fois décompressée "
                          f"(maximum {MAX_UNZIPPED_BYTES // (1024 * 1024)} Mo ; bombe ZIP ?)")


def load_docx(path: Path) -> list[SourceDocument]:
    import docx

    data = _read_bytes(path)
    _check_zip(data, "DOCX")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # PackageNotFoundError, KeyError, zipfile and lxml errors...
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


class Records(list):  # type: ignore[type-arg]
    """The documents of a record file (CSV, JSONL), and the lines that could not be read: each bad line is
    reported on its own and every good one is kept."""

    def __init__(self, docs: Iterable[SourceDocument] = (), problems: Iterable[str] = ()) -> None:
        super().__init__(docs)
        self.problems: list[str] = list(problems)


def _records_to_documents(path: Path, records: Iterable[tuple[int, dict[str, Any] | str]],
                          unit: str = "ligne") -> Records:
    """(line number, record or the reason it is unreadable) -> documents, with one problem per bad record."""
    out = Records()
    seen: dict[str, int] = {}
    for number, record in records:
        where = f"{unit} {number}"
        if isinstance(record, str):
            out.problems.append(f"{where} : {record}")
            continue
        record_id = str(record.get("id") or "").strip()
        if not record_id:
            out.problems.append(f"{where} : enregistrement sans identifiant (colonne « id »), ignoré")
            continue
        if record_id in seen:
            out.problems.append(f"{where} : identifiant en double « {record_id} » (déjà {unit} {seen[record_id]}), "
                                "ignoré")
            continue
        seen[record_id] = number
        if not str(record.get("title") or "").strip():
            out.problems.append(f"{where} : enregistrement « {record_id} » sans titre (colonne « title »), ignoré")
            continue
        meta = {k: v for k, v in record.items() if k not in RECORD_TEXT_FIELDS or k in ("resume", "summary")}
        meta.setdefault("doc_type", "exemple")
        meta["record_id"] = record_id
        meta.pop("id", None)
        try:
            out.append(_document(path, record_text(record), meta, source=f"{path}#{record_id}"))
        except LoaderError as exc:
            out.problems.append(f"{where} : {exc.reason}")
    if not out and not out.problems:
        raise LoaderError("aucun enregistrement")
    if not out and len(out.problems) == 1:
        raise LoaderError(out.problems[0])
    return out


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
    reader = csv.reader(io.StringIO(text), dialect=dialect)
    try:
        header = [h.strip() for h in next(reader, [])]
        if len(header) > MAX_COLUMNS:
            raise LoaderError(f"trop de colonnes ({len(header):,} ; maximum {MAX_COLUMNS})".replace(",", " "))
        _check_columns(header)
        rows: list[tuple[int, dict[str, Any] | str]] = []
        for values in reader:
            number = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header):
                rows.append((number, f"plus de valeurs ({len(values)}) que de colonnes ({len(header)}), ligne ignorée"))
                continue
            rows.append((number, {k: v.strip() for k, v in zip(header, values, strict=False) if k}))
    except csv.Error as exc:
        limit = csv.field_size_limit()
        if "field larger" in str(exc):
            raise LoaderError(f"ligne {reader.line_num} : champ trop long (plus de {limit:,} caractères)"
                              .replace(",", " ")) from exc
        raise LoaderError(f"ligne {reader.line_num} : CSV mal formé") from exc
    return _records_to_documents(path, rows)


def load_jsonl(path: Path) -> list[SourceDocument]:
    text = _decode_text(_read_bytes(path))
    records: list[tuple[int, dict[str, Any] | str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            records.append((number, f"JSON invalide (colonne {exc.colno}), ligne ignorée"))
            continue
        except RecursionError:
            records.append((number, "JSON trop profondément imbriqué, ligne ignorée"))
            continue
        if not isinstance(record, dict):
            records.append((number, "un objet JSON {…} est attendu, ligne ignorée"))
            continue
        records.append((number, record))
    good = [r for _, r in records if isinstance(r, dict)]
    if good:
        _check_columns(set().union(*(r.keys() for r in good)))
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


def walk(root: Path) -> Iterator[Path | LoadError]:
    """Every loadable file under root (or root itself), sorted, skipping ignored names; links that cannot be
    followed (a loop, a dangling link) and special files come out as LoadError. A linked folder is followed
    once: a link back to a folder already walked is reported, not followed (no endless loop)."""
    if not root.is_dir():  # a file, or a link that cannot be followed (load_file says why)
        yield root
        return
    seen: set[str] = set()
    yield from _walk_dir(root, root, seen)


def _walk_dir(root: Path, folder: Path, seen: set[str]) -> Iterator[Path | LoadError]:
    real = os.path.realpath(folder)
    if real in seen:
        yield LoadError(str(folder), "lien symbolique en boucle (dossier déjà parcouru) : non suivi")
        return
    seen.add(real)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        yield LoadError(str(folder), f"dossier illisible : {exc.strerror or exc}")
        return
    for entry in entries:
        path = Path(entry.path)
        if _ignored(path):
            continue
        try:
            is_dir = entry.is_dir()  # follows links
        except OSError:
            is_dir = False
        if is_dir:
            yield from _walk_dir(root, path, seen)
        elif path.suffix.lower() in LOADERS:
            yield path


def iter_files(root: Path) -> Iterator[Path]:
    """Every loadable file under root (or root itself), sorted, skipping ignored names."""
    for item in walk(root):
        if isinstance(item, Path):
            yield item


def _link_problem(path: Path) -> str | None:
    """Why a path that is a symbolic link cannot be read, or None."""
    if not path.is_symlink():
        return None
    try:
        path.resolve(strict=True)
    except RuntimeError:
        return "lien symbolique en boucle : non suivi"
    except FileNotFoundError:
        return "lien symbolique cassé (sa cible n'existe pas)"
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            return "lien symbolique en boucle : non suivi"
        return f"lien symbolique illisible : {exc.strerror or exc}"
    return None


def load_file(path: Path) -> list[SourceDocument]:
    """The documents of one file (a `Records` list, with its bad lines, for CSV and JSONL). Whatever goes
    wrong inside a loader becomes a LoaderError with a French reason: one bad file never stops an ingest."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoaderError(f"format non pris en charge ({path.suffix or 'sans extension'})")
    if problem := _link_problem(path):
        raise LoaderError(problem)
    try:
        return loader(path)
    except LoaderError:
        raise
    except OSError as exc:
        raise LoaderError(f"lecture impossible : {exc.strerror or exc}") from exc
    except RecursionError as exc:
        raise LoaderError("structure trop profondément imbriquée : fichier non lu") from exc
    except MemoryError as exc:
        raise LoaderError("fichier trop lourd à analyser (mémoire insuffisante)") from exc
    except Exception as exc:  # noqa: BLE001 - a parser's own failure on a damaged file
        raise LoaderError(f"fichier illisible ({type(exc).__name__})") from exc


def load_path(root: Path) -> tuple[list[SourceDocument], list[LoadError]]:
    """All documents under root and the files (or lines of record files) that could not be loaded, with
    their reason."""
    if not root.exists() and not root.is_symlink():
        return [], [LoadError(str(root), "chemin introuvable")]
    docs: list[SourceDocument] = []
    errors: list[LoadError] = []
    for item in walk(root):
        if isinstance(item, LoadError):
            errors.append(item)
            continue
        try:
            loaded = load_file(Path(os.path.abspath(item)))
        except LoaderError as exc:
            errors.append(LoadError(str(item), exc.reason))
            continue
        docs.extend(loaded)
        errors.extend(LoadError(str(item), problem) for problem in getattr(loaded, "problems", ()))
    return docs, errors
