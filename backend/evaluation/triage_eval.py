"""`tier0 eval triage --mailbox DIR`: run the whole pipeline over a labelled mailbox (DIR holds
`mail/`, `labels.jsonl`, `accounts.csv`) on a throwaway database and compare with the labels.

How predicted tickets are matched to labelled requests: within each email, the one-to-one
assignment that agrees most (category first, then product area, then route, then position in the
email). Counting:
- request recall = labelled requests that got a ticket / labelled requests;
- ticket precision = tickets matched to a labelled request / tickets created (tickets from
  non-actionable emails count as unmatched);
- label accuracy (category, product area, integration, priority, tier, route) = matched pairs
  that agree / ALL labelled requests, so a missed request counts as an error;
- follow-up link accuracy = follow-up emails (kinds followup, followup_new) whose `followup_of`
  equals the label / follow-up emails;
- multi-request split accuracy = emails with 2+ labelled requests that got exactly that many
  tickets / such emails.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.pipeline.oneshot import triage_path
from backend.triage.types import Classifier

LABEL_FIELDS = ("category", "product_area", "integration", "priority", "tier", "route")
AUTOMATED_KINDS = ("auto_reply", "bounce", "newsletter", "spam")


@dataclass(frozen=True)
class Pair:
    gold: dict[str, Any] | None
    predicted: dict[str, Any] | None


def _agreement(gold: dict[str, Any], predicted: dict[str, Any]) -> float:
    return (
        8 * (gold["category"] == predicted["category"])
        + 4 * (gold["product_area"] == predicted["product_area"])
        + 2 * (gold["route"] == predicted["route"])
        + 1 * (gold.get("integration") == predicted.get("integration"))
    )


def match_requests(gold: Sequence[dict[str, Any]], predicted: Sequence[dict[str, Any]]) -> list[Pair]:
    """The one-to-one assignment with the most agreement; ties keep the order of appearance."""
    if not gold or not predicted:
        return [Pair(g, None) for g in gold] + [Pair(None, p) for p in predicted]
    small, large, gold_is_small = (gold, predicted, True) if len(gold) <= len(predicted) else (predicted, gold, False)
    best: tuple[float, tuple[int, ...]] | None = None
    candidates: Iterator[tuple[int, ...]]
    if len(large) <= 7:
        candidates = itertools.permutations(range(len(large)), len(small))
    else:  # very unusual; keep it bounded
        candidates = iter([tuple(range(len(small)))])
    for assignment in candidates:
        score = 0.0
        for small_index, large_index in enumerate(assignment):
            pair = (
                (small[small_index], large[large_index]) if gold_is_small else (large[large_index], small[small_index])
            )
            score += _agreement(*pair) - 0.01 * abs(small_index - large_index)
        if best is None or score > best[0]:
            best = (score, assignment)
    assert best is not None
    pairs: list[Pair] = []
    used = set(best[1])
    for small_index, large_index in enumerate(best[1]):
        if gold_is_small:
            pairs.append(Pair(small[small_index], large[large_index]))
        else:
            pairs.append(Pair(large[large_index], small[small_index]))
    for index, item in enumerate(large):
        if index not in used:
            pairs.append(Pair(item, None) if not gold_is_small else Pair(None, item))
    return pairs


def _macro_f1(pairs: list[Pair], labels: Sequence[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(1 for p in pairs if p.gold and p.predicted and p.gold["category"] == label == p.predicted["category"])
        fp = sum(
            1
            for p in pairs
            if p.predicted and p.predicted["category"] == label and not (p.gold and p.gold["category"] == label)
        )
        fn = sum(
            1
            for p in pairs
            if p.gold and p.gold["category"] == label and not (p.predicted and p.predicted["category"] == label)
        )
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


def _per_class(pairs: list[Pair], labels: Sequence[str]) -> dict[str, dict[str, float | int]]:
    table: dict[str, dict[str, float | int]] = {}
    for label in labels:
        tp = sum(1 for p in pairs if p.gold and p.predicted and p.gold["category"] == label == p.predicted["category"])
        predicted = sum(1 for p in pairs if p.predicted and p.predicted["category"] == label)
        support = sum(1 for p in pairs if p.gold and p.gold["category"] == label)
        table[label] = {
            "precision": round(tp / predicted, 3) if predicted else 0.0,
            "recall": round(tp / support, 3) if support else 0.0,
            "support": support,
        }
    return table


def _calibration(pairs: list[Pair]) -> list[dict[str, Any]]:
    bands = [(0.0, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 0.95), (0.95, 1.01)]
    rows = []
    for low, high in bands:
        in_band = [
            p
            for p in pairs
            if p.gold
            and p.predicted
            and p.predicted.get("confidence") is not None
            and low <= float(p.predicted["confidence"]) < high
        ]
        if not in_band:
            continue
        correct = sum(1 for p in in_band if p.gold and p.predicted and p.gold["category"] == p.predicted["category"])
        rows.append(
            {
                "band": f"[{low:.2f}, {min(high, 1.0):.2f})",
                "requests": len(in_band),
                "accuracy": round(correct / len(in_band), 3),
            }
        )
    return rows


def compare(labels: list[dict[str, Any]], results: list[dict[str, Any]], categories: Sequence[str]) -> dict[str, Any]:
    by_file = {result["file"]: result for result in results}
    missing = [label["file"] for label in labels if label["file"] not in by_file]
    if missing:
        raise ValueError(f"no result for {len(missing)} labelled file(s), e.g. {missing[:3]}")
    pairs: list[Pair] = []
    kind_pairs: list[tuple[str, str]] = []
    followups = followups_right = 0
    multi = multi_right = 0
    tickets_from_automated = 0
    for label in labels:
        result = by_file[label["file"]]
        kind_pairs.append((label["kind"], result["kind"] or "failed"))
        predicted = result["tickets"]
        if label["kind"] in AUTOMATED_KINDS:
            tickets_from_automated += len(predicted)
        pairs.extend(match_requests(label["requests"], predicted))
        if label["kind"] in ("followup", "followup_new"):
            followups += 1
            followups_right += result["followup_of"] == label["followup_of"]
        if len(label["requests"]) >= 2:
            multi += 1
            multi_right += len(predicted) == len(label["requests"])
    gold_total = sum(1 for p in pairs if p.gold)
    predicted_total = sum(1 for p in pairs if p.predicted)
    matched = [p for p in pairs if p.gold and p.predicted]

    def accuracy(field: str) -> float:
        return (
            round(
                sum(1 for p in matched if p.gold and p.predicted and p.gold.get(field) == p.predicted.get(field))
                / gold_total,
                4,
            )
            if gold_total
            else 0.0
        )

    top3_hits = sum(
        1
        for p in matched
        if p.gold
        and p.predicted
        and p.gold["category"] in [label for label, _ in (p.predicted.get("top_categories") or [])[:3]]
    )
    confusion: dict[str, dict[str, int]] = {}
    for p in pairs:
        gold_label = p.gold["category"] if p.gold else "(none)"
        predicted_label = p.predicted["category"] if p.predicted else "(missed)"
        confusion.setdefault(gold_label, Counter())[predicted_label] += 1
    flagged = sum(1 for p in pairs if p.predicted and p.predicted.get("flagged_for_review"))
    return {
        "emails": len(labels),
        "labelled_requests": gold_total,
        "tickets_created": predicted_total,
        "request_recall": round(len(matched) / gold_total, 4) if gold_total else 0.0,
        "ticket_precision": round(len(matched) / predicted_total, 4) if predicted_total else 0.0,
        "kind_accuracy": round(sum(1 for g, p in kind_pairs if g == p) / len(kind_pairs), 4) if kind_pairs else 0.0,
        **{f"{field}_accuracy": accuracy(field) for field in LABEL_FIELDS},
        "category_top3_accuracy": round(top3_hits / gold_total, 4) if gold_total else 0.0,
        "category_macro_f1": round(_macro_f1(pairs, categories), 4),
        "multi_request_emails": multi,
        "multi_request_split_accuracy": round(multi_right / multi, 4) if multi else 0.0,
        "followup_emails": followups,
        "followup_link_accuracy": round(followups_right / followups, 4) if followups else 0.0,
        "tickets_from_automated_mail": tickets_from_automated,
        "tickets_flagged_for_review": flagged,
        "kind_confusion": {
            gold: dict(Counter(p for g, p in kind_pairs if g == gold)) for gold in sorted({g for g, _ in kind_pairs})
        },
        "category_per_class": _per_class(pairs, categories),
        "calibration": _calibration(pairs),
        "category_confusion": {gold: dict(row) for gold, row in sorted(confusion.items())},
    }


def load_labels(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate_mailbox(mailbox: Path, *, classifier: Classifier | None = None) -> dict[str, Any]:
    from backend.policy.model import load_policy

    mail_dir, labels_path, accounts_path = mailbox / "mail", mailbox / "labels.jsonl", mailbox / "accounts.csv"
    for needed in (mail_dir, labels_path):
        if not needed.exists():
            raise FileNotFoundError(f"{needed} is missing: a labelled mailbox holds mail/, labels.jsonl, accounts.csv")
    policy = load_policy()
    results = triage_path(
        mail_dir, accounts_csv=accounts_path if accounts_path.exists() else None, policy=policy, classifier=classifier
    )
    report = compare(load_labels(labels_path), results, policy.category_names)
    classifier_names = {t.get("classifier") for r in results for t in r["tickets"]}
    report["classifier"] = sorted(name for name in classifier_names if name) or None
    return report


def render_report(report: dict[str, Any]) -> str:
    lines = []
    scalar_keys = [
        key for key, value in report.items() if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    for key in scalar_keys:
        value = report[key]
        lines.append(f"{key:<32} {value:.4f}" if isinstance(value, float) else f"{key:<32} {value}")
    lines.append("")
    lines.append("kind confusion (label -> predicted):")
    for gold, row in report["kind_confusion"].items():
        lines.append(f"  {gold:<14} " + ", ".join(f"{k} {v}" for k, v in sorted(row.items(), key=lambda kv: -kv[1])))
    lines.append("")
    lines.append("category per class (precision / recall / support):")
    for label, row in report["category_per_class"].items():
        lines.append(f"  {label:<18} {row['precision']:.3f} / {row['recall']:.3f} / {row['support']}")
    if report["calibration"]:
        lines.append("")
        lines.append("calibration (category accuracy by confidence band):")
        for row in report["calibration"]:
            lines.append(f"  {row['band']:<14} n={row['requests']:<4} accuracy {row['accuracy']:.3f}")
    lines.append("")
    lines.append("category confusion (label -> predicted):")
    for gold, row in report["category_confusion"].items():
        lines.append(f"  {gold:<18} " + ", ".join(f"{k} {v}" for k, v in sorted(row.items(), key=lambda kv: -kv[1])))
    return "\n".join(lines)
