"""The quick evaluation CI runs: the default configuration on the gold set must stay above its floors.

The floors in evals/floors.json are measured values minus a small margin (see that file), not wishes.
"""

import json
from pathlib import Path

import pytest

from assistant.settings import Settings
from evals.harness import DEFAULT_CORPUS, DEFAULT_GOLD, FLOORS, check_floors, run_eval

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_default_configuration_stays_above_its_floors(converted_model_dir, tmp_path_factory):
    index_dir = Path(__file__).resolve().parents[1] / ".seve" / "eval-ci"
    settings = Settings(data_dir=index_dir, models_dir=converted_model_dir.parent)
    run = run_eval(DEFAULT_GOLD, DEFAULT_CORPUS, settings, ["default"])
    floors = json.loads(FLOORS.read_text(encoding="utf-8"))
    summary = next(iter(run.summaries.values()))
    print(json.dumps(summary, indent=1))
    assert check_floors(run.summaries, floors) == []
