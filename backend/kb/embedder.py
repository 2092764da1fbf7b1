"""Sentence vectors for KB search, behind a small protocol so the KB works without them.

The real embedder is the numpy all-MiniLM-L6-v2 encoder in `backend.triage.embeddings`
(384-dimensional unit vectors). When it cannot load (model package missing, weights
unreadable) `load_embedder` logs why and returns None: import and search then run on full-text
and trigram evidence only, and the answer threshold for that mode applies (see
`backend.kb.config`). That is a degraded mode, not a silent one: `ImportResult` and
`SearchResult` say whether vectors were used.

Article and passage vectors are cached on disk by the importer (`embed_cached`), so
re-importing an unchanged KB computes nothing; query vectors are never cached on disk.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)

EMBEDDING_DIM = 384


class Embedder(Protocol):
    """Maps texts to unit vectors of EMBEDDING_DIM floats, in input order."""

    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class MiniLmEmbedder:
    """Adapter over `backend.triage.embeddings.SentenceEncoder` (no disk cache of its own: query
    texts are never written to disk; the importer caches article vectors, see `embed_cached`)."""

    name = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        from backend.triage.embeddings import SentenceEncoder

        self._encoder = SentenceEncoder()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._encoder.encode(list(texts))
        if vectors.shape != (len(texts), EMBEDDING_DIM):
            raise ValueError(f"embedder returned shape {vectors.shape}, expected ({len(texts)}, {EMBEDDING_DIM})")
        return [[float(value) for value in row] for row in vectors]


def embed_cached(embedder: Embedder, texts: Sequence[str], cache_dir: Path | None) -> list[list[float]]:
    """`embedder.embed(texts)`, reusing vectors stored under `cache_dir` by a previous import.

    Keys are sha256(embedder name + text): an edited passage is a new text and gets a new vector.
    The cache is read once and written once per call (the importer calls it once per import).
    A cache file that cannot be read is ignored and rewritten.
    """
    if cache_dir is None or not texts:
        return embedder.embed(texts)
    import hashlib

    import numpy as np

    path = cache_dir / f"{embedder.name}.npz"
    stored: dict[str, list[float]] = {}
    if path.exists():
        try:
            with np.load(path) as archive:
                stored = {str(key): list(map(float, row)) for key, row in zip(archive["keys"], archive["vectors"],
                                                                                strict=True)}
        except (OSError, ValueError, KeyError) as error:
            logger.warning("ignoring unreadable KB embedding cache %s (%s)", path, error)
    keys = [hashlib.sha256(f"{embedder.name}\x00{text}".encode()).hexdigest() for text in texts]
    missing = sorted({key: text for key, text in zip(keys, texts, strict=True) if key not in stored}.items())
    if missing:
        computed = embedder.embed([text for _, text in missing])
        # Stored as float32 (pgvector's precision too); returned the same way whether fresh or cached.
        rounded = np.asarray(computed, dtype=np.float32).tolist()
        stored.update({key: vector for (key, _), vector in zip(missing, rounded, strict=True)})
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npz")
        np.savez(temporary, keys=np.array(list(stored)), vectors=np.array(list(stored.values()), dtype=np.float32))
        temporary.replace(path)  # atomic: a concurrent reader sees the old or the new file
    return [stored[key] for key in keys]


_loaded: Embedder | None = None
_load_failed = False


def default_cache_dir() -> Path:
    from backend.settings import get_settings

    return get_settings().data_dir / "cache" / "kb-embeddings"


def load_embedder() -> Embedder | None:
    """The process's embedder, or None (logged once) when the model cannot be loaded."""
    global _loaded, _load_failed
    if _loaded is not None:
        return _loaded
    if _load_failed:
        return None
    try:
        _loaded = MiniLmEmbedder()
    except Exception as error:  # any load failure means "no vectors", never a crash of the KB
        _load_failed = True
        logger.warning("KB search runs without sentence vectors: the embedder failed to load (%s)", error)
        return None
    return _loaded


def vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text input form, '[0.1,0.2,...]' (pgvector README, "Storing")."""
    return "[" + ",".join(f"{value:.7g}" for value in vector) + "]"
