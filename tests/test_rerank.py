"""Reranking with a real (tiny) CrossEncoder that the test builds and trains for a few seconds."""

import random

import pytest

from index.rerank import CrossEncoderReranker
from index.store import ScoredChunk

WORDS = ["jardin", "ecole", "sante", "energie", "sport", "logement", "culture", "emploi", "velo", "musee",
         "ferme", "eolien", "medecin", "theatre", "habitat", "insertion"]


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    """A 1-layer BERT cross-encoder, trained for a few seconds to score passages about « jardin » high."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {w: i for i, w in enumerate(specials + WORDS + ["le", "la", "un", "projet", "de"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                                   pad_token="[PAD]", mask_token="[MASK]")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=1, max_position_embeddings=64, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(config)
    rng = random.Random(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    other = [w for w in WORDS if w != "jardin"]
    for _ in range(200):
        pairs, labels = [], []
        for _ in range(32):
            positive = rng.random() < 0.5
            passage = rng.sample(other, 3) + (["jardin"] if positive else [rng.choice(other)])  # same length
            rng.shuffle(passage)
            pairs.append(("projet de jardin", " ".join(passage)))
            labels.append(1.0 if positive else 0.0)
        batch = fast([p[0] for p in pairs], [p[1] for p in pairs], padding=True, return_tensors="pt")
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(**batch).logits.squeeze(-1),
                                                                    torch.tensor(labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    folder = tmp_path_factory.mktemp("tiny-ce")
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return str(folder)


def hit(i, text, score):
    return ScoredChunk(f"c{i}", f"d{i}", text, 0, len(text), score, {})


def test_reranker_promotes_the_passage_that_answers(tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder, candidates=3)
    hits = [hit(0, "sport culture velo musee", 0.9), hit(1, "emploi ferme theatre habitat", 0.8),
            hit(2, "velo eolien jardin sante", 0.7), hit(3, "jardin ecole", 0.6)]
    ranked = reranker.rerank("projet de jardin", hits, k=2)
    assert ranked[0].chunk_id == "c2"
    assert len(ranked) == 2 and "c3" not in {h.chunk_id for h in ranked}  # only the first `candidates` are read
    scores = reranker.scores("projet de jardin", [h.text for h in hits[:3]])
    assert ranked[0].score == pytest.approx(max(scores))


def test_assistant_uses_the_configured_reranker(tiny_cross_encoder, tmp_path):
    import shutil
    from pathlib import Path

    from assistant.service import Assistant
    from assistant.settings import Settings
    from tests.fakes import FAKE_THRESHOLD, make_ingestor

    shutil.copytree(Path(__file__).parent / "data" / "mini", tmp_path / "c")
    ing = make_ingestor(tmp_path / "d")
    ing.ingest([tmp_path / "c"])
    calls = []
    reranker = CrossEncoderReranker(tiny_cross_encoder, candidates=5)
    original = reranker.rerank
    reranker.rerank = lambda q, h, k: calls.append(len(h)) or original(q, h, k)
    settings = Settings(data_dir=tmp_path / "d", refusal_threshold=FAKE_THRESHOLD, reranker=tiny_cross_encoder)
    assistant = Assistant(settings, ing.embedder, ing.store.vector, ing.store.lexical, reranker).warm_up()
    results = assistant.search("jardins partagés", k=2)
    assert calls and len(results) <= 2
