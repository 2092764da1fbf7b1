"""Sentence vectors for KB search, behind a small protocol so the KB works without them.

The real embedder is the numpy all-MiniLM-L6-v2 encoder in `backend.triage.embeddings`
(384-dimensional unit vectors). When it cannot load (model package missing, weights
unreadable) `load_embedder` logs why and returns None: import and search then run on full-text
and trigram evidence only, and the answer threshold for that mode applies (see
`backend.kb.config`). That is a degraded mode, not a silent one: `ImportResult` and
`SearchResult` say whether vectors were used.
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
    """Adapter over `backend.triage.embeddings.SentenceEncoder`.

    With `cache_dir`, vectors are kept on disk keyed by the text's hash (and the weights'), so
    re-importing an unchanged KB or re-running a query set does not recompute them; an edited
    passage is a new text and gets a new vector.
    """

    name = "all-MiniLM-L6-v2"

    def __init__(self, cache_dir: Path | None = None) -> None:
        from backend.triage.embeddings import SentenceEncoder

        self._encoder = SentenceEncoder(cache_dir=cache_dir)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._encoder.encode(list(texts))
        if vectors.shape != (len(texts), EMBEDDING_DIM):
            raise ValueError(f"embedder returned shape {vectors.shape}, expected ({len(texts)}, {EMBEDDING_DIM})")
        return [[float(value) for value in row] for row in vectors]


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
        _loaded = MiniLmEmbedder(cache_dir=default_cache_dir())
    except Exception as error:  # any load failure means "no vectors", never a crash of the KB
        _load_failed = True
        logger.warning("KB search runs without sentence vectors: the embedder failed to load (%s)", error)
        return None
    return _loaded


def vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text input form, '[0.1,0.2,...]' (pgvector README, "Storing")."""
    return "[" + ",".join(f"{value:.7g}" for value in vector) + "]"
