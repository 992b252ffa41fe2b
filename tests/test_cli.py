"""The `seve` command line, run as a user runs it (subprocess, real model)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_loaders import make_bad_folder

MINI = Path(__file__).parent / "data" / "mini"
SEVE = [sys.executable, "-m", "assistant.cli"]


def run(args, env, check_code=None):
    proc = subprocess.run(SEVE + args, env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[1])
    if check_code is not None:
        assert proc.returncode == check_code, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def test_help_tells_the_commands():
    out = run(["--help"], {}, 0).stdout
    for command in ("ingest", "ask", "serve", "prepare-model", "prepare-llm"):
        assert command in out
    ask = run(["ask", "--help"], {}, 0).stdout
    assert "--filter" in ask and "--mode" in ask and "llm" in ask


def test_usage_errors_exit_2():
    assert run([], {}).returncode == 2
    assert run(["ask"], {}).returncode == 2


@pytest.fixture(scope="module")
def env(converted_model_dir, tmp_path_factory):
    data = tmp_path_factory.mktemp("cli")
    return {"SEVE_DATA_DIR": str(data), "SEVE_MODELS_DIR": str(converted_model_dir.parent)}


@pytest.mark.integration
class TestWithRealModel:
    def test_ingest_json_then_unchanged(self, env):
        first = json.loads(run(["ingest", str(MINI), "--json"], env, 0).stdout)
        assert first == {"documents": 4, "chunks_added": first["chunks_added"], "chunks_removed": 0,
                         "unchanged": 0, "errors": []} and first["chunks_added"] >= 4
        second = json.loads(run(["ingest", str(MINI), "--json"], env, 0).stdout)
        assert second["unchanged"] == 4 and second["chunks_added"] == 0

    def test_ask_json_matches_the_api_object(self, env):
        run(["ingest", str(MINI), "--json"], env, 0)
        body = json.loads(run(["ask", "Quelle part des Français souhaitent faire alliance ?", "--json"],
                              env, 0).stdout)
        assert set(body) == {"answer", "citations", "grounded", "standalone_question", "mode", "filters",
                             "answer_type", "fallback_reason"}
        assert body["grounded"] and "81 %" in body["answer"]
        text = run(["ask", "Des exemples de tutorat numérique pour les seniors ?", "--filter",
                    "region=Auvergne-Rhône-Alpes"], env, 0).stdout
        assert "Tutorat numérique des seniors à Lyon" in text and "Sources" in text

    def test_errors_are_one_clear_line(self, env, tmp_path):
        bad = run(["ask", "Une question ?", "--filter", "pays=France"], env, 1)
        assert bad.stderr.strip().count("\n") == 0 and "Filtre inconnu" in bad.stderr
        assert "mal formé" in run(["ask", "Une question ?", "--filter", "region"], env, 1).stderr
        assert "vide" in run(["ask", "   "], env, 1).stderr
        assert "introuvable" in run(["ingest", str(tmp_path / "absent")], env, 1).stderr

    def test_bad_files_are_reported_and_exit_3(self, env, tmp_path):
        root = tmp_path / "bad"
        root.mkdir()
        expected = make_bad_folder(root)
        proc = run(["ingest", str(root), "--json"], env, 3)
        report = json.loads(proc.stdout)
        assert report["documents"] == 1
        assert {Path(e["path"]).name for e in report["errors"]} == set(expected)
