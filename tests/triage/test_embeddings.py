"""The numpy MiniLM encoder: unit vectors, deterministic, batch-independent, meaningful."""

from __future__ import annotations

import numpy as np
import pytest

from backend.triage.embeddings import EMBEDDING_DIM, SentenceEncoder


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(cache_dir=None)


def test_vectors_are_unit_length_and_384_wide(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode(["Pam is not answering calls.", "How do I export my invoices?"])
    assert vectors.shape == (2, EMBEDDING_DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_same_text_gives_the_same_vector_across_encoders(encoder: SentenceEncoder) -> None:
    fresh = SentenceEncoder(cache_dir=None)
    text = "Our CDK sync has been failing since the weekend."
    assert np.allclose(encoder.encode([text]), fresh.encode([text]), atol=1e-6)


def test_a_batch_equals_one_text_at_a_time() -> None:
    texts = ["Short one.", "A much longer sentence about appointments that never reached the DMS schedule board.",
             "Password reset email never arrives", "¿Cómo cambio el horario de Pam?"]
    batched = SentenceEncoder(cache_dir=None).encode(texts)
    single = np.stack([SentenceEncoder(cache_dir=None).encode([text])[0] for text in texts])
    assert np.allclose(batched, single, atol=1e-5)


def test_paraphrases_are_closer_than_unrelated_sentences(encoder: SentenceEncoder) -> None:
    a, b, c, d = encoder.encode([
        "Our AI assistant stopped answering calls today.",
        "Our phones are not being answered by the assistant.",
        "Please send a copy of last month's invoice to our accountant.",
        "Can you email our controller the September bill?",
    ])
    assert a @ b > a @ c + 0.2
    assert c @ d > c @ a + 0.2
    assert a @ b > 0.4


def test_disk_cache_round_trip(tmp_path) -> None:
    first = SentenceEncoder(cache_dir=tmp_path)
    vector = first.encode(["cache me"])
    first.flush()
    assert list(tmp_path.glob("minilm-*.npz"))
    second = SentenceEncoder(cache_dir=tmp_path)
    second._compute = None  # type: ignore[assignment,method-assign]  # must come from disk, not compute
    assert np.allclose(second.encode(["cache me"]), vector)


def test_memory_is_bounded() -> None:
    encoder = SentenceEncoder(cache_dir=None)
    encoder.max_memory = 3
    encoder.encode(["one", "two", "three", "four", "five"])
    assert len(encoder._memory) == 3
    assert np.allclose(np.linalg.norm(encoder.encode(["one"]), axis=1), 1.0)  # recomputed when needed
