"""Hostile files (tests/hostile_files.py): no crash, no hang, bounded memory, each bad one named with a French
reason, every good record kept — first through the loaders, then through a real `seve ingest`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hostile_files import bad_count, make_hostile

MINI = Path(__file__).parent / "data" / "mini"
# Peak memory, in a process of its own, of loading the whole hostile set (the 200 MB text, the 1 GB zip bomb…)
# against loading only its good files: what a bad file may add on top.
EXTRA_MEMORY_MB = 400


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("hostile") / "entrees"
    return root, make_hostile(root)


def _in_child(code: str, *args: str, timeout: float = 240) -> tuple[dict, float]:
    """Run code in a fresh interpreter: (its JSON output, its wall time). Its peak RSS is in the output."""
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                         cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), time.monotonic() - started


LOAD = """
import json, resource, sys
from pathlib import Path
from ingest.loaders import load_path
docs, errors = load_path(Path(sys.argv[1]))
print(json.dumps({"docs": [[d.source, d.metadata.get("record_id"), d.text[:200]] for d in docs],
                  "errors": [[e.path, e.reason] for e in errors],
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _rel(root: Path, path: str) -> str:
    return os.path.relpath(path.split("#", 1)[0], root)


def test_every_hostile_file_is_named_or_loaded_and_memory_stays_bounded(hostile, tmp_path):
    root, expect = hostile
    assert bad_count(expect) >= 30
    result, seconds = _in_child(LOAD, str(root))
    by_file: dict[str, list] = {}
    for source, _, _ in result["docs"]:
        by_file.setdefault(_rel(root, source), []).append(source)
    reasons: dict[str, list[str]] = {}
    for path, reason in result["errors"]:
        reasons.setdefault(_rel(root, path), []).append(reason)
    for name, (kind, what) in expect.items():
        if kind == "error":
            assert name in reasons, f"{name!r} n'est pas signalé"
            assert any(str(what) in r for r in reasons[name]), (name, reasons[name])
            assert name not in by_file, name
        elif kind == "ok":
            assert len(by_file.get(name, [])) == what, (name, by_file.get(name), reasons.get(name))
    # a link back to a folder already walked is named, not followed
    assert any("boucle" in r for r in reasons["liens/dossier-boucle"])
    # nothing else was reported: every reason belongs to a file of the set
    assert set(reasons) <= set(expect) | {"liens/dossier-boucle"}, set(reasons) - set(expect)
    # reasons are French sentences, never an English traceback
    for rs in reasons.values():
        for r in rs:
            assert "Traceback" not in r and "Error:" not in r and "\n" not in r, r

    # record files: each bad line named by its number, every good record kept
    jsonl = reasons["fiches/mixte.jsonl"]
    assert len(jsonl) == 5 and all(r.startswith("ligne ") for r in jsonl), jsonl
    assert any("JSON invalide" in r for r in jsonl) and any("objet JSON" in r for r in jsonl)
    assert any("imbriqué" in r for r in jsonl) and any("double" in r for r in jsonl)
    assert any("sans titre" in r for r in jsonl)
    ids = sorted(rid for source, rid, _ in result["docs"] if "mixte.jsonl" in source)
    assert ids == ["../../etc/passwd", "H-001", "H-002", "H-003", "H-004", "H-005"]
    csv_reasons = reasons["fiches/lignes-mixtes.csv"]
    assert len(csv_reasons) == 2 and any("plus de valeurs" in r for r in csv_reasons), csv_reasons
    assert sorted(rid for source, rid, _ in result["docs"] if "lignes-mixtes" in source) == ["C-1", "C-3"]

    # bad encodings are read right, not refused nor garbled
    texts = {_rel(root, source): text for source, _, text in result["docs"]}
    assert texts["texte/latin1.txt"].startswith("Coopération entre élus")
    assert texts["texte/utf16-sans-bom.txt"].startswith("Coopération")
    assert texts["texte/utf16-be-sans-bom.md"].startswith("Réseau fictif")
    assert texts["texte/utf16-avec-bom.txt"].startswith("Énergie partagée")
    assert "\x00" not in texts["texte/octets-nuls.txt"]
    assert "vallée fictive" in texts["html/imbrique.html"]

    # bounded: in time, and in memory against loading only the good files
    good = tmp_path / "bons"
    for name, (kind, _) in expect.items():
        if kind == "ok":
            (good / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / name, good / name)
    baseline, _ = _in_child(LOAD, str(good))
    print(f"\nfichiers hostiles : {bad_count(expect)} entrées, {seconds:.1f} s, pic mémoire "
          f"{result['rss_mb']:.0f} Mo (fichiers sains seuls : {baseline['rss_mb']:.0f} Mo)")
    assert seconds < 180
    assert result["rss_mb"] < baseline["rss_mb"] + EXTRA_MEMORY_MB


@pytest.mark.integration
def test_seve_ingest_names_each_bad_file_and_keeps_every_good_record(hostile, tmp_path, converted_model_dir):
    root, expect = hostile
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI, corpus)
    data = tmp_path / "data"
    env = {**os.environ, "SEVE_DATA_DIR": str(data), "SEVE_MODELS_DIR": str(converted_model_dir.parent),
           "SEVE_PASSAGE_ENCODER": "onnx-int8"}
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(corpus), str(root), "--json"],
                         env=env, capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - started
    assert out.returncode == 3, out.stderr[-2000:]  # EXIT_PARTIAL: done, with files named
    assert "EOF marker" not in out.stderr and "Traceback" not in out.stderr, out.stderr[-2000:]
    report = json.loads(out.stdout)
    named = {_rel(root, e["path"]) for e in report["errors"] if e["path"].startswith(str(root))}
    assert {n for n, (kind, _) in expect.items() if kind == "error"} <= named
    # the good records and files are indexed (the manifest lists what was written, `done`)
    from ingest.manifest import Manifest

    manifest = Manifest(data / "manifest-seve.sqlite")
    entries = manifest.entries()
    manifest.close()
    assert all(e.state == "done" and e.chunk_ids for e in entries)
    sources = {e.source for e in entries}
    mini_files = {p.name for p in MINI.iterdir() if p.suffix in (".md", ".jsonl", ".csv", ".txt")}
    assert all(any(s.startswith(str(corpus / f)) for s in sources) for f in mini_files)
    kept = [s for s in sources if "mixte.jsonl#" in s]
    assert len(kept) == 6, kept
    for name, (kind, _) in expect.items():
        if kind == "ok" and not name.endswith((".jsonl", ".csv")):
            assert any(s == str(root / name) for s in sources), name
    print(f"\nseve ingest sur {len(expect)} fichiers hostiles + mini : {seconds:.1f} s, "
          f"{len(report['errors'])} erreurs nommées")
