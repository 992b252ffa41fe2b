"""Fit the answerability gate (assistant/gate.json) on questions over a corpus that is not the shipped one.

    python -m evals.calibrate_gate [--sets transfer-dev] [--out assistant/gate.json]

Each question of the sets is asked of the product with the gate open; the signals the gate would read
are recorded (assistant/gate.py), and a logistic model is fitted on them: answerable questions are the
positives, unanswerable ones (near-domain, off-topic) the negatives. The default sets are transfer-dev
(web pages and PDF text written outside Sève) and the shipped corpus's calibration questions (not the
gold set): the first brings near-domain questions about organisations of a corpus we did not write, the
second off-topic ones (« une recette de crêpes »). `--model-sets transfer-dev` fits the model on the
first alone (measured: more refusals on web pages, but 19 % false refusals on the held-out set).
Two stages are fitted: an off-topic rule (best passage under a cosine floor and a quote holding at most
half of the question's non-name words; the highest floor that refuses at most
`--max-off-topic-false-refusals` of the answerable questions), then a logistic model over the signals
that held up in leave-one-out tests on transfer-dev (dense, focus_cover, entities, unknown, type_ok; the
others get weight 0), with the highest threshold that refuses at most `--max-false-refusals` of them: a
false refusal costs a user more than a cautious answer that shows its sources. The gold set and the
held-out transfer-test set are never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from assistant.factory import make_assistant, make_embedders, make_ingestor
from assistant.gate import FEATURES, GATE_FILE, GateModel, Signals
from assistant.settings import Settings
from evals.harness import ROOT, SETS, GoldItem, load_gold


class RecordingGate(GateModel):
    """Lets every answer through and keeps the signals it was shown (calibration only)."""

    def __init__(self) -> None:
        super().__init__((0.0,) * len(FEATURES), 0.0, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), 0.0)
        object.__setattr__(self, "seen", [])

    def answerable(self, s: Signals, cross_lingual: bool = False) -> bool:
        self.seen.append(s)  # type: ignore[attr-defined]
        return True


CALIBRATION = {
    # the shipped corpus's own calibration questions (not the gold set): {"question", "answerable", "expect"}
    "shipped-calibration": (ROOT / "evals" / "calibration_questions.jsonl", ROOT / "corpus"),
}


def _items(path: Path) -> list[GoldItem]:
    """Questions in the gold format, or in the calibration format ({"question", "answerable"})."""
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    if "id" in first:
        return load_gold(path)
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [GoldItem(f"C{i:03d}", "calibration", r["question"], [], {}, [], [], bool(r["answerable"]))
            for i, r in enumerate(rows, start=1)]


def collect(set_name: str, settings: Settings) -> tuple[list[list[float]], list[int], list[str]]:
    gold, corpus = {**SETS, **CALIBRATION}[set_name]
    set_settings = settings.model_copy(update={"data_dir": settings.data_dir / set_name})
    passages, embedder = make_embedders(set_settings)
    make_ingestor(set_settings, passages, embedder).ingest([corpus])
    assistant = make_assistant(set_settings, embedder)
    recorder = RecordingGate()
    assistant.gate = recorder
    rows, labels, ids = [], [], []
    for item in _items(gold):
        if item.kind == "smalltalk":
            continue
        before = len(recorder.seen)  # type: ignore[attr-defined]
        assistant.chat(item.question, item.history)
        if len(recorder.seen) > before:  # type: ignore[attr-defined]
            rows.append(recorder.seen[-1].vector())  # type: ignore[attr-defined]
            labels.append(int(item.answerable))
            ids.append(item.id)
    return rows, labels, ids


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 200) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (a handful of features, no library needed)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.eye(d + 1) * l2
    reg[-1, -1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + reg @ w
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def choose_threshold(p: np.ndarray, y: np.ndarray, max_false_refusals: float) -> tuple[float, float, float]:
    """The highest threshold that refuses at most that share of the answerable questions:
    (threshold, false refusal rate, refusal recall) on the calibration questions."""
    answerable = np.sort(p[y == 1])
    k = int(np.floor(max_false_refusals * len(answerable)))
    threshold = float(answerable[min(k, len(answerable) - 1)]) - 1e-6
    false_refusals = float((p[y == 1] < threshold).mean())
    recall = float((p[y == 0] < threshold).mean()) if (y == 0).any() else 0.0
    return threshold, false_refusals, recall


def choose_off_topic(x: np.ndarray, y: np.ndarray, max_false_refusals: float,
                     focus: float = 0.5) -> tuple[float, float]:
    """The highest dense floor under which questions whose quote holds at most `focus` of their words are
    refused, refusing at most that share of the answerable questions."""
    dense, cover = x[:, FEATURES.index("dense")], x[:, FEATURES.index("focus_cover")]
    best = -1.0
    for floor in np.round(np.arange(0.78, 0.90, 0.0025), 4):
        refused = (dense < floor) & (cover <= focus)
        if refused[y == 1].mean() <= max_false_refusals:
            best = float(floor)
    return best, focus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="transfer-dev,shipped-calibration",
                        help="question sets to fit on (never gold nor transfer-test): transfer-dev, "
                             "shipped-calibration")
    parser.add_argument("--data-dir", default=str(ROOT / ".seve" / "calibrate-gate"))
    parser.add_argument("--models-dir", default=str(ROOT / ".seve" / "models"))
    parser.add_argument("--out", default=str(GATE_FILE))
    parser.add_argument("--model-sets", default="transfer-dev,shipped-calibration",
                        help="sets the logistic model is fitted on (the off-topic rule uses every set)")
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--features", default="dense,focus_cover,entities,unknown,type_ok",
                        help=f"signals the model may use (others get weight 0), among {','.join(FEATURES)}")
    parser.add_argument("--max-false-refusals", type=float, default=0.05,
                        help="share of answerable questions the model may refuse")
    parser.add_argument("--max-off-topic-false-refusals", type=float, default=0.03,
                        help="share of answerable questions the off-topic rule may refuse")
    parser.add_argument("--dump", help="write the recorded signals (JSON) to this file")
    args = parser.parse_args(argv)
    settings = Settings(data_dir=Path(args.data_dir), models_dir=Path(args.models_dir))
    rows: list[list[float]] = []
    labels: list[int] = []
    ids: list[str] = []
    origin: list[str] = []
    for set_name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        if set_name in ("gold", "transfer-test"):
            print(f"refusé : {set_name} sert à mesurer, pas à calibrer", file=sys.stderr)
            return 2
        r, y, i = collect(set_name, settings)
        rows += r
        labels += y
        ids += i
        origin += [set_name] * len(r)
    if args.dump:
        Path(args.dump).write_text(json.dumps({"features": FEATURES, "rows": rows, "labels": labels, "ids": ids}),
                                   encoding="utf-8")
    x_all, y_all = np.array(rows), np.array(labels, dtype=float)
    in_model = np.array([o in args.model_sets.split(",") for o in origin])
    x, y = x_all[in_model], y_all[in_model]
    used = [FEATURES.index(f.strip()) for f in args.features.split(",") if f.strip()]
    mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-3)
    w_used, bias = fit(((x - mean) / scale)[:, used], y, args.l2)
    weights = np.zeros(len(FEATURES))
    weights[used] = w_used
    model = GateModel(tuple(np.round(weights, 4)), round(bias, 4), tuple(np.round(mean, 4)),
                      tuple(np.round(scale, 4)), 0.5)
    probs = np.array([model.probability(Signals(*row)) for row in x])
    threshold, false_refusals, recall = choose_threshold(probs, y, args.max_false_refusals)
    far_dense, far_focus = choose_off_topic(x_all, y_all, args.max_off_topic_false_refusals)
    far = (x_all[:, FEATURES.index("dense")] < far_dense) & (x_all[:, FEATURES.index("focus_cover")] <= far_focus)
    all_probs = np.array([model.probability(Signals(*row)) for row in x_all])
    refused = far | (all_probs < threshold)
    false_refusals, recall = float(refused[y_all == 1].mean()), float(refused[y_all == 0].mean())
    note = (f"fitted by evals/calibrate_gate.py: off-topic rule on {args.sets} ({int(y_all.sum())} answerable, "
            f"{int(len(y_all) - y_all.sum())} unanswerable questions), model on {args.model_sets} "
            f"(l2 {args.l2}; signals {args.features}; "
            f"off-topic floor {far_dense:.4f}): there, false refusals {false_refusals:.3f}, "
            f"refusal recall {recall:.3f}")
    model = GateModel(model.weights, model.bias, model.mean, model.scale, round(threshold, 4), note,
                      round(far_dense, 4), far_focus)
    Path(args.out).write_text(json.dumps(model.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(model.to_json(), indent=1, ensure_ascii=False))
    return 0


__all__ = ["RecordingGate", "collect", "fit", "choose_threshold"]

if __name__ == "__main__":
    sys.exit(main())
