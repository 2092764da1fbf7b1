"""The intent benchmark runs the same machinery on a text,category CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.triage.embeddings import SentenceEncoder
from backend.triage.intents import evaluate_intents

ROWS = {
    "card_lost": ["I lost my card", "my card is missing", "can't find my bank card", "card was stolen",
                  "someone took my card", "I misplaced my debit card"],
    "balance": ["what is my balance", "how much money do I have", "show my account balance",
                "check balance please", "balance inquiry", "how much is left in my account"],
    "transfer": ["send money to my friend", "transfer funds to savings", "how do I wire money",
                 "move money between accounts", "make a transfer", "pay my brother back"],
}


def write(path: Path, rows: dict[str, list[str]]) -> Path:
    lines = ["text,category"] + [f'"{text}",{label}' for label, texts in rows.items() for text in texts]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_evaluate_intents_on_a_tiny_set(tmp_path: Path) -> None:
    train = write(tmp_path / "train.csv", {label: texts[:4] for label, texts in ROWS.items()})
    test = write(tmp_path / "test.csv", {label: texts[4:] for label, texts in ROWS.items()})
    result = evaluate_intents(train, test, encoder=SentenceEncoder(cache_dir=None))
    assert set(result) >= {"accuracy", "macro_f1", "train_seconds"}
    assert result["classes"] == 3 and result["test_examples"] == 6
    assert result["accuracy"] >= 0.5  # far above chance (1/3) even with four examples per class


def test_wrong_columns_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,label\nhello,greet\n")
    with pytest.raises(ValueError, match="text,category"):
        evaluate_intents(bad, bad, encoder=SentenceEncoder(cache_dir=None))
