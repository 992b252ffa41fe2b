"""The int8 ONNX query encoder: prepared once, close to the torch encoder, and serving never loads torch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.factory import make_embedder
from assistant.settings import Settings
from ingest.embedding import SentenceTransformerEmbedder
from ingest.onnx_encoder import MARKER, ONNX_DIR, OnnxEmbedder, export_int8, int8_path, is_exported

pytestmark = pytest.mark.integration
MINI = Path(__file__).parent / "data" / "mini"
QUESTIONS = ["Qu'est-ce que le mécénat de compétences ?", "Combien de cibles compte l'ODD 17 ?",
             "Des jardins partagés en Bretagne ?", "Comment une fondation soutient-elle une alliance locale ?",
             "une recette de crêpes"]
PASSAGES = ["Le mécénat de compétences met des salariés à la disposition d'une association.",
            "L'objectif 17 compte 19 cibles consacrées aux partenariats.",
            "À Rennes, un jardin partagé réunit habitants, bailleur et association de quartier.",
            "Une fondation finance la coordination d'une alliance territoriale sur trois ans.",
            "La galette bretonne se prépare avec de la farine de sarrasin."]


@pytest.fixture(scope="module")
def torch_embedder(converted_model_dir):
    return SentenceTransformerEmbedder(converted_model_dir).warm_up()


def test_prepared_once_with_a_marker(converted_model_dir):
    assert is_exported(converted_model_dir)
    marker = json.loads((converted_model_dir / ONNX_DIR / MARKER).read_text(encoding="utf-8"))
    assert marker["weights"].startswith("int8")
    before = int8_path(converted_model_dir).stat().st_mtime_ns
    assert export_int8(converted_model_dir) == int8_path(converted_model_dir)  # a no-op when done
    assert int8_path(converted_model_dir).stat().st_mtime_ns == before
    assert int8_path(converted_model_dir).stat().st_size < 160e6  # int8: about a quarter of the fp32 weights


def test_vectors_are_close_to_torch_and_rank_alike(real_embedder, torch_embedder):
    assert isinstance(real_embedder, OnnxEmbedder)
    q8, q32 = real_embedder.embed_queries(QUESTIONS), torch_embedder.embed_queries(QUESTIONS)
    p8, p32 = real_embedder.embed_passages(PASSAGES), torch_embedder.embed_passages(PASSAGES)
    assert np.allclose(np.linalg.norm(q8, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(q8 * q32, axis=1))) > 0.98
    assert float(np.min(np.sum(p8 * p32, axis=1))) > 0.98
    # int8 questions against fp32 passages (the default index) rank as torch does
    assert list(np.argmax(q8 @ p32.T, axis=1)) == list(np.argmax(q32 @ p32.T, axis=1))
    # a text's vector barely depends on the batch it is padded in
    alone = real_embedder.embed_passages([PASSAGES[1]])[0]
    padded = real_embedder.embed_passages([PASSAGES[1], " ".join(PASSAGES) * 3])[0]
    assert float(alone @ padded) > 0.99


def test_token_counts_match_and_are_never_truncated(real_embedder, torch_embedder):
    for text in PASSAGES:
        assert real_embedder.count_tokens(text) == torch_embedder.count_tokens(text)
    long_text = " ".join(PASSAGES) * 40
    real_embedder.embed_passages([long_text])
    assert real_embedder.count_tokens(long_text) == torch_embedder.count_tokens(long_text) > 512


def test_settings_choose_the_encoder_per_role(converted_model_dir, tmp_path):
    settings = Settings(data_dir=tmp_path, models_dir=converted_model_dir.parent)
    assert isinstance(make_embedder(settings), OnnxEmbedder)  # questions
    assert isinstance(make_embedder(settings, "passage"), SentenceTransformerEmbedder)  # the ingest (default)
    fast = settings.model_copy(update={"passage_encoder": "onnx-int8"})
    assert isinstance(make_embedder(fast, "passage"), OnnxEmbedder)
    torch_only = settings.model_copy(update={"encoder": "torch"})
    assert isinstance(make_embedder(torch_only), SentenceTransformerEmbedder)


def test_answering_with_the_default_encoder_never_imports_torch(converted_model_dir, tmp_path):
    env = {**os.environ, "SEVE_DATA_DIR": str(tmp_path / "d"), "SEVE_MODELS_DIR": str(converted_model_dir.parent)}
    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(MINI)], env=env, check=True,
                   capture_output=True)
    code = ("import sys; from assistant.factory import make_assistant; from assistant.settings import Settings; "
            "a = make_assistant(Settings()).warm_up(); r = a.chat(\"Qu'est-ce que le mécénat de compétences ?\"); "
            "print(r.grounded, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    assert out.stdout.split() == ["True", "False", "False"]


def test_the_latin_tokenizer_gives_the_ids_of_the_whole_one(real_embedder, converted_model_dir):
    """Questions are tokenized by the tokenizer restricted to Latin-script pieces (100 MB instead of 283) when
    their normalized text allows it, by the whole one otherwise: the ids are always those of tokenizer.json."""
    import random

    from tokenizers import Tokenizer

    from ingest.onnx_encoder import LATIN_FILE, _is_latin

    assert (converted_model_dir / ONNX_DIR / LATIN_FILE).is_file()
    whole = Tokenizer.from_file(str(converted_model_dir / "tokenizer.json"))
    whole.enable_truncation(512)
    rng = random.Random(0)
    alphabet = [chr(c) for c in list(range(0x20, 0x250)) + list(range(0x2000, 0x20D0))]
    texts = QUESTIONS + PASSAGES + ["query: " + q for q in QUESTIONS] + [
        "  deux  espaces", "½ µ ﬁ", "Œuvre « citée » – 3 € …", "\u0000x\u200b", "", "Привет, мир", "日本語のテキスト",
        "Un emoji 👍 au milieu", "Ǆ ǅ ǆ ẞ ß", " ".join(PASSAGES) * 20]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 50))) for _ in range(2000)]
    rows = real_embedder._token_ids(texts)
    routed = sum(_is_latin(real_embedder._latin.normalizer.normalize_str(t)) for t in texts)
    assert 0 < routed < len(texts)  # both paths are exercised
    assert [list(r) for r in rows] == [whole.encode(t).ids for t in texts]
