"""The evaluation CI runs: the default configuration on the gold set and on both transfer sets (web pages
and PDF text that nobody tuned for) must stay above their floors.

The floors in evals/floors.json are measured values minus a small margin (see that file), not wishes.
"""

import json
from pathlib import Path

import pytest

from assistant.settings import Settings
from evals.harness import FLOORS, SETS, check_floors, run_sets

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_default_configuration_stays_above_its_floors_on_every_set(converted_model_dir):
    index_dir = Path(__file__).resolve().parents[1] / ".seve" / "eval-ci"
    settings = Settings(data_dir=index_dir, models_dir=converted_model_dir.parent)
    run = run_sets(list(SETS), settings, ["default"])
    floors = json.loads(FLOORS.read_text(encoding="utf-8"))
    print(json.dumps(run.summaries, indent=1))
    assert {name.rsplit("[", 1)[1].rstrip("]") for name in run.summaries} == set(SETS)
    assert check_floors(run.summaries, floors) == []
