"""The int8 ONNX encoder: the converted e5-small exported with `torch.onnx.export`, its weights quantized to int8
by onnxruntime's `quantize_dynamic`, and run by onnxruntime with the model's own `tokenizers` tokenizer.

`seve prepare-model` writes `onnx/model-int8.onnx` into the model folder (once; a marker records the export).
Serving with it never imports torch nor sentence-transformers: start-up is faster and the process is about
0.6 GB smaller. Pooling (mean over tokens) and prompts (« query: », « passage: ») are the folder's own, as
sentence-transformers applies them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

ONNX_DIR = "onnx"
INT8_FILE = "model-int8.onnx"
MARKER = "export.json"
EXPORT_VERSION = "1"
MAX_TOKENS = 512


class ExportError(RuntimeError):
    """The model folder cannot be exported to ONNX."""


def int8_path(model_dir: Path) -> Path:
    return Path(model_dir) / ONNX_DIR / INT8_FILE


def is_exported(model_dir: Path) -> bool:
    marker = Path(model_dir) / ONNX_DIR / MARKER
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("version") == EXPORT_VERSION and int8_path(model_dir).is_file()


def export_int8(model_dir: Path, *, force: bool = False) -> Path:
    """Export the folder's BERT to ONNX (fp32), quantize it to int8 and write `onnx/model-int8.onnx` (atomic)."""
    model_dir = Path(model_dir)
    if is_exported(model_dir) and not force:
        return int8_path(model_dir)
    import logging
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    from ingest.embedding import quiet_transformers

    quiet_transformers()
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # quantize_dynamic's advice

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class _Keywords(torch.nn.Module):  # BERT's forward must be called with keywords
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=torch.zeros_like(input_ids)).last_hidden_state

    target = model_dir / ONNX_DIR
    work = Path(tempfile.mkdtemp(prefix=".onnx-", dir=model_dir))
    try:
        fp32 = work / "model.onnx"
        # a padded row in the example: a mask of all ones would let the trace drop the mask altogether
        ids = torch.full((2, 8), 5, dtype=torch.long)
        mask = torch.ones_like(ids)
        mask[1, 5:] = 0
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Keywords(model), (ids, mask), str(fp32),
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"},
                                            "last_hidden_state": {0: "batch", 1: "tokens"}},
                              opset_version=17, dynamo=False)
        quantize_dynamic(str(fp32), str(work / INT8_FILE), weight_type=QuantType.QInt8, per_channel=True)
        fp32.unlink()
        (work / MARKER).write_text(json.dumps({"version": EXPORT_VERSION, "weights": "int8 (dynamic)",
                                               "torch": torch.__version__}, indent=2), encoding="utf-8")
        work.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    except Exception as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise ExportError(f"export ONNX impossible : {exc}") from exc
    return int8_path(model_dir)


class OnnxEmbedder:
    """Embedder protocol (ingest.embedding.Embedder) on the int8 ONNX export, without torch."""

    def __init__(self, model_dir: str | Path, *, name: str | None = None, batch_size: int = 32,
                 threads: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.name = name or str(model_dir)
        self.batch_size = batch_size
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._counter: Any = None
        self._prompts: dict[str, str] = {}
        self._dim = 0
        self._lock = threading.Lock()

    def warm_up(self) -> OnnxEmbedder:
        with self._lock:
            if self._session is None:
                self._load()
        return self

    def _load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = int8_path(self.model_dir)
        if not path.is_file():
            raise ExportError(f"encodeur int8 absent : {path} (lancez « seve prepare-model »)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        limit = _max_tokens(self.model_dir)
        tokenizer.enable_truncation(limit)
        pad = tokenizer.token_to_id("<pad>")
        tokenizer.enable_padding(pad_id=pad if pad is not None else 0, pad_token="<pad>")
        self._tokenizer, self._max = tokenizer, limit
        config = self.model_dir / "config_sentence_transformers.json"
        self._prompts = json.loads(config.read_text(encoding="utf-8")).get("prompts", {}) if config.is_file() else {}

    @property
    def dim(self) -> int:
        if not self._dim:  # from the config: no need to load the model for it
            self._dim = int(json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))["hidden_size"])
        return self._dim

    @property
    def max_tokens(self) -> int:
        self.warm_up()
        return int(self._max)

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self._prompts.get(prompt, "")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # similar lengths together: less padding per batch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for i in range(0, len(order), self.batch_size):
            part = order[i:i + self.batch_size]
            encodings = self._tokenizer.encode_batch([prefix + texts[j] for j in part])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[part] = pooled
        return out

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "passage")

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for text (no specials, never truncated: a private copy of the tokenizer,
        made on first use — only the ingest counts)."""
        self.warm_up()
        with self._lock:
            if self._counter is None:
                from tokenizers import Tokenizer

                counter = Tokenizer.from_str(self._tokenizer.to_str())
                counter.no_truncation()
                counter.no_padding()
                self._counter = counter
        return len(self._counter.encode(text, add_special_tokens=False).ids)


def _max_tokens(model_dir: Path) -> int:
    try:
        config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return int(config.get("max_seq_length") or MAX_TOKENS)
    except (OSError, ValueError):
        return MAX_TOKENS
