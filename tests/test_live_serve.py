"""The live index with real processes: `seve serve` sees what a separate `seve ingest` wrote without a restart,
in embedded mode (one data dir) and in client/server mode (a real `chroma run`, two API processes with their
own data dirs: ingest through one, ask through the other, and both answer the same)."""

import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.servers import chroma_server, free_port, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MINI = Path(__file__).parent / "data" / "mini"
NEW_DOC = ("---\ntitle: Réemploi solidaire à Valenciennes\ndoc_type: exemple\nregion: Hauts-de-France\n---\n"
           "# Réemploi solidaire\n\nÀ Valenciennes, une coopérative de réemploi forme les élèves des lycées "
           "professionnels à la réparation des vélos donnés par les habitants. Les vélos réparés sont prêtés "
           "aux apprentis qui n'ont pas de moyen de transport.\n")
QUESTION = "Que fait la coopérative de réemploi de Valenciennes avec les lycées professionnels ?"
VISIBLE_WITHIN = 2.0  # seconds: the contract of the live index (the watcher checks every second)


def ingest(env: dict[str, str], path: Path) -> None:
    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(path)], env={**os.environ, **env},
                   check=True, capture_output=True)


def ask(url: str, question: str = QUESTION) -> dict:
    r = httpx.post(url + "/api/chat", json={"message": question}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def cites_new_doc(answer: dict) -> bool:
    return answer["grounded"] and any(c["title"] == "Réemploi solidaire à Valenciennes" for c in answer["citations"])


def wait_visible(url: str, since: float) -> float:
    """Seconds from `since` until the server cites the new document (fails after VISIBLE_WITHIN + slack)."""
    while time.monotonic() - since < VISIBLE_WITHIN + 0.5:
        if cites_new_doc(ask(url)):
            return time.monotonic() - since
        time.sleep(0.1)
    raise AssertionError(f"the new document was not cited within {VISIBLE_WITHIN} s")


def serve(stack: ExitStack, env: dict[str, str], log: Path) -> str:
    port = free_port()
    cmd = [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--log-level", "warning"]
    stack.enter_context(running(cmd, f"http://127.0.0.1:{port}/api/health", env=env, log=log))
    return f"http://127.0.0.1:{port}"


def test_embedded_server_sees_a_separate_ingest_without_restart(converted_model_dir, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI, corpus)
    env = {"SEVE_DATA_DIR": str(tmp_path / "index"), "SEVE_MODELS_DIR": str(converted_model_dir.parent)}
    ingest(env, corpus)
    with ExitStack() as stack:
        url = serve(stack, env, tmp_path / "serve.log")
        before = httpx.get(url + "/api/health", timeout=30).json()
        assert not cites_new_doc(ask(url))
        (corpus / "valenciennes.md").write_text(NEW_DOC, encoding="utf-8")
        ingest(env, corpus)
        seen_after = wait_visible(url, time.monotonic())
        print(f"visible {seen_after:.2f} s after the ingest ended")
        health = httpx.get(url + "/api/health", timeout=30).json()
        assert health["documents"] == before["documents"] + 1 and health["chunks"] > before["chunks"]
        assert health["index_version"] > before["index_version"] and health["encoder"] == "onnx-int8"
        # and a removal is seen too
        (corpus / "valenciennes.md").unlink()
        ingest(env, corpus)
        deadline = time.monotonic() + VISIBLE_WITHIN + 0.5
        while cites_new_doc(ask(url)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not cites_new_doc(ask(url))
        assert httpx.get(url + "/api/health", timeout=30).json()["documents"] == before["documents"]


def test_two_api_processes_on_one_chroma_server_answer_the_same(converted_model_dir, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI, corpus)
    models = str(converted_model_dir.parent)
    with chroma_server(tmp_path / "chroma-server") as chroma_url, ExitStack() as stack:
        envs = [{"SEVE_DATA_DIR": str(tmp_path / f"api{i}"), "SEVE_MODELS_DIR": models,
                 "SEVE_CHROMA_URL": chroma_url} for i in range(2)]
        ingest(envs[0], corpus)  # through the first process's data dir
        urls = [serve(stack, env, tmp_path / f"serve{i}.log") for i, env in enumerate(envs)]
        # the second process never ingested: its lexical copy and filter catalogue come from the Chroma server
        questions = ["Comment financer une alliance locale ?", "Des exemples en Bretagne ?",
                     "Qu'est-ce que le mécénat de compétences ?"]
        for q in questions:
            a, b = ask(urls[0], q), ask(urls[1], q)
            assert (a["answer"], [c["chunk_id"] for c in a["citations"]], a["filters"]) == \
                   (b["answer"], [c["chunk_id"] for c in b["citations"]], b["filters"]), q
        search = [httpx.get(u + "/api/search", params={"q": "mécénat", "k": 8}, timeout=30).json() for u in urls]
        assert [h["chunk_id"] for h in search[0]["results"]] == [h["chunk_id"] for h in search[1]["results"]]

        (corpus / "valenciennes.md").write_text(NEW_DOC, encoding="utf-8")
        ingest(envs[0], corpus)
        ended = time.monotonic()
        print(f"visible in process 2 {wait_visible(urls[1], ended):.2f} s after the ingest ended")
        a, b = ask(urls[0]), ask(urls[1])
        assert a["answer"] == b["answer"] and cites_new_doc(a)
        # the filter catalogue follows too: the new region is read in a question by the second process
        examples = httpx.get(urls[1] + "/api/examples", params={"q": "réemploi dans les Hauts-de-France"},
                             timeout=30).json()
        assert examples["filters"]["detected"].get("region") == ["Hauts-de-France"]
        assert [r["title"] for r in examples["results"]][:1] == ["Réemploi solidaire à Valenciennes"]
