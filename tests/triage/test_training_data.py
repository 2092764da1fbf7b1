"""The written training examples are not copied from the dev mailbox (which is for evaluation).

A copied or lightly edited sentence shares a long run of words, or embeds almost identically;
topical closeness (same category) is expected and allowed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from backend.triage.embeddings import shared_encoder
from backend.triage.labelled import load_labelled_mailbox
from backend.triage.model import load_written_examples
from backend.triage.units import split_units

SHINGLE = 8


def shingles(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def test_written_examples_do_not_copy_dev_mail(shared_dir: Path) -> None:
    emails = load_labelled_mailbox(shared_dir / "data" / "mailbox-dev")
    dev_texts = [unit.text for email in emails for unit in split_units(email.text).units]
    dev_texts += [request.summary for email in emails for request in email.requests]
    dev_shingles = set().union(*(shingles(text) for text in dev_texts))
    written = load_written_examples(include_dev=False)
    copied = [e.text for e in written if shingles(e.text) & dev_shingles]
    assert copied == []
    encoder = shared_encoder()
    similarity = encoder.encode([e.text for e in written]) @ encoder.encode(dev_texts).T
    near = [written[i].text for i in np.flatnonzero(similarity.max(axis=1) >= 0.92)]
    assert near == []
