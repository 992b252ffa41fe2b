"""The crash-injection hook (ingest.failpoints) and what it shows fast: a lexical batch is all or nothing."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ingest.failpoints import parse_plan


def run_python(code: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env={**os.environ, **env}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_plan_parsing():
    assert parse_plan("") == {}
    assert parse_plan("a.b:3, c:1") == {"a.b": 3, "c": 1}
    for bad in ("a", "a:0", "a:x", ":2"):
        with pytest.raises(ValueError, match="SEVE_KILL_AT"):
            parse_plan(bad)


def test_the_nth_hit_is_a_real_sigkill(tmp_path):
    code = """
        import atexit
        from ingest.failpoints import failpoint
        atexit.register(lambda: print("atexit ran"))
        try:
            for i in range(5):
                failpoint("p")
                failpoint("other")
                print("after hit", i + 1, flush=True)
        finally:
            print("finally ran", flush=True)
    """
    killed = run_python(code, tmp_path, SEVE_KILL_AT="p:3")
    assert killed.returncode == -signal.SIGKILL
    assert killed.stdout.split("\n") == ["after hit 1", "after hit 2", ""]  # no finally, no atexit
    assert "seve: failpoint p#3: SIGKILL" in killed.stderr
    counts = tmp_path / "counts.json"
    unset = run_python(code, tmp_path, SEVE_KILL_AT="", SEVE_FAILPOINT_COUNTS=str(counts))
    assert unset.returncode == 0 and "after hit 5" in unset.stdout
    assert json.loads(counts.read_text()) == {"other": 5, "p": 5}


def test_a_lexical_batch_killed_mid_write_leaves_nothing(tmp_path):
    code = """
        from pathlib import Path
        from index.lexical import LexicalIndex
        from ingest.models import Chunk
        lexical = LexicalIndex(Path("lexical.sqlite"))
        lexical.upsert([Chunk("d0", "Un premier passage sur les alliances.", 0, 37)])
        lexical.upsert([Chunk("d1", f"Passage {i} sur le mécénat.", i * 100, i * 100 + 26) for i in range(10)])
    """
    killed = run_python(code, tmp_path, SEVE_KILL_AT="lexical.upsert.mid:2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    from index.lexical import LexicalIndex

    lexical = LexicalIndex(tmp_path / "lexical.sqlite")
    assert {c.doc_id for c in lexical.chunks_by_id(sorted(lexical.ids())).values()} == {"d0"}
