"""A soak: a real `seve serve` under mixed traffic for minutes; errors, latency per route, memory over time.

    python -m evals.soak [--minutes 10] [--clients 16] [--warmup-seconds 60] [--data-dir DIR | --url URL [--pid PID]]

Without --url, the sample corpus (corpus/) is ingested once into .seve/soak/data (reused while its marker
soak.json is there) and a `seve serve` is started on a free loopback port (no partner key required, no
anonymous quota; its log goes to .seve/soak/serve.log), then stopped at the end. With --data-dir, that index
is served as it is (nothing is ingested). With --url, an already-running server is used; give --pid to
sample its memory (otherwise memory is not measured and does not decide the exit code).

`--clients` threads send mixed traffic for `--warmup-seconds`, then for `--minutes`: /api/chat (alone, with a
history, with filters), /api/chat/stream (the whole SSE stream, which must end with one `done` event and carry
no `error` event), /api/search, /api/examples with facet filters, /api/health, the /sources/ pages of the
documents returned (and of unknown ones: 404 page), and bad requests (empty question, unknown filter,
malformed JSON, unknown route, wrong method...) whose 4xx status and `{"error", "message"}` body are checked.
Questions come from evals/gold/gold.jsonl and from random combinations of templates, domains, regions, actors
and themes, so that caches do not hide the work.

Counted: requests, requests/s and p50/p95 latency per route after the warm-up; errors over the whole run,
warm-up included (5xx, connection error, timeout, unexpected status, unexpected body, traceback in the server
log, server exit), each kind counted apart with its first examples. The server's RSS (VmRSS) is sampled every
5 s; reported: at the end of the warm-up, at the end (both under load), the max, and the growth from the
one to the other (goal < 5 %), with a short series over time.

The report is printed and written to evals/results-soak.md. Exit code 1 if there was any error or if the
memory grew by 5 % or more after the warm-up.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from assistant.settings import Settings
from evals.bench_latency import QUESTIONS_FILE, peak_rss_mib, percentile
from evals.harness import DEFAULT_CORPUS, ROOT
from evals.serving import free_port, rss_mib, running

SOAK = ROOT / ".seve" / "soak"
MARKER = "soak.json"
OUT = ROOT / "evals" / "results-soak.md"
RSS_EVERY = 5.0
GROWTH_GOAL = 5.0  # % of RSS after the warm-up
EXAMPLES_KEPT = 3

# --------------------------------------------------------------------------- questions

ALLOWED = DEFAULT_CORPUS / "_sources" / "allowed_values.json"
ACTORS = {"association": "une association", "entreprise": "une entreprise", "collectivité": "une collectivité",
          "fondation": "une fondation", "académique": "un laboratoire universitaire",
          "citoyen": "un collectif d'habitants", "État": "les services de l'État"}
THEMES = ["le mécénat de compétences", "la mesure d'impact", "la gouvernance partagée", "le financement",
          "les indicateurs de résultat", "la co-construction", "les PETR", "les CRTE", "un tiers-lieu",
          "l'insertion des jeunes", "la précarité énergétique", "la valeur collective", "le devoir d'alliance",
          "les modèles socio-économiques", "la prime à l'alliance", "un comité de pilotage"]
TEMPLATES = [
    "Quels exemples d'alliances dans le domaine {domaine} en {region} ?",
    "Une alliance entre {acteur} et {acteur2} sur {theme}, ça donne quoi en {region} ?",
    "Qui finance les projets {domaine} portés par {acteur} ?",
    "Donne-moi un exemple de partenariat entre {acteur} et {acteur2} depuis {annee}.",
    "Quel rôle joue {acteur} dans une alliance territoriale sur {theme} ?",
    "Comment mesurer l'impact d'une alliance {domaine} en {region} ?",
    "C'est quoi {theme} ?",
    "Quelles difficultés rencontrent {acteur} et {acteur2} quand elles parlent de {theme} ?",
    "Combien d'exemples {domaine} en {region} avant {annee} ?",
    "Compare {theme} et {theme2}.",
    "What partnerships exist in {region} about {domaine}?",
    "Liste les leviers pour {theme} dans le domaine {domaine}.",
]
TAILS = ["", "", "", " Réponds en bref.", " Merci !", " Avec des chiffres si possible.", " stp",
         " (pour une note interne)", " Sois précis."]
FOLLOW_UPS = ["Et en {region} ?", "Et pour {acteur} ?", "Tu as un autre exemple ?", "Qui sont les partenaires ?",
              "Ça a coûté combien ?", "Et depuis {annee} ?", "Peux-tu détailler le deuxième point ?",
              "Et dans le domaine {domaine} ?"]


def load_vocabulary() -> dict[str, Any]:
    """Filter values of the sample corpus, and the gold questions (with their histories and filters)."""
    allowed = json.loads(ALLOWED.read_text(encoding="utf-8"))
    gold = [json.loads(x) for x in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines() if x.strip()]
    return {"region": allowed["regions"], "domaine": allowed["domaines"], "acteurs": allowed["acteurs"],
            "type": allowed["types"], "doc_type": allowed["doc_types"], "gold": gold,
            "follow_ups": [g for g in gold if g.get("history")]}


# --------------------------------------------------------------------------- requests and their checks

Check = Callable[[httpx.Response], str | None]


@dataclass(frozen=True)
class Probe:
    """One request, the status that must come back and what its body must hold (`check` names a problem)."""

    route: str  # the row of the report it is counted in
    method: str
    path: str
    check: Check
    params: Any = None
    body: Any = None
    content: bytes | None = None
    headers: dict[str, str] | None = None
    status: int = 200

    def describe(self) -> str:
        query = f"?{urlencode(self.params, doseq=True)}" if self.params else ""
        sent = json.dumps(self.body, ensure_ascii=False) if self.body is not None else (
            self.content.decode("utf-8", "replace") if self.content else "")
        return f"{self.method} {self.path}{query} {_short(sent, 200)}".strip()


def _short(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "…"


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def error_body(code: str) -> Check:
    """The one error format: exactly `{"error", "message"}`, both non-empty strings, with this code (and the
    `Allow` header on a 405)."""
    def check(response: httpx.Response) -> str | None:
        body = _json(response)
        if not isinstance(body, dict) or set(body) != {"error", "message"} or not all(
                isinstance(v, str) and v for v in body.values()):
            return 'not an {"error", "message"} body'
        if body["error"] != code:
            return f"error code {body['error']!r}, expected {code!r}"
        return "no Allow header" if response.status_code == 405 and not response.headers.get("allow") else None
    return check


def check_answer(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("answer"), str) or not isinstance(
            body.get("citations"), list):
        return "no answer and citations"
    if not body["answer"].strip():
        return "empty answer"
    if any(not c.get("doc_id") or not c.get("link") for c in body["citations"]):
        return "a citation without doc_id or link"
    return None


def check_chat(response: httpx.Response) -> str | None:
    return check_answer(_json(response))


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """The events of a server-sent stream as (event, decoded data); data that is not JSON raises ValueError."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        kind = next((x[6:].strip() for x in lines if x.startswith("event:")), "message")
        data = "\n".join(x[5:].removeprefix(" ") for x in lines if x.startswith("data:"))
        events.append((kind, json.loads(data) if data else None))
    return events


def check_stream(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        return f"content-type {response.headers.get('content-type')!r}"
    try:
        events = parse_sse(response.text)
    except ValueError:
        return "an event whose data is not JSON"
    kinds = [kind for kind, _ in events]
    if "error" in kinds:
        return f"error event: {events[kinds.index('error')][1]}"
    if not kinds or kinds[-1] != "done" or kinds.count("done") != 1:
        return f"the stream does not end with one done event: {kinds[-5:]}"
    return check_answer(events[-1][1])


def check_results(k: int) -> Check:
    def check(response: httpx.Response) -> str | None:
        body = _json(response)
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            return "no results list"
        if len(body["results"]) > k:
            return f"{len(body['results'])} results for k={k}"
        if any(not r.get("doc_id") or not r.get("link") for r in body["results"]):
            return "a result without doc_id or link"
        return None
    return check


def check_examples(k: int) -> Check:
    def check(response: httpx.Response) -> str | None:
        problem = check_results(k)(response)
        if problem:
            return problem
        body = response.json()
        if not isinstance(body.get("facets"), dict) or not isinstance(body.get("total"), int):
            return "no facets or total"
        if body["total"] < len(body["results"]):
            return f"total {body['total']} < {len(body['results'])} results"
        return None
    return check


def check_health(response: httpx.Response) -> str | None:
    body = _json(response)
    return None if isinstance(body, dict) and body.get("status") == "ok" and body.get("chunks", 0) > 0 else (
        "status is not ok or the index is empty")


def check_page(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("text/html") or not response.text.strip():
        return f"not an HTML page (content-type {response.headers.get('content-type')!r})"
    return None


# --------------------------------------------------------------------------- traffic


class Links:
    """Source links seen in answers, shared by the clients (bounded)."""

    def __init__(self, size: int = 500) -> None:
        self._links: list[str] = []
        self._size = size
        self._lock = threading.Lock()

    def add(self, links: list[str]) -> None:
        with self._lock:
            self._links = (self._links + links)[-self._size:]

    def pick(self, rng: random.Random) -> str | None:
        with self._lock:
            return rng.choice(self._links) if self._links else None


CHAT, STREAM, SEARCH, EXAMPLES = "POST /api/chat", "POST /api/chat/stream", "GET /api/search", "GET /api/examples"
HEALTH, SOURCE, BAD = "GET /api/health", "GET /sources/{doc_id}", "bad requests (4xx expected)"


class Traffic:
    """What one client sends: a random mix of requests, with questions varied enough to defeat caches."""

    def __init__(self, rng: random.Random, vocabulary: dict[str, Any], links: Links) -> None:
        self.rng = rng
        self.v = vocabulary
        self.links = links
        self.last: tuple[str, str] | None = None  # this client's last (question, answer)
        self.mix: dict[Callable[[], Probe], int] = {
            self.chat: 20, self.chat_history: 8, self.chat_filters: 8, self.stream: 14, self.search: 16,
            self.examples: 12, self.health: 4, self.source: 8, self.bad: 10}

    def next(self) -> Probe:
        return self.rng.choices(list(self.mix), weights=list(self.mix.values()))[0]()

    def learn(self, probe: Probe, response: httpx.Response) -> None:
        """Keep the links returned (for source pages) and the last answer (for histories)."""
        if probe.route in (HEALTH, SOURCE, BAD):
            return
        body = _json(response) if probe.route != STREAM else dict(parse_sse(response.text)).get("done")
        if not isinstance(body, dict):
            return
        items = body.get("citations") or body.get("results") or []
        self.links.add([urlsplit(x["link"])._replace(scheme="", netloc="", fragment="").geturl()
                        for x in items if x.get("link")])
        if isinstance(body.get("answer"), str) and probe.body:
            self.last = (probe.body["message"], body["answer"][:600])

    # ------------------------------------------------------------ pieces

    def _fill(self, template: str) -> str:
        r, v = self.rng, self.v
        actors = r.sample(list(ACTORS.values()), 2)
        themes = r.sample(THEMES, 2)
        return template.format(domaine=r.choice(v["domaine"]).lower(), region=r.choice(v["region"]),
                               acteur=actors[0], acteur2=actors[1], theme=themes[0], theme2=themes[1],
                               annee=r.randint(2008, 2024))

    def question(self) -> str:
        if self.rng.random() < 0.3:
            return self.rng.choice(self.v["gold"])["question"]
        return self._fill(self.rng.choice(TEMPLATES)) + self.rng.choice(TAILS)

    def filters(self) -> dict[str, Any]:
        r, v = self.rng, self.v
        chosen: dict[str, Any] = {}
        for key in r.sample(["region", "domaine", "acteurs", "annee_min", "doc_type", "type"], r.randint(1, 2)):
            if key == "annee_min":
                chosen[key] = r.randint(2008, 2022)
            elif key == "region" and r.random() < 0.3:
                chosen[key] = r.sample(v["region"], 2)
            else:
                chosen[key] = r.choice(v[key])
        return chosen

    def history(self) -> tuple[list[dict[str, str]], str]:
        r = self.rng
        if self.last and r.random() < 0.6:
            asked, answered = self.last
            return [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}], (
                self._fill(r.choice(FOLLOW_UPS)))
        gold = r.choice(self.v["follow_ups"])
        return gold["history"], gold["question"]

    def _lang(self) -> dict[str, str] | None:
        return {"Accept-Language": "en"} if self.rng.random() < 0.1 else None

    # ------------------------------------------------------------ requests

    def chat(self) -> Probe:
        return Probe(CHAT, "POST", "/api/chat", check_chat, body={"message": self.question()}, headers=self._lang())

    def chat_history(self) -> Probe:
        history, question = self.history()
        return Probe(CHAT + " (history)", "POST", "/api/chat", check_chat,
                     body={"message": question, "history": history})

    def chat_filters(self) -> Probe:
        body = {"message": self.question(), "filters": self.filters(), "detect_filters": self.rng.random() < 0.7}
        return Probe(CHAT + " (filters)", "POST", "/api/chat", check_chat, body=body)

    def stream(self) -> Probe:
        r = self.rng
        body: dict[str, Any] = {"message": self.question()}
        if r.random() < 0.3:
            body["history"], body["message"] = self.history()
        if r.random() < 0.3:
            body["filters"] = self.filters()
        return Probe(STREAM, "POST", "/api/chat/stream", check_stream, body=body, headers=self._lang())

    def search(self) -> Probe:
        k = self.rng.randint(1, 20)
        params = {"q": self.question(), "k": k, **(self.filters() if self.rng.random() < 0.3 else {})}
        return Probe(SEARCH, "GET", "/api/search", check_results(k), params=params)

    def examples(self) -> Probe:
        r, v = self.rng, self.v
        k = r.randint(1, 20)
        params: list[tuple[str, Any]] = [("k", k)]
        if r.random() < 0.6:
            params.append(("q", self._fill(r.choice(TEMPLATES)) if r.random() < 0.5 else r.choice(THEMES)))
        for key in r.sample(["region", "domaine", "acteurs", "type"], r.randint(0, 2)):
            params += [(key, value) for value in r.sample(v[key], r.randint(1, 2))]
        if r.random() < 0.3:
            params.append(("annee_min", r.randint(2008, 2022)))
        if r.random() < 0.2:
            params.append(("detect_filters", "false"))
        return Probe(EXAMPLES, "GET", "/api/examples", check_examples(k), params=params)

    def health(self) -> Probe:
        return Probe(HEALTH, "GET", "/api/health", check_health)

    def source(self) -> Probe:
        r = self.rng
        link = self.links.pick(r)
        if link is None or r.random() < 0.1:  # an unknown document: the 404 page
            return Probe(SOURCE, "GET", f"/sources/{r.getrandbits(96):024x}", check_page, status=404)
        if r.random() < 0.1:  # offsets that are not offsets highlight nothing
            link = link.split("?")[0] + r.choice(["?start=abc&end=-3", "?start=900000&end=12", "?start=7"])
        return Probe(SOURCE, "GET", link, check_page)

    def bad(self) -> Probe:
        q = self.question()
        cases: list[tuple[str, str, dict[str, Any], int, str]] = [
            ("POST", "/api/chat", {"body": {"message": ""}}, 422, "empty_question"),
            ("POST", "/api/chat", {"body": {"message": " \n\t "}}, 422, "empty_question"),
            ("POST", "/api/chat/stream", {"body": {"message": ""}}, 422, "empty_question"),
            ("POST", "/api/chat", {"body": {"message": q, "filters": {"pays": "France"}}}, 422, "invalid_filter"),
            ("POST", "/api/chat/stream", {"body": {"message": q, "filters": {"annee_min": "hier"}}}, 422,
             "invalid_filter"),
            ("GET", "/api/search", {"params": {"q": q, "couleur": "vert"}}, 422, "invalid_filter"),
            ("GET", "/api/examples", {"params": {"annee_min": "deux mille"}}, 422, "invalid_filter"),
            ("POST", "/api/chat", {"content": ('{"message": ' + json.dumps(q) + ',').encode(),
                                   "headers": {"Content-Type": "application/json"}}, 400, "invalid_json"),
            ("POST", "/api/chat", {"body": {"question": q}}, 422, "invalid_request"),
            ("POST", "/api/chat", {"body": {"message": q, "history": [{"role": "system", "content": "x"}]}}, 422,
             "invalid_request"),
            ("POST", "/api/chat", {"body": {"message": q + " alliance" * 250}}, 422, "question_too_long"),
            ("GET", "/api/search", {"params": {"q": q, "k": 0}}, 422, "invalid_request"),
            ("GET", f"/api/{self.rng.choice(['chats', 'nope', 'search/x', 'v2/chat'])}", {}, 404, "not_found"),
            ("GET", "/api/chat", {}, 405, "method_not_allowed"),
            ("DELETE", "/api/search", {"params": {"q": q}}, 405, "method_not_allowed"),
            ("PUT", "/api/health", {}, 405, "method_not_allowed"),
        ]
        method, path, parts, status, code = self.rng.choice(cases)
        return Probe(BAD, method, path, error_body(code), status=status, **parts)


# --------------------------------------------------------------------------- counting


class Recorder:
    """Latencies per route after the warm-up, errors per (kind, route) over the whole run, thread-safe."""

    def __init__(self, measure_from: float) -> None:
        self.measure_from = measure_from
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.warmup = 0
        self.errors: Counter[tuple[str, str]] = Counter()
        self.examples: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)  # the first one per request kind
        self._lock = threading.Lock()

    def error(self, kind: str, route: str, example: str, signature: str = "") -> None:
        """Count one error; its example is kept if it is among the first EXAMPLES_KEPT of different requests
        (`signature`: method, path and status), so one frequent case does not hide the others."""
        with self._lock:
            self.errors[kind, route] += 1
            kept = self.examples[kind, route]
            if len(kept) < EXAMPLES_KEPT and (signature or example) not in kept:
                kept[signature or example] = example

    def send(self, http: httpx.Client, probe: Probe) -> httpx.Response | None:
        """Send the probe, count it; the response if it was what was expected, else None (an error counted)."""
        started = time.monotonic()
        try:
            response = http.request(probe.method, probe.path, params=probe.params, json=probe.body,
                                    content=probe.content, headers=probe.headers)
        except httpx.TimeoutException as exc:
            self.error("timeout", probe.route, f"{probe.describe()} -> {type(exc).__name__} after "
                                               f"{time.monotonic() - started:.1f} s")
            return None
        except httpx.HTTPError as exc:
            self.error("connection error", probe.route, f"{probe.describe()} -> {type(exc).__name__}: {exc}")
            return None
        ms = (time.monotonic() - started) * 1000
        with self._lock:
            if started >= self.measure_from:
                self.latencies[probe.route].append(ms)
            else:
                self.warmup += 1
        problem, kind = None, ""
        if response.status_code >= 500:
            problem, kind = "", "5xx"
        elif response.status_code != probe.status:
            problem, kind = f"expected {probe.status}", "unexpected status"
        elif (problem := probe.check(response)) is not None:
            kind = "unexpected body"
        if problem is None:
            return response
        self.error(kind, probe.route, f"{probe.describe()} -> {response.status_code} {_short(response.text, 300)}"
                   + (f" ({problem})" if problem else ""),
                   signature=f"{probe.method} {probe.path.split('?')[0]} {response.status_code} {problem}")
        return None

    @property
    def total_errors(self) -> int:
        with self._lock:
            return sum(self.errors.values())

    @property
    def measured(self) -> int:
        with self._lock:
            return sum(len(v) for v in self.latencies.values())


def client(index: int, url: str, seed: int, vocabulary: dict[str, Any], links: Links, recorder: Recorder,
           deadline: float, timeout: float) -> None:
    traffic = Traffic(random.Random(seed * 1000 + index), vocabulary, links)
    with httpx.Client(base_url=url, timeout=timeout) as http:
        while time.monotonic() < deadline:
            probe = traffic.next()
            try:
                response = recorder.send(http, probe)
                if response is not None:
                    traffic.learn(probe, response)
            except Exception as exc:  # noqa: BLE001 - a bug of the soak itself is reported, never silent
                recorder.error("soak client exception", probe.route, f"{probe.describe()} -> {exc!r}")


class RssSampler(threading.Thread):
    """VmRSS of `pid` every RSS_EVERY seconds (and whenever `sample` is called), with its time."""

    def __init__(self, pid: int, t0: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.t0 = pid, t0
        self.samples: list[tuple[float, float]] = []
        self.done = threading.Event()
        self._lock = threading.Lock()

    def sample(self) -> float:
        value = rss_mib(self.pid)
        with self._lock:
            self.samples.append((time.monotonic() - self.t0, value))
        return value

    def run(self) -> None:
        self.sample()
        while not self.done.wait(RSS_EVERY):
            self.sample()


# --------------------------------------------------------------------------- a run


@dataclass
class Run:
    recorder: Recorder
    measured_seconds: float
    rss: RssSampler | None
    rss_warm: float
    rss_end: float
    peak: float


def soak(url: str, pid: int | None, args: argparse.Namespace, log: Callable[[str], None]) -> Run:
    vocabulary, links = load_vocabulary(), Links()
    t0 = time.monotonic()
    warm_end = t0 + args.warmup_seconds
    deadline = warm_end + args.minutes * 60
    recorder = Recorder(measure_from=warm_end)
    sampler = RssSampler(pid, t0) if pid else None
    if sampler:
        sampler.start()
    threads = [threading.Thread(target=client, args=(i, url, args.seed, vocabulary, links, recorder, deadline,
                                                     args.timeout), daemon=True) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    rss_warm = rss_end = math.nan
    phase_ends = [(warm_end, "warm-up over"), *[(warm_end + m, "running") for m in range(30, int(deadline - warm_end),
                                                                                       30)], (deadline, "over")]
    for moment, what in phase_ends:
        time.sleep(max(0.0, moment - time.monotonic()))
        rss = sampler.sample() if sampler else math.nan
        if moment == warm_end:
            rss_warm = rss
        if moment == deadline:
            rss_end = rss
        log(f"[{time.monotonic() - t0:5.0f} s] {what}: {recorder.warmup} warm-up + {recorder.measured} measured "
            f"requests, {recorder.total_errors} errors, RSS {_mib(rss)} MiB")
    for thread in threads:
        thread.join()
    measured = time.monotonic() - warm_end
    if sampler:
        sampler.done.set()
    return Run(recorder, measured, sampler, rss_warm, rss_end, peak_rss_mib(pid) if pid else math.nan)


def server_env(data: Path) -> dict[str, str]:
    return {"SEVE_DATA_DIR": str(data.resolve()), "SEVE_MODELS_DIR": str(Settings().resolved_models_dir.resolve()),
            "SEVE_REQUIRE_KEY": "0", "SEVE_ANONYMOUS_PER_MINUTE": "0", "HF_HUB_OFFLINE": "1"}


def ensure_index(data: Path, log: Callable[[str], None]) -> None:
    """The sample corpus ingested into `data` once (incremental: an interrupted ingest is completed)."""
    if (data / MARKER).exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    log(f"ingesting {DEFAULT_CORPUS} into {data} (once)...")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(DEFAULT_CORPUS), "--data-dir",
                           str(data), "--json"], env={**os.environ, **server_env(data)}, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"seve ingest failed (exit {done.returncode}): {done.stdout[-1000:]}{done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])  # the --json line
    (data / MARKER).write_text(json.dumps({"corpus": str(DEFAULT_CORPUS), "documents": report["documents"],
                                           "chunks": report["chunks_added"]}))
    log(f"ingested in {time.monotonic() - started:.0f} s: {report['documents']} documents, "
        f"{report['chunks_added']} chunks")


def server_log_errors(path: Path, recorder: Recorder) -> None:
    """Every traceback the server logged is an error: its exception line is the example."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            last = next((x for x in lines[i + 1:] if x and not x[0].isspace()), "?")
            recorder.error("traceback in server log", str(path.relative_to(ROOT)), _short(last, 300))


# --------------------------------------------------------------------------- report


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q):.0f}" if values else "—"


def _mib(value: float) -> str:
    return "not measured" if math.isnan(value) else f"{value:.0f}"


def growth(run: Run) -> float:
    return (run.rss_end - run.rss_warm) / run.rss_warm * 100 if run.rss_warm > 0 else math.nan


def report(run: Run, args: argparse.Namespace, server: str, health: dict[str, Any]) -> str:
    r, seconds = run.recorder, run.measured_seconds
    grew = growth(run)
    failed = r.total_errors > 0 or grew >= GROWTH_GOAL
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [f"# Soak ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average at the end {load})",
             "", f"`{args.command}` — see the module's docstring.", "",
             f"- Server: {server}; {health.get('chunks')} chunks, {health.get('documents')} documents, "
             f"encoder {health.get('encoder')}, answers {health.get('answer_mode')}.",
             f"- Settings: {args.clients} clients, {args.warmup_seconds:g} s warm-up then {args.minutes:g} min "
             f"measured ({seconds:.0f} s until the last answer), timeout {args.timeout:g} s, seed {args.seed}.",
             "", f"**{'FAIL' if failed else 'PASS'}**: {r.total_errors} errors; memory "
             + ("not measured" if math.isnan(grew) else f"{grew:+.1f} %") + f" after the warm-up "
             f"(goal < {GROWTH_GOAL:g} %).", "", "## Requests after the warm-up", "",
             "| route | requests | req/s | p50 ms | p95 ms | errors (whole run) |", "|---|---|---|---|---|---|"]
    errors_by_route = Counter()
    for (_, route), n in r.errors.items():
        errors_by_route[route] += n
    routes = sorted(set(r.latencies) | set(errors_by_route), key=lambda x: (x == BAD, x.startswith("soak"), x))
    for route in routes:
        values = r.latencies.get(route, [])
        lines.append(f"| {route} | {len(values)} | {len(values) / seconds:.1f} | {_ms(values, 50)} | "
                     f"{_ms(values, 95)} | {errors_by_route[route]} |")
    everything = [x for v in r.latencies.values() for x in v]
    lines += [f"| **all** | {len(everything)} | {len(everything) / seconds:.1f} | {_ms(everything, 50)} | "
              f"{_ms(everything, 95)} | {r.total_errors} |", "",
              f"During the warm-up: {r.warmup} requests (not in the table; their errors are counted).", "",
              "## Errors", ""]
    if not r.errors:
        lines.append("None.")
    for (kind, route), n in sorted(r.errors.items(), key=lambda p: -p[1]):
        lines.append(f"- **{kind}**, {route}: {n}")
        lines += [f"  - `{example.replace('`', chr(39))}`" for example in r.examples[kind, route].values()]
    lines += ["", f"## Memory of the server (VmRSS, every {RSS_EVERY:g} s)", "",
              "| end of warm-up MiB | end MiB | max MiB | peak (VmHWM) MiB | growth after warm-up |",
              "|---|---|---|---|---|",
              f"| {_mib(run.rss_warm)} | {_mib(run.rss_end)} | "
              f"{_mib(max((v for _, v in run.rss.samples), default=math.nan) if run.rss else math.nan)} | "
              f"{_mib(run.peak)} | " + ("—" if math.isnan(grew) else f"{grew:+.1f} % (goal < {GROWTH_GOAL:g} %)")
              + " |"]
    if run.rss and run.rss.samples:
        series = sorted(run.rss.samples)
        picked = [series[round(i * (len(series) - 1) / 11)] for i in range(12)] if len(series) > 12 else series
        lines += ["", "| min | " + " | ".join(f"{t / 60:.1f}" for t, _ in picked) + " |",
                  "|---|" + "---|" * len(picked), "| MiB | " + " | ".join(_mib(v) for _, v in picked) + " |"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evals.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10, help="measured duration, after the warm-up "
                                                                 "(default: 10)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads (default: 16)")
    parser.add_argument("--warmup-seconds", type=float, default=60, help="traffic before the measure; the RSS at "
                                                                        "its end is the reference (default: 60)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data-dir", type=Path, help="serve this index as it is (default: the sample corpus, "
                                                     "ingested once into .seve/soak/data)")
    where.add_argument("--url", help="an already-running server (e.g. http://127.0.0.1:8000); nothing is "
                                     "ingested, started or stopped")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, to sample its memory")
    parser.add_argument("--timeout", type=float, default=60, help="per-request timeout in seconds (default: 60)")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="random seed (default: the time)")
    parser.add_argument("--out", type=Path, default=OUT, help="the report (default: evals/results-soak.md)")
    args = parser.parse_args(argv)
    args.command = " ".join(["python -m evals.soak", *(sys.argv[1:] if argv is None else argv)])
    if args.pid and not args.url:
        parser.error("--pid goes with --url (a server started by the soak is sampled anyway)")
    if args.clients < 1 or args.minutes <= 0 or args.warmup_seconds < 0:
        parser.error("--clients ≥ 1, --minutes > 0 and --warmup-seconds ≥ 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.url:
        url = args.url.rstrip("/")
        health = httpx.get(url + "/api/health", timeout=30).json()
        run = soak(url, args.pid, args, log)
        server = f"already running at {url}" + (f" (pid {args.pid})" if args.pid else "")
    else:
        data = args.data_dir or SOAK / "data"
        if args.data_dir is None:
            ensure_index(data, log)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server_log = SOAK / "serve.log"
        SOAK.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--log-level", "warning"]
        log(f"starting seve serve on {url} ({data})...")
        with running(cmd, url + "/api/health", env=server_env(data), log=server_log, timeout=600) as proc:
            health = httpx.get(url + "/api/health", timeout=30).json()
            run = soak(url, proc.pid, args, log)
            if proc.poll() is not None:
                run.recorder.error("server exit", "seve serve", f"exit code {proc.returncode}")
        server_log_errors(server_log, run.recorder)
        server = f"`seve serve` started by the soak on {os.path.relpath(data.resolve(), ROOT)}"
    text = report(run, args, server, health)
    print(text)
    args.out.write_text(text, encoding="utf-8")
    return 1 if run.recorder.total_errors or growth(run) >= GROWTH_GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
