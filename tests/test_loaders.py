import os
from pathlib import Path

import pytest

from ingest.loaders import LoaderError, load_file, load_path, record_text

DATA = Path(__file__).parent / "data" / "mini"


def _pdf(path: Path, text: str, title: str = "Rapport PDF") -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle(title)
    y = 800
    for line in text.splitlines():
        c.drawString(50, y, line)
        y -= 16
    c.save()


def _docx(path: Path, paragraphs: list[str], title: str = "Note DOCX") -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.add_heading(paragraphs[0], level=1)
    for p in paragraphs[1:]:
        d.add_paragraph(p)
    d.save(str(path))


def test_markdown_front_matter_and_lists():
    (doc,) = load_file(DATA / "mecenat.md")
    assert doc.metadata["title"] == "Le mécénat de compétences en bref"
    assert doc.metadata["doc_type"] == "fiche"
    assert doc.metadata["acteurs"] == ["entreprise", "association"]
    assert doc.metadata["date"] == "2023-05-02" and doc.metadata["annee"] == 2023
    assert not doc.text.startswith("---") and "60 %" in doc.text


def test_jsonl_records_are_one_document_each():
    docs = load_file(DATA / "jardins.jsonl")
    assert [d.metadata["record_id"] for d in docs] == ["T-001", "T-002"]
    assert all(d.metadata["doc_type"] == "exemple" for d in docs)
    assert docs[0].source.endswith("jardins.jsonl#T-001") and docs[0].id != docs[1].id
    assert "4 000 m²" in docs[0].text and "Région : Bretagne" in docs[0].text
    assert docs[0].metadata["annee"] == 2021 and "description" not in docs[0].metadata


def test_csv_records_with_semicolons_and_list_fields(tmp_path):
    p = tmp_path / "ex.csv"
    p.write_text("id;title;resume;acteurs;annee\nA1;Titre un;Un résumé;association | entreprise;2020\n",
                 encoding="utf-8")
    (doc,) = load_file(p)
    assert doc.metadata["acteurs"] == ["association", "entreprise"] and doc.metadata["annee"] == 2020


def test_html_pdf_docx_and_sidecar(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><head><title>Page alliance</title><script>var x=1;</script></head>"
        "<body><nav>Menu</nav><h1>Titre</h1><p>Les alliances « territoriales » créent de la valeur.</p></body></html>",
        encoding="utf-8")
    _pdf(tmp_path / "rapport.pdf", "Premiere ligne du rapport.\nLes alliances creent de la valeur.")
    (tmp_path / "rapport.meta.yaml").write_text("region: Bretagne\ndomaine: Culture\n", encoding="utf-8")
    _docx(tmp_path / "note.docx", ["Titre de la note", "Un paragraphe sur le mécénat.", "Un autre, sur l’ODD 17."])
    docs = {Path(d.source).name: d for d in load_path(tmp_path)[0]}
    assert docs["page.html"].metadata["title"] == "Page alliance"
    assert "var x" not in docs["page.html"].text and "« territoriales »" in docs["page.html"].text
    assert docs["rapport.pdf"].metadata["title"] == "Rapport PDF"
    assert docs["rapport.pdf"].metadata["region"] == "Bretagne" and "valeur" in docs["rapport.pdf"].text
    assert docs["note.docx"].metadata["title"] == "Note DOCX" and "l’ODD 17" in docs["note.docx"].text


def test_ignored_names(tmp_path):
    (tmp_path / "README.md").write_text("# Lisez-moi\n\ntexte", encoding="utf-8")
    (tmp_path / "_sources").mkdir()
    (tmp_path / "_sources" / "brouillon.md").write_text("# Brouillon\n\ntexte", encoding="utf-8")
    (tmp_path / ".cache.md").write_text("# Caché\n\ntexte", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "vrai.md").write_text("# Vrai document\n\nDu texte.", encoding="utf-8")
    docs, errors = load_path(tmp_path)
    assert [Path(d.source).name for d in docs] == ["vrai.md"] and errors == []


def make_bad_folder(root: Path) -> dict[str, str]:
    """A folder with one good file and five bad ones; returns {bad file name: expected reason word}."""
    (root / "bon.md").write_text("# Un bon document\n\nLe mécénat de compétences aide les associations.",
                                 encoding="utf-8")
    (root / "corrompu.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<>> garbage without xref\n%%EOF")
    (root / "vide.txt").write_text("   \n", encoding="utf-8")
    (root / "binaire.md").write_bytes(bytes(range(256)) * 8)
    (root / "incomplet.csv").write_text("id;resume\nX1;Un résumé sans titre\n", encoding="utf-8")
    secret = root / "secret.md"
    secret.write_text("# Secret\n\nNe doit pas être lu.", encoding="utf-8")
    os.chmod(secret, 0)
    return {"corrompu.pdf": "PDF", "vide.txt": "vide", "binaire.md": "binaire", "incomplet.csv": "title",
            "secret.md": "lecture"}


def test_bad_files_are_named_with_their_reason_and_the_rest_loads(tmp_path):
    expected = make_bad_folder(tmp_path)
    docs, errors = load_path(tmp_path)
    assert [Path(d.source).name for d in docs] == ["bon.md"]
    reasons = {Path(e.path).name: e.reason for e in errors}
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])


def test_jsonl_invalid_line_is_reported_and_the_good_lines_kept(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"id": "1", "title": "ok", "resume": "r"}\n{not json}\n{"id": "3", "title": "t", "resume": "r"}\n',
                 encoding="utf-8")
    docs = load_file(p)
    assert [d.metadata["record_id"] for d in docs] == ["1", "3"]
    assert len(docs.problems) == 1 and docs.problems[0].startswith("ligne 2 : JSON invalide")
    docs, errors = load_path(p)
    assert len(docs) == 2 and [e.reason for e in errors] == [docs_problem for docs_problem in load_file(p).problems]
    p.write_text("{not json}\n", encoding="utf-8")
    with pytest.raises(LoaderError, match="ligne 1"):
        load_file(p)


def test_record_text_reads_like_prose():
    text = record_text({"title": "T", "resume": "R.", "partenaires": ["A", "B"], "annee": 2020})
    assert text.startswith("T\n\nR.") and "Partenaires : A, B." in text and "Année : 2020." in text
