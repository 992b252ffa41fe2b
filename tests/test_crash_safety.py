"""Crash safety, proven: `seve ingest` killed with SIGKILL anywhere, then run again, leaves the index a clean
ingest of the same files would have built; and a `seve serve` killed while an ingest writes to the same data
dir neither breaks that ingest nor its own restart.

The kills are real `kill -9`s of real `seve ingest` processes: most at a failpoint (ingest.failpoints, chosen
through SEVE_KILL_AT = point:n-th hit) in every phase of the write path, a few from outside at a random moment.
About half the runs start from an index of an older version of the files (changed, removed and added files), so
deletions and pruning are crashed too. A seeded `random.Random` picks the kills: a failure replays exactly
(`CRASH_SEED` chooses another seed).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import chromadb
import httpx
import pytest
from chromadb.config import Settings as ChromaSettings

from tests.servers import free_port, running
from tests.test_live_serve import NEW_DOC, QUESTION, ask, cites_new_doc

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MINI = Path(__file__).parent / "data" / "mini"
SEVE = [sys.executable, "-m", "assistant.cli"]
SEED = int(os.environ.get("CRASH_SEED", "17011"))  # another seed, other kills: CRASH_SEED=n pytest ...
KILLS = 20
EXTERNAL_KILLS = 4
NEW_FILES = 16  # added while a server runs (serve test)
# the phases of the write path and their failpoints (the names in ingest/pipeline.py, index/*.py)
PHASES: dict[str, tuple[str, ...]] = {
    "loading": ("load.document", "chunk.document"),
    "embedding": ("embed.before", "embed.after"),
    "chroma": ("chroma.upsert.before", "chroma.upsert.after", "chroma.publish.after", "chroma.delete.before",
               "chroma.delete.after", "chroma.update.after", "writer.upsert.between", "writer.delete.between",
               "writer.reuse.between"),
    "lexical": ("lexical.upsert.mid", "lexical.delete.mid"),
    "manifest": ("manifest.pending", "manifest.done"),
    "sentences": ("sentences.before", "sentences.after"),
    "pruning": ("prune.before_manifest", "prune.after_manifest"),
}

TOWNS = ["Brest", "Quimper", "Nantes", "Angers", "Rouen", "Caen", "Metz", "Nancy", "Dijon", "Besançon", "Pau",
         "Tarbes", "Albi", "Rodez", "Niort", "Poitiers", "Limoges", "Tulle", "Arras", "Amiens"]
THEMES = ["une épicerie solidaire", "un atelier de couture", "une ressourcerie de meubles", "un jardin d'insertion",
          "une école de musique", "un club de lecture", "une navette rurale", "un fablab de quartier",
          "une conciergerie d'entreprise", "une cantine coopérative"]
PARTNERS = ["la mairie", "une fondation d'entreprise", "le département", "une association de quartier",
            "un lycée agricole", "une banque mutualiste", "la caisse d'allocations familiales", "un bailleur social"]


def generated_doc(i: int, edit: int = 0, region: str = "") -> str:
    """A short fictional case study (a few chunks, distinct sentences); `edit` changes its second paragraph,
    `region` only its front matter."""
    town, theme = TOWNS[i % len(TOWNS)], THEMES[i % len(THEMES)]
    paragraphs = [f"# Fiche {i} : {theme} à {town}"]
    for p in range(3):
        partner = PARTNERS[(i + p) % len(PARTNERS)]
        version = f" (version {edit})" if p == 1 and edit else ""
        paragraphs.append(
            f"À {town}, {theme} réunit depuis {2010 + (i + p) % 12} {12 + 7 * i + p} bénévoles et {partner}{version}. "
            f"La convention numéro {100 * i + p} précise les engagements de chacun pendant {2 + p} ans, "
            f"avec un budget annuel de {3 + i} {100 + 10 * p} euros partagé entre les partenaires. "
            f"Chaque trimestre, un comité de suivi de la fiche {i} examine {p + 3} indicateurs et publie un bilan "
            f"ouvert aux habitants du quartier {p + 1} de {town}."
        )
    front = f"title: Fiche {i} à {town}\ndoc_type: exemple\n" + (f"region: {region}\n" if region else "")
    return f"---\n{front}---\n" + "\n\n".join(paragraphs) + "\n"


def corpus_files(version: str) -> dict[str, str]:
    """The files of the test corpus: version "a", then "b" (one file changed, one removed, one record dropped,
    two files added, one appended to, one whose front matter only changed)."""
    files = {p.name: p.read_text(encoding="utf-8") for p in MINI.iterdir()}
    files.update({f"fiche{i}.md": generated_doc(i) for i in range(6)})
    if version == "b":
        files["fiche2.md"] = generated_doc(2, edit=1)
        files["fiche3.md"] = generated_doc(3, region="Bretagne")
        del files["fiche5.md"]
        files["jardins.jsonl"] = files["jardins.jsonl"].splitlines()[0] + "\n"
        files["odd17.txt"] += "\nUne phrase ajoutée pour la version b du corpus.\n"
        files.update({f"fiche{i}.md": generated_doc(i) for i in (6, 7)})
    return files


def write_corpus(root: Path, files: dict[str, str]) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def ingest(corpus: Path, env: dict[str, str], *, kill_at: str | None = None, kill_after: float | None = None,
           counts: Path | None = None) -> Run:
    """`seve ingest CORPUS` in its own process; killed at a failpoint (kill_at) or from outside (kill_after s)."""
    extra = {"SEVE_KILL_AT": kill_at or "", "SEVE_FAILPOINT_COUNTS": str(counts or "")}
    started = time.monotonic()
    proc = subprocess.Popen(SEVE + ["ingest", "--json", str(corpus)], env={**os.environ, **env, **extra},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    return Run(proc.returncode, out, err, time.monotonic() - started)


@dataclass(frozen=True)
class Snapshot:
    """What a data dir holds, read in this process after the writers ended."""

    chroma_ids: list[str]
    vector_ids: set[str]  # what a similarity search over the whole collection returns
    lexical_ids: list[str]
    manifest: dict[str, tuple[str, tuple[str, ...]]]  # doc id -> (state, chunk ids)
    documents: int  # the count /api/health reports
    sentences: set[str]  # keys of the stored sentence vectors
    chroma_meta: dict[str, dict]  # chunk id -> metadata in Chroma (without the bookkeeping keys)
    lexical_meta: dict[str, dict]  # chunk id -> metadata in the lexical index


def snapshot(data_dir: Path) -> Snapshot:
    with chromadb.PersistentClient(str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)) \
            as client:
        collection = client.get_collection("seve")
        stored = collection.get(include=["metadatas"])
        ids = stored["ids"]
        chroma_meta = {cid: {k: v for k, v in m.items() if k not in ("seq", "doc_id", "start", "end")}
                       for cid, m in zip(ids, stored["metadatas"], strict=True)}
        documents = int((collection.metadata or {}).get("documents", 0))
        vector_ids: set[str] = set()
        if ids:
            probe = collection.get(ids=ids[:1], include=["embeddings"])["embeddings"][0]
            found = collection.query(query_embeddings=[probe], n_results=len(ids), include=["distances"])
            vector_ids = set(found["ids"][0])
    with _read_only(data_dir / "lexical-seve.sqlite") as db:
        rows = db.execute("SELECT id, metadata FROM chunks").fetchall()
        lexical_ids = [r[0] for r in rows]
        lexical_meta = {r[0]: json.loads(r[1]) for r in rows}
        sentences = {r[0] for r in db.execute("SELECT key FROM sentences")}
    with _read_only(data_dir / "manifest-seve.sqlite") as db:
        manifest = {r[0]: (r[2], tuple(json.loads(r[1]))) for r in db.execute("SELECT doc_id, chunk_ids, state "
                                                                                 "FROM docs")}
    return Snapshot(ids, vector_ids, lexical_ids, manifest, documents, sentences, chroma_meta, lexical_meta)


class _read_only:  # noqa: N801 - used as a context manager, like open()
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


def assert_same_index(got: Snapshot, want: Snapshot) -> None:
    """The index equals the clean one: same chunks everywhere, no duplicate, no orphan, nothing pending."""
    assert len(got.chroma_ids) == len(set(got.chroma_ids)), "duplicate ids in Chroma"
    assert len(got.lexical_ids) == len(set(got.lexical_ids)), "duplicate ids in the lexical index"
    chroma, lexical, reference = set(got.chroma_ids), set(got.lexical_ids), set(want.chroma_ids)
    assert chroma == reference, f"Chroma: {len(chroma - reference)} orphan(s), {len(reference - chroma)} missing"
    assert lexical == reference, f"lexical: {len(lexical - reference)} orphan(s), {len(reference - lexical)} missing"
    assert got.vector_ids == reference, "the vector index does not hold exactly the stored chunks"
    assert got.chroma_meta == want.chroma_meta, "chunk metadata in Chroma differs from a clean ingest's"
    assert got.lexical_meta == want.lexical_meta == want.chroma_meta, \
        "chunk metadata in the lexical index differs from a clean ingest's"
    pending = sorted(d for d, (state, _) in got.manifest.items() if state != "done")
    assert not pending, f"manifest rows not done: {pending}"
    assert got.manifest == want.manifest, "the manifest differs from a clean ingest's"
    assert got.documents == want.documents == len(want.manifest), \
        f"document count {got.documents}, clean ingest {want.documents}"
    assert want.sentences <= got.sentences, f"{len(want.sentences - got.sentences)} sentence vector(s) lost"


@dataclass(frozen=True)
class Kill:
    scenario: str  # "fresh": an empty index; "update": the index of version a, the files of version b
    phase: str
    point: str = ""  # a failpoint, hit number `hit`; empty: an external kill after `delay` seconds
    hit: int = 0
    delay: float = 0.0

    def __str__(self) -> str:
        where = f"failpoint {self.point}#{self.hit}" if self.point else f"external kill at {self.delay:.2f} s"
        return f"{self.scenario:6} {self.phase:9} {where}"


def plan_kills(rng: random.Random, counts: dict[str, dict[str, int]], seconds: dict[str, float]) -> list[Kill]:
    """KILLS kills: every phase at least twice, then random phases, then EXTERNAL_KILLS external ones."""
    phases = [p for p in PHASES for _ in range(2)]
    phases += rng.choices(list(PHASES), k=KILLS - EXTERNAL_KILLS - len(phases))
    kills = []
    for phase in phases:
        scenario = "update" if phase == "pruning" else rng.choice(["fresh", "update"])
        reached = [p for p in PHASES[phase] if counts[scenario].get(p)]
        if not reached:  # e.g. deletions, which a first ingest never does
            scenario = "update"
            reached = [p for p in PHASES[phase] if counts[scenario].get(p)]
        assert reached, f"no failpoint of phase {phase} is reached: {counts}"
        point = rng.choice(reached)
        kills.append(Kill(scenario, phase, point, rng.randint(1, counts[scenario][point])))
    for _ in range(EXTERNAL_KILLS):
        scenario = rng.choice(["fresh", "update"])
        # mostly after the imports (about half a run), well before the end: the process is still running when
        # the signal comes (trials run two at a time, slower than the lone run that measured `seconds`)
        kills.append(Kill(scenario, "anywhere", delay=rng.uniform(0.3, 0.8) * seconds[scenario]))
    rng.shuffle(kills)
    return kills


def base_env(data_dir: Path, models_dir: Path) -> dict[str, str]:
    return {"SEVE_DATA_DIR": str(data_dir), "SEVE_MODELS_DIR": str(models_dir), "HF_HUB_OFFLINE": "1",
            # the product's fast passage encoder; small batches so a run writes in several steps
            "SEVE_PASSAGE_ENCODER": "onnx-int8", "SEVE_INGEST_BATCH_CHUNKS": "5"}


def test_ingest_killed_anywhere_then_rerun_equals_a_clean_ingest(converted_model_dir, tmp_path):
    models = converted_model_dir.parent
    corpus = tmp_path / "corpus"  # one path for every run: document ids derive from it
    versions = {"fresh": corpus_files("a"), "update": corpus_files("b")}

    # references: clean ingests of each version; the one of version a is also where "update" runs start from,
    # and the runs that built them count the failpoints each scenario reaches
    counts: dict[str, dict[str, int]] = {}
    seconds: dict[str, float] = {}
    write_corpus(corpus, versions["fresh"])
    run = ingest(corpus, base_env(tmp_path / "ref-a", models), counts=tmp_path / "counts-fresh.json")
    assert run.returncode == 0, run.stderr
    shutil.copytree(tmp_path / "ref-a", tmp_path / "start-update")
    counts["fresh"], seconds["fresh"] = json.loads((tmp_path / "counts-fresh.json").read_text()), run.seconds
    write_corpus(corpus, versions["update"])
    run = ingest(corpus, base_env(tmp_path / "ref-b", models))
    assert run.returncode == 0, run.stderr
    incremental = tmp_path / "incremental"
    shutil.copytree(tmp_path / "start-update", incremental)
    run = ingest(corpus, base_env(incremental, models), counts=tmp_path / "counts-update.json")
    assert run.returncode == 0, run.stderr
    counts["update"], seconds["update"] = json.loads((tmp_path / "counts-update.json").read_text()), run.seconds
    reference = {"fresh": snapshot(tmp_path / "ref-a"), "update": snapshot(tmp_path / "ref-b")}
    assert_same_index(snapshot(incremental), reference["update"])  # without a crash, incremental == clean
    assert reference["fresh"].documents == 10 and reference["update"].documents == 10
    assert counts["fresh"]["embed.before"] >= 3, "the corpus should be embedded in several batches"

    kills = plan_kills(random.Random(SEED), counts, seconds)
    assert {k.phase for k in kills} == set(PHASES) | {"anywhere"}
    lock = threading.Lock()

    def attempt(i: int, kill: Kill) -> str | None:
        """One kill, the run after it, the comparison: None when the index came out right, else why not."""
        data = tmp_path / f"kill-{i:02}"
        if kill.scenario == "update":
            shutil.copytree(tmp_path / "start-update", data)
        env = base_env(data, models)
        try:
            killed = ingest(corpus, env, kill_at=f"{kill.point}:{kill.hit}" if kill.point else None,
                            kill_after=None if kill.point else kill.delay)
            assert killed.returncode == -signal.SIGKILL, \
                f"not killed: exit {killed.returncode}\n{killed.stderr[-2000:]}"
            if kill.point:
                assert f"failpoint {kill.point}#{kill.hit}: SIGKILL" in killed.stderr, killed.stderr[-2000:]
            rerun = ingest(corpus, env)
            assert rerun.returncode == 0, f"the run after the kill failed:\n{rerun.stderr[-2000:]}"
            with lock:  # one embedded Chroma opened at a time in this process
                got = snapshot(data)
            assert_same_index(got, reference[kill.scenario])
        except AssertionError as exc:
            print(f"kill {i:2}: {kill} -> FAILED: {str(exc).splitlines()[0]}")
            return f"kill {i} ({kill}): {exc}"
        print(f"kill {i:2}: {kill} -> killed after {killed.seconds:.1f} s, recovered in {rerun.seconds:.1f} s")
        shutil.rmtree(data)
        return None

    # two processes at a time (a run spends half its time importing, on one core), one version of the files
    # at a time: every run reads the corpus at one path
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for scenario in ("fresh", "update"):
            write_corpus(corpus, versions[scenario])
            group = [(i, k) for i, k in enumerate(kills, 1) if k.scenario == scenario]
            failures += [f for f in pool.map(lambda item: attempt(*item), group) if f]
    print(f"kills survived: {len(kills) - len(failures)}/{KILLS}")
    assert not failures, "\n".join(failures)


def test_serve_killed_while_an_ingest_writes_the_same_data_dir(converted_model_dir, tmp_path):
    models = converted_model_dir.parent
    corpus = tmp_path / "corpus"
    write_corpus(corpus, {p.name: p.read_text(encoding="utf-8") for p in MINI.iterdir()})
    data = tmp_path / "index"
    env = {**base_env(data, models), "SEVE_INDEX_POLL_SECONDS": "0.2"}  # the server syncs often: more overlap
    assert ingest(corpus, env).returncode == 0
    # enough new files that the ingest is still writing when the server has seen its first batch
    (corpus / "valenciennes.md").write_text(NEW_DOC, encoding="utf-8")
    for i in range(NEW_FILES):
        (corpus / f"fiche{i}.md").write_text(generated_doc(i), encoding="utf-8")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = SEVE + ["serve", "--port", str(port), "--log-level", "warning"]
    with ExitStack() as stack:
        server = stack.enter_context(running(cmd, url + "/api/health", env=env, log=tmp_path / "serve1.log"))
        before = httpx.get(url + "/api/health", timeout=30).json()
        writer = subprocess.Popen(SEVE + ["ingest", str(corpus)], env={**os.environ, **env},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stack.callback(lambda: writer.poll() is None and writer.kill())
        deadline, seen = time.monotonic() + 120, before["chunks"]
        while seen == before["chunks"]:
            assert time.monotonic() < deadline and writer.poll() is None, "the server never saw the ingest write"
            time.sleep(0.05)
            seen = httpx.get(url + "/api/health", timeout=30).json()["chunks"]
        assert writer.poll() is None, "the ingest ended before the server was killed: give it more files"
        os.kill(server.pid, signal.SIGKILL)
        print(f"server killed when it had seen {seen - before['chunks']} new chunks, the ingest still writing")
        assert server.wait(timeout=30) == -signal.SIGKILL
        out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err

    reference = tmp_path / "reference"
    assert ingest(corpus, base_env(reference, models)).returncode == 0
    want = snapshot(reference)
    with running(cmd, url + "/api/health", env=env, log=tmp_path / "serve2.log"):
        health = httpx.get(url + "/api/health", timeout=30).json()
        assert (health["chunks"], health["documents"]) == (len(want.chroma_ids), want.documents) == \
            (len(want.chroma_ids), 4 + 1 + NEW_FILES)
        assert cites_new_doc(ask(url, QUESTION))
    assert_same_index(snapshot(data), want)
