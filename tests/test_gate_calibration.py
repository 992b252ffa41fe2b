"""The gate's calibration math (evals/calibrate_gate.py): a real logistic fit and the threshold rule."""

import numpy as np

from evals.calibrate_gate import choose_threshold, fit


def test_logistic_fit_learns_the_direction_of_each_signal():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, 2))
    y = (1.5 * x[:, 0] - 1.0 * x[:, 1] + rng.normal(scale=0.5, size=400) > 0).astype(float)
    weights, bias = fit(x, y, l2=1.0)
    assert weights[0] > 0.5 and weights[1] < -0.3 and abs(bias) < 0.5
    p = 1 / (1 + np.exp(-(x @ weights + bias)))
    assert ((p >= 0.5) == (y == 1)).mean() > 0.85


def test_threshold_refuses_at_most_the_allowed_share_of_answerable_questions():
    p = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.35, 0.25, 0.15, 0.1])
    y = np.array([1] * 10 + [0] * 4, dtype=float)
    threshold, false_refusals, recall = choose_threshold(p, y, max_false_refusals=0.1)
    assert false_refusals <= 0.1 and (p[y == 1] < threshold).sum() == 1
    assert recall == (p[y == 0] < threshold).mean() and recall >= 0.5


def test_off_topic_rule_is_the_highest_floor_within_its_false_refusal_budget():
    from assistant.gate import FEATURES, GateModel, Signals
    from evals.calibrate_gate import choose_off_topic

    x = np.zeros((8, len(FEATURES)))
    dense, focus = FEATURES.index("dense"), FEATURES.index("focus_cover")
    x[:, dense] = [0.80, 0.82, 0.84, 0.86, 0.88, 0.90, 0.81, 0.83]
    x[:, focus] = [0.2, 1.0, 0.4, 0.5, 0.3, 0.1, 0.0, 0.25]
    y = np.array([1, 1, 1, 1, 1, 1, 0, 0], dtype=float)
    floor, cover = choose_off_topic(x, y, max_false_refusals=1 / 6)
    refused = (x[:, dense] < floor) & (x[:, focus] <= cover)
    assert refused[y == 1].sum() == 1 and refused[y == 0].all()
    gate = GateModel((0.0,) * len(FEATURES), 5.0, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), 0.5,
                     far_dense=floor, far_focus=cover)
    assert not gate.answerable(Signals(0.80, 0.9, 0.5, 0.2, 0.2, 1.0, 0.0, 1.0))
    assert gate.answerable(Signals(0.80, 0.9, 0.9, 0.9, 0.9, 1.0, 0.0, 1.0))  # far, but the quote fits
    near_floor = Signals(floor - 0.01, 0.9, 0.5, 0.2, 0.2, 1.0, 0.0, 1.0)
    assert not gate.answerable(near_floor) and gate.answerable(near_floor, cross_lingual=True)
    assert GateModel.from_json(gate.to_json()).far_dense == floor
