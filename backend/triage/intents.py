"""Intent-classification benchmark for the local model's learning machinery.

`evaluate_intents(train_csv, test_csv)` trains the same text classifier the triage category
head uses (`features.TextClassifier` with `model.HeadConfigs().category`: word + char TF-IDF
and the MiniLM embedding into a logistic regression) on a CSV with columns `text,category`
and scores it on another. Public intent sets (BANKING77, CLINC150) let us compare the
machinery with published numbers; the data stays in ../shared/external and is only read.

Command line (heavy: embeds ~13k sentences the first time, cached afterwards):

    python -m backend.triage.intents ../shared/external/intents/banking77/banking_data/train.csv \
        ../shared/external/intents/banking77/banking_data/test.csv

Failures: a CSV without `text` / `category` columns is ours to fix and raises ValueError.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sklearn.metrics import accuracy_score, f1_score

from backend.triage.embeddings import SentenceEncoder, default_embedding_cache_dir
from backend.triage.features import TextClassifier, TextClassifierConfig
from backend.triage.model import HeadConfigs


def read_intent_csv(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"text", "category"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected columns text,category, got {reader.fieldnames}")
        rows = [(row["text"], row["category"]) for row in reader if row["text"].strip()]
    return [text for text, _ in rows], [label for _, label in rows]


def evaluate_intents(train_csv: Path, test_csv: Path, *, config: TextClassifierConfig | None = None,
                     encoder: SentenceEncoder | None = None) -> dict[str, Any]:
    """Train on `train_csv`, score on `test_csv`. `train_seconds` covers everything training
    needs: embedding the training texts (unless cached from an earlier run) and fitting;
    `embed_seconds` and `fit_seconds` split it."""
    config = config or HeadConfigs().category
    if encoder is None:
        cache = default_embedding_cache_dir()
        encoder = SentenceEncoder(cache_dir=cache / "intents" if cache else None)
    train_texts, train_labels = read_intent_csv(train_csv)
    test_texts, test_labels = read_intent_csv(test_csv)
    started = time.perf_counter()
    train_vectors = encoder.encode(train_texts, batch_size=64) if config.use_embeddings else None
    embedded = time.perf_counter()
    classifier = TextClassifier(config, encoder if config.use_embeddings else None)
    classifier.fit(train_texts, train_labels, embeddings=train_vectors)
    fitted = time.perf_counter()
    test_vectors = encoder.encode(test_texts, batch_size=64) if config.use_embeddings else None
    encoder.flush()
    predicted = classifier.predict(test_texts, embeddings=test_vectors)
    return {
        "accuracy": round(float(accuracy_score(test_labels, predicted)), 4),
        "macro_f1": round(float(f1_score(test_labels, predicted, average="macro")), 4),
        "train_seconds": round(fitted - started, 2),
        "embed_seconds": round(embedded - started, 2),
        "fit_seconds": round(fitted - embedded, 2),
        "train_examples": len(train_texts),
        "test_examples": len(test_texts),
        "classes": len(set(train_labels)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Intent benchmark of the local triage classifier.")
    parser.add_argument("train_csv", type=Path)
    parser.add_argument("test_csv", type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(evaluate_intents(args.train_csv, args.test_csv), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
