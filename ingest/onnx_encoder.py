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
    latin_tokenizer(model_dir)  # the question tokenizer's lighter half, written once
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
        self._latin: Any = None  # the tokenizer restricted to Latin-script pieces (latin_tokenizer)
        self._latin_ids: Any = None
        self._full: Any = None  # the whole tokenizer, loaded on the first text that needs it
        self._pad = 1
        self._max = MAX_TOKENS
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

        path = int8_path(self.model_dir)
        if not path.is_file():
            raise ExportError(f"encodeur int8 absent : {path} (lancez « seve prepare-model »)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._max = _max_tokens(self.model_dir)
        latin, ids = latin_tokenizer(self.model_dir)
        latin.enable_truncation(self._max)
        _small_word_cache(latin)
        self._latin, self._latin_ids = latin, ids
        self._pad = int(self._latin_ids[latin.token_to_id("<pad>")]) if latin.token_to_id("<pad>") is not None else 0
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
            rows = self._token_ids([prefix + texts[j] for j in part])
            width = max(len(r) for r in rows)
            ids = np.full((len(rows), width), self._pad, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, row in enumerate(rows):
                ids[r, :len(row)] = row
                mask[r, :len(row)] = 1
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[part] = pooled
        return out

    def _token_ids(self, texts: list[str]) -> list[np.ndarray]:
        """The model's token ids for each text (with <s> and </s>, truncated): by the Latin tokenizer when the
        normalized text has only Latin-script characters (the same ids, proven by the tests), else by the
        whole tokenizer."""
        normalizer = self._latin.normalizer
        rows: list[np.ndarray | None] = [None] * len(texts)
        latin = [i for i, t in enumerate(texts) if _is_latin(normalizer.normalize_str(t))]
        for i, encoding in zip(latin, self._latin.encode_batch([texts[i] for i in latin]), strict=True):
            rows[i] = self._latin_ids[np.asarray(encoding.ids, dtype=np.int64)]
        others = [i for i in range(len(texts)) if rows[i] is None]
        if others:
            full = self._whole_tokenizer()
            for i, encoding in zip(others, full.encode_batch([texts[i] for i in others]), strict=True):
                rows[i] = np.asarray(encoding.ids, dtype=np.int64)
        return rows  # type: ignore[return-value]

    def _whole_tokenizer(self) -> Any:
        with self._lock:
            if self._full is None:
                from tokenizers import Tokenizer

                full = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                full.enable_truncation(self._max)
                _small_word_cache(full)
                self._full = full
        return self._full

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "passage")

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for text (no specials, never truncated: the whole tokenizer, loaded on first
        use — only the ingest counts)."""
        self.warm_up()
        with self._lock:
            if self._counter is None:
                from tokenizers import Tokenizer

                counter = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                counter.no_truncation()
                counter.no_padding()
                _small_word_cache(counter)
                self._counter = counter
        return len(self._counter.encode(text, add_special_tokens=False).ids)


# Words whose pieces a tokenizer remembers. The library's default, 10,000, made a server's memory grow for
# 20 minutes as new words came (+7 MB, evals/soak.py); past the first words, Viterbi costs microseconds.
WORD_CACHE = 1000


def _small_word_cache(tokenizer: Any) -> None:
    resize = getattr(tokenizer.model, "_resize_cache", None)  # tokenizers >= 0.20
    if resize is not None:
        resize(WORD_CACHE)


LATIN_FILE = "tokenizer-latin.json"
LATIN_IDS_FILE = "tokenizer-latin-ids.npy"


def _latin_char(c: str) -> bool:
    o = ord(c)
    return o < 0x250 or 0x2000 <= o <= 0x20CF or o == 0x2581  # Latin scripts, punctuation, currencies, ▁


def _is_latin(text: str) -> bool:
    return text.isascii() or all(_latin_char(c) for c in text)


def latin_tokenizer(model_dir: Path) -> tuple[Any, np.ndarray]:
    """The tokenizer restricted to the pieces made only of Latin-script characters (110,000 of 250,002), and the
    model id of each of its ids. It needs 100 MB instead of 283. For a text whose normalized form has only such
    characters, Viterbi over the whole vocabulary can only use these pieces: the ids are the same. Written once
    beside the ONNX export."""
    from tokenizers import Tokenizer

    folder = Path(model_dir) / ONNX_DIR
    path, ids_path = folder / LATIN_FILE, folder / LATIN_IDS_FILE
    if not (path.is_file() and ids_path.is_file()):
        spec = json.loads((Path(model_dir) / "tokenizer.json").read_text(encoding="utf-8"))
        vocab = spec["model"]["vocab"]
        kept = [i for i, (piece, _) in enumerate(vocab) if all(_latin_char(c) for c in piece)]
        new_id = {old: new for new, old in enumerate(kept)}
        spec["model"]["vocab"] = [vocab[i] for i in kept]
        spec["model"]["unk_id"] = new_id[spec["model"]["unk_id"]]
        for token in spec.get("added_tokens", []):
            token["id"] = new_id[token["id"]]
        for special in (spec.get("post_processor") or {}).get("special_tokens", {}).values():
            special["ids"] = [new_id[i] for i in special["ids"]]
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        with open(ids_path.with_suffix(".tmp"), "wb") as handle:
            np.save(handle, np.asarray(kept, dtype=np.int64))
        os.replace(ids_path.with_suffix(".tmp"), ids_path)
        os.replace(tmp, path)
    return Tokenizer.from_file(str(path)), np.load(ids_path)


def _max_tokens(model_dir: Path) -> int:
    try:
        config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return int(config.get("max_seq_length") or MAX_TOKENS)
    except (OSError, ValueError):
        return MAX_TOKENS
