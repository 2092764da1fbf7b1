"""Experiment: does fine-tuning the sentence encoder lift 5-fold triage accuracy? (issue 4 evidence)

The shipped local model keeps all-MiniLM-L6-v2 frozen and trains small heads on its embeddings.
This script fine-tunes the encoder itself, SetFit-style (batch-all triplet loss on the request
categories of the training examples), once per outer fold, and then runs exactly the 5-fold
evaluation of `tier0 eval triage --kfold` (same folds, same heads, same policy step) with the
fine-tuned encoder in place of the frozen one. Nothing of it ships: it needs torch and
sentence-transformers, which are not tier0 dependencies, so run it from a separate venv that also
has tier0 installed:

    python3.11 -m venv /tmp/ftvenv
    /tmp/ftvenv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu  # or any CPU wheel
    /tmp/ftvenv/bin/pip install sentence-transformers -e .
    /tmp/ftvenv/bin/python benchmarks/encoder_finetune.py --work /tmp/ft --epochs 2 --margin 0.5

Each fold takes about 80 s per epoch on the shared 2-core machine. Results are in
docs/results-triage.md ("Why not 0.90").
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

from backend.triage.embeddings import SentenceEncoder, default_model_dir
from backend.triage.evaluate import _decide, _policy_labels, compute_metrics, conversation_folds, run_classifier
from backend.triage.labelled import load_labelled_mailbox, training_examples_from_emails
from backend.triage.local import LocalClassifier
from backend.triage.model import TrainingExample, load_written_examples, train

DEFAULT_MAILBOX = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mailbox-dev"
REPORTED = ("request_recall", "ticket_precision", "category_accuracy", "product_area_accuracy",
            "route_accuracy", "multi_request_exact_split", "top3_category_accuracy")


def fine_tune(examples: list[TrainingExample], out_dir: Path, *, epochs: int, margin: float,
              learning_rate: float = 2e-5, batch_size: int = 32) -> None:
    """Fine-tune the MiniLM weights on the request examples' categories and save them to out_dir."""
    import torch  # not a tier0 dependency: imported here so the module reads without it
    from sentence_transformers import SentenceTransformer, losses

    requests = [e for e in examples if e.role == "request"]
    names = sorted({e.category for e in requests})
    labels = [names.index(e.category) for e in requests]
    torch.manual_seed(0)
    shuffle = random.Random(0)
    model = SentenceTransformer(str(default_model_dir()), device="cpu")
    model.max_seq_length = 128  # the shipped encoder's own limit
    loss = losses.BatchAllTripletLoss(model, margin=margin)
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    order = list(range(len(requests)))
    for _ in range(epochs):
        shuffle.shuffle(order)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            features = model.tokenize([requests[i].text for i in batch])
            value = loss([features], torch.tensor([labels[i] for i in batch]))
            optimiser.zero_grad()
            value.backward()
            optimiser.step()
    model.save(str(out_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mailbox", type=Path, default=DEFAULT_MAILBOX)
    parser.add_argument("--work", type=Path, required=True, help="folder for the fine-tuned encoders")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--margin", type=float, default=0.5)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    emails = load_labelled_mailbox(args.mailbox)
    written = load_written_examples(include_dev=False)
    groups = conversation_folds(emails, args.folds)
    categories, areas = _policy_labels()
    results: list[Any] = []
    for fold, held_out in enumerate(groups):
        examples = written + training_examples_from_emails(
            [email for other, group in enumerate(groups) if other != fold for email in group])
        encoder_dir = args.work / f"fold{fold}"
        started = time.monotonic()
        if not (encoder_dir / "config.json").exists():
            fine_tune(examples, encoder_dir, epochs=args.epochs, margin=args.margin)
        model, _ = train(examples, encoder=SentenceEncoder(model_dir=encoder_dir))
        fold_results = run_classifier(LocalClassifier(model=model), held_out)
        _decide(fold_results, args.mailbox)
        metrics = compute_metrics(fold_results, categories, areas)
        print(f"fold {fold} ({time.monotonic() - started:.0f} s):",
              {key: metrics[key] for key in REPORTED}, flush=True)
        results.extend(fold_results)
    metrics = compute_metrics(results, categories, areas)
    print("all folds:", {key: metrics[key] for key in REPORTED})


if __name__ == "__main__":
    main()
