"""Fit the answerability gate (assistant/gate.json) on questions over a corpus that is not the shipped one.

    python -m evals.calibrate_gate [--sets transfer-dev] [--out assistant/gate.json]

Each question of the sets is asked of the product with the gate open; the signals the gate would read
are recorded (assistant/gate.py), and a logistic model is fitted on them: answerable questions are the
positives, unanswerable ones (near-domain, off-topic) the negatives. The threshold maximises balanced
accuracy on those questions, then is moved down while that costs no more than one point of it, since a
false refusal costs a user more than a cautious answer that shows its sources. The gold set and the
held-out transfer-test set are never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from assistant.factory import make_assistant, make_embedder, make_ingestor
from assistant.gate import FEATURES, GATE_FILE, GateModel, Signals
from assistant.settings import Settings
from evals.harness import ROOT, SETS, load_gold


class RecordingGate(GateModel):
    """Lets every answer through and keeps the signals it was shown (calibration only)."""

    def __init__(self) -> None:
        super().__init__((0.0,) * len(FEATURES), 0.0, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), 0.0)
        object.__setattr__(self, "seen", [])

    def answerable(self, s: Signals) -> bool:
        self.seen.append(s)  # type: ignore[attr-defined]
        return True


def collect(set_name: str, settings: Settings) -> tuple[list[list[float]], list[int], list[str]]:
    gold, corpus = SETS[set_name]
    set_settings = settings.model_copy(update={"data_dir": settings.data_dir / set_name})
    embedder = make_embedder(set_settings).warm_up()
    make_ingestor(set_settings, embedder).ingest([corpus])
    assistant = make_assistant(set_settings, embedder)
    recorder = RecordingGate()
    assistant.gate = recorder
    rows, labels, ids = [], [], []
    for item in load_gold(gold):
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


def choose_threshold(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    def balanced(t: float) -> float:
        answered = p >= t
        tpr = answered[y == 1].mean() if (y == 1).any() else 0.0
        tnr = (~answered[y == 0]).mean() if (y == 0).any() else 0.0
        return float((tpr + tnr) / 2)

    grid = np.unique(np.concatenate([p, np.linspace(0.05, 0.95, 91)]))
    best = max(grid, key=balanced)
    best_value = balanced(best)
    lower = min((t for t in grid if t <= best and balanced(t) >= best_value - 0.01), default=best)
    return float(lower), balanced(lower)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="transfer-dev")
    parser.add_argument("--data-dir", default=str(ROOT / ".seve" / "calibrate-gate"))
    parser.add_argument("--models-dir", default=str(ROOT / ".seve" / "models"))
    parser.add_argument("--out", default=str(GATE_FILE))
    parser.add_argument("--l2", type=float, default=1.0)
    args = parser.parse_args(argv)
    settings = Settings(data_dir=Path(args.data_dir), models_dir=Path(args.models_dir))
    rows: list[list[float]] = []
    labels: list[int] = []
    for set_name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        if set_name in ("gold", "transfer-test"):
            print(f"refusé : {set_name} sert à mesurer, pas à calibrer", file=sys.stderr)
            return 2
        r, y, _ = collect(set_name, settings)
        rows += r
        labels += y
    x, y = np.array(rows), np.array(labels, dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    weights, bias = fit((x - mean) / scale, y, args.l2)
    model = GateModel(tuple(np.round(weights, 4)), round(bias, 4), tuple(np.round(mean, 4)),
                      tuple(np.round(scale, 4)), 0.5)
    probs = np.array([model.probability(Signals(*row)) for row in rows])
    threshold, balanced = choose_threshold(probs, y)
    note = (f"fitted by evals/calibrate_gate.py on {args.sets}: {int(y.sum())} answerable, "
            f"{int(len(y) - y.sum())} unanswerable questions; balanced accuracy {balanced:.3f} there")
    model = GateModel(model.weights, model.bias, model.mean, model.scale, round(threshold, 4), note)
    Path(args.out).write_text(json.dumps(model.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(model.to_json(), indent=1, ensure_ascii=False))
    return 0


__all__ = ["RecordingGate", "collect", "fit", "choose_threshold"]

if __name__ == "__main__":
    sys.exit(main())
