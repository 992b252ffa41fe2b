"""End to end with the real converted model: the seeds in, cited answers and refusals out."""

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.factory import make_assistant, make_ingestor
from assistant.settings import Settings
from ingest.onnx_encoder import OnnxEmbedder

pytestmark = pytest.mark.integration
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
MINI = Path(__file__).parent / "data" / "mini"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, real_embedder):
    data = tmp_path_factory.mktemp("e2e")
    settings = Settings(data_dir=data, models_dir=real_embedder_dir(real_embedder))
    report = make_ingestor(settings, real_embedder).ingest([SEEDS, MINI]).as_dict()
    assert report["errors"] == [] and report["documents"] == 6
    return settings


def real_embedder_dir(embedder: OnnxEmbedder) -> Path:
    return Path(embedder.name).parent


@pytest.fixture(scope="module")
def assistant(seeded, real_embedder):
    return make_assistant(seeded, real_embedder)


@pytest.mark.parametrize("question, fact, source", [
    ("Quelle part des Français souhaite que le devoir d'alliance devienne une envie d'alliance ?", "81%",
     "000_5bc0c3d86cb44e20.txt"),
    ("Quand le rapport de la mission sur les alliances stratégiques a-t-il été remis au ministre ?", "20 mai 2020",
     "000_5bc0c3d86cb44e20.txt"),
    ("Sur combien de piliers repose la méthode de valorisation des dynamiques collectives ?", "4 piliers",
     "002_c7ae7d688703e1e4.txt 000_5bc0c3d86cb44e20.txt"),  # both seeds state it
    ("Quel pourcentage du coût des heures de mécénat de compétences une entreprise peut-elle déduire ?", "60 %",
     "mecenat.md"),
])
def test_fact_from_a_seed_is_answered_and_cited(assistant, question, fact, source):
    answer = assistant.chat(question)
    assert answer.grounded, answer.answer
    assert fact in answer.answer, answer.answer
    cited = [c for c in answer.citations if fact in c.chunk.text]
    assert cited and Path(cited[0].chunk.metadata["path"]).name in source.split()
    assert f"[{cited[0].n}]" in answer.answer


@pytest.mark.parametrize("question", [
    "Quelle est la meilleure recette de crêpes bretonnes ?",
    "Qui a gagné la coupe du monde de football en 1998 ?",
    "Comment changer la batterie d'un iPhone ?",
])
def test_off_topic_is_refused(assistant, question):
    answer = assistant.chat(question)
    assert not answer.grounded and answer.answer.startswith("Je ne trouve pas"), answer.answer


def test_follow_up_is_condensed(assistant):
    history = [{"role": "user", "content": "Parle-moi des jardins partagés du quartier des Tilleuls"},
               {"role": "assistant", "content": "Une commune et une association créent douze jardins partagés. [1]"}]
    answer = assistant.chat("Combien de familles y participent ?", history)
    assert answer.grounded and "45 familles" in answer.answer, answer.answer


def test_full_app_serves_api_and_gradio(seeded, assistant):
    from ui.server import create_app

    app = create_app(lambda: assistant)
    with TestClient(app) as client:
        assert client.get("/api/health").json()["documents"] == 6
        body = client.post("/api/chat", json={"message": "Que signifie l'ODD 17 ?"}).json()
        assert body["grounded"] and body["citations"]
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert client.get("/docs").status_code == 200


def test_reingest_is_incremental(seeded, real_embedder, tmp_path):
    corpus = tmp_path / "c"
    shutil.copytree(MINI, corpus)
    settings = Settings(data_dir=tmp_path / "d", models_dir=seeded.models_dir)
    ing = make_ingestor(settings, real_embedder)
    assert ing.ingest([corpus]).chunks_added > 0
    again = ing.ingest([corpus]).as_dict()
    assert again["chunks_added"] == 0 and again["unchanged"] == 4


def test_token_counts_are_not_capped_after_encoding(real_embedder):
    long_text = "Les alliances territoriales créent de la valeur partagée. " * 200
    real_embedder.embed_passages([long_text])  # encode() enables truncation in the model's own tokenizer
    assert real_embedder.count_tokens(long_text) > 1500
