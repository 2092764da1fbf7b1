"""Measure triage against labelled email: the metrics `tier0 eval triage` prints.

Inputs are per-email lists of gold and predicted request dicts (`category`, `product_area`,
`integration`, and for predictions `confidence`, `top_categories`, `needs_review`), so the same
functions score any classifier and the policy step's outputs (the lead adds priority / tier /
route keys and compares them with `match_requests`' pairs).

Matching (written out in docs/results-triage.md): within each email, predicted requests are
paired with gold requests by an optimal assignment (Hungarian method) that maximises
agreement: 2 points for the same category, 1 for the same product area, 0.5 for the same
integration, and a tiny penalty for distance in order. Every gold request of an email gets a
partner while predictions remain; a gold request left without a partner is *missed* and
counts as wrong for every accuracy below; a prediction left without a partner is a *false
ticket*.

Metrics (all over human mail: request, followup_new, followup, thanks):

* request recall: paired gold requests / gold requests;
* ticket precision: paired predictions / predictions (followups and thanks that produce a
  request count against it);
* category / product area / integration accuracy: correct paired gold / all gold;
* category macro-F1 and per-class precision / recall (precision counts every prediction of a
  class, paired or not; recall counts every gold request of the class);
* top-3 accuracy: gold category among the paired prediction's three best;
* calibration: accuracy of paired predictions by confidence band;
* multi-request exact split: emails with 2+ gold requests whose prediction count equals it;
* exact count rate over all human emails, thanks detection (gratitude_only vs kind "thanks"),
  labels outside the policy (must be 0), needs-review rate, confusion matrix.

Command line (heavy: trains models; numbers go to docs/results-triage.md):

    python -m backend.triage.evaluate written  [--mailbox DIR]   # (a) trained on written examples only
    python -m backend.triage.evaluate kfold    [--folds 5]       # (b) written + other dev folds
    python -m backend.triage.evaluate nested   [--folds 5]       # (b) with the configuration chosen by
                                                                 #     inner cross-validation per fold
    python -m backend.triage.evaluate shipped                    # the shipped default (trained on dev too)

Failures are ours (a missing mailbox raises); nothing is skipped silently.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from backend.paths import SHARED_DIR

RequestDict = dict[str, Any]
CONFIDENCE_BANDS = ((0.0, 0.35), (0.35, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01))


@dataclass
class EmailResult:
    """One email's gold and predicted requests (dicts), plus what the classifier said about it."""

    file: str
    kind: str
    gold: list[RequestDict]
    predicted: list[RequestDict]
    gratitude_only: bool = False
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _agreement(gold: RequestDict, predicted: RequestDict) -> float:
    return (2.0 * (gold.get("category") == predicted.get("category"))
            + 1.0 * (gold.get("product_area") == predicted.get("product_area"))
            + 0.5 * (gold.get("integration") == predicted.get("integration")))


def match_requests(gold: Sequence[RequestDict], predicted: Sequence[RequestDict]) -> list[tuple[int, int]]:
    """Optimal (gold index, predicted index) pairs within one email (see the module docstring)."""
    if not gold or not predicted:
        return []
    score = np.zeros((len(gold), len(predicted)))
    for i, g in enumerate(gold):
        for j, p in enumerate(predicted):
            score[i, j] = _agreement(g, p) - 0.01 * abs(i - j)
    rows, cols = linear_sum_assignment(-score)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]


def _band(confidence: float) -> str:
    for low, high in CONFIDENCE_BANDS:
        if low <= confidence < high:
            return f"{low:.2f}-{min(high, 1.0):.2f}"
    return "n/a"


def compute_metrics(results: Sequence[EmailResult], categories: Sequence[str], product_areas: Sequence[str],
                    integrations: Sequence[str] = ("tekion", "cdk", "xtime", "mykaarma")) -> dict[str, Any]:
    gold_total = predicted_total = paired = policy_scored = 0
    correct = Counter[str]()
    top3 = 0
    per_class_gold = Counter[str]()
    per_class_pred = Counter[str]()
    per_class_correct = Counter[str]()
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    bands: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    multi_total = multi_exact = exact_count = 0
    outside_policy = 0
    needs_review = 0
    thanks_tp = thanks_fp = thanks_fn = 0
    false_tickets_by_kind = Counter[str]()
    errors: list[dict[str, Any]] = []
    valid = {"category": set(categories), "product_area": set(product_areas)}
    for result in results:
        gold, predicted = result.gold, result.predicted
        gold_total += len(gold)
        predicted_total += len(predicted)
        exact_count += len(gold) == len(predicted)
        if len(gold) >= 2:
            multi_total += 1
            multi_exact += len(gold) == len(predicted)
        is_thanks = result.kind == "thanks"
        thanks_tp += is_thanks and result.gratitude_only
        thanks_fp += (not is_thanks) and result.gratitude_only
        thanks_fn += is_thanks and not result.gratitude_only
        for request in predicted:
            per_class_pred[str(request.get("category"))] += 1
            needs_review += bool(request.get("needs_review"))
            for key, allowed in valid.items():
                outside_policy += request.get(key) not in allowed
            integration = request.get("integration")
            outside_policy += integration is not None and integration not in integrations
        pairs = match_requests(gold, predicted)
        paired += len(pairs)
        paired_gold = {g for g, _ in pairs}
        paired_predicted = {p for _, p in pairs}
        false_tickets_by_kind[result.kind] += len(predicted) - len(paired_predicted)
        for index, request in enumerate(gold):
            per_class_gold[request["category"]] += 1
            if index not in paired_gold:
                confusion[request["category"]]["(missed)"] += 1
                errors.append({"file": result.file, "gold": request, "predicted": None})
        for g, p in pairs:
            gold_request, predicted_request = gold[g], predicted[p]
            confusion[gold_request["category"]][str(predicted_request.get("category"))] += 1
            for key in ("category", "product_area", "integration", "priority", "tier", "route"):
                correct[key] += gold_request.get(key) == predicted_request.get(key)
            if "priority" in predicted_request and "priority" in gold_request:
                policy_scored += 1
            category_ok = gold_request["category"] == predicted_request.get("category")
            per_class_correct[gold_request["category"]] += category_ok
            top = [label for label, _ in predicted_request.get("top_categories") or []][:3]
            top3 += gold_request["category"] in top
            band = bands[_band(float(predicted_request.get("confidence") or 0.0))]
            band[0] += 1
            band[1] += category_ok
            if not category_ok or gold_request["product_area"] != predicted_request.get("product_area"):
                errors.append({"file": result.file, "gold": gold_request, "predicted": predicted_request})
        for p, request in enumerate(predicted):
            if p not in paired_predicted:
                errors.append({"file": result.file, "gold": None, "predicted": request})

    def ratio(numerator: float, denominator: float) -> float | None:
        return round(numerator / denominator, 4) if denominator else None

    per_class: dict[str, dict[str, float | int | None]] = {}
    f1_values: list[float] = []
    for label in categories:
        precision = ratio(per_class_correct[label], per_class_pred[label])
        recall = ratio(per_class_correct[label], per_class_gold[label])
        f1 = (2 * precision * recall / (precision + recall)) if precision and recall else 0.0
        if per_class_gold[label] or per_class_pred[label]:
            f1_values.append(f1)
        per_class[label] = {"precision": precision, "recall": recall, "f1": round(f1, 4),
                            "gold": per_class_gold[label], "predicted": per_class_pred[label]}
    return {
        "emails": len(results),
        "gold_requests": gold_total,
        "predicted_requests": predicted_total,
        "request_recall": ratio(paired, gold_total),
        "ticket_precision": ratio(paired, predicted_total),
        "category_accuracy": ratio(correct["category"], gold_total),
        "product_area_accuracy": ratio(correct["product_area"], gold_total),
        "integration_accuracy": ratio(correct["integration"], gold_total),
        "priority_accuracy": ratio(correct["priority"], gold_total) if policy_scored else None,
        "tier_accuracy": ratio(correct["tier"], gold_total) if policy_scored else None,
        "route_accuracy": ratio(correct["route"], gold_total) if policy_scored else None,
        "category_macro_f1": round(float(np.mean(f1_values)), 4) if f1_values else None,
        "top3_category_accuracy": ratio(top3, gold_total),
        "multi_request_emails": multi_total,
        "multi_request_exact_split": ratio(multi_exact, multi_total),
        "exact_request_count_rate": ratio(exact_count, len(results)),
        "thanks_detection": {"precision": ratio(thanks_tp, thanks_tp + thanks_fp),
                             "recall": ratio(thanks_tp, thanks_tp + thanks_fn)},
        "false_tickets_by_kind": dict(false_tickets_by_kind),
        "labels_outside_policy": outside_policy,
        "needs_review_rate": ratio(needs_review, predicted_total),
        "calibration": {band: {"n": counts[0], "accuracy": ratio(counts[1], counts[0])}
                        for band, counts in sorted(bands.items())},
        "per_class": per_class,
        "confusion": {label: dict(confusion[label]) for label in categories if label in confusion},
        "errors": errors,
    }


# --- running a classifier over a labelled mailbox ----------------------------------------


def run_classifier(classifier: Any, emails: Sequence[Any]) -> list[EmailResult]:
    """Triage every `LabelledEmail` with `classifier` and pair the outputs with the gold labels."""
    results: list[EmailResult] = []
    for email in emails:
        started = time.perf_counter()
        triage = classifier.triage(email.for_triage())
        seconds = time.perf_counter() - started
        predicted = [{
            "category": request.category,
            "product_area": request.product_area,
            "integration": request.integration,
            "confidence": request.confidence,
            "top_categories": list(request.top_categories),
            "needs_review": request.needs_review,
            "summary": request.summary,
            "signals": request.signals,
            "text": request.text,
        } for request in triage.requests]
        gold = [{"category": r.category, "product_area": r.product_area, "integration": r.integration,
                 "summary": r.summary, "priority": r.priority, "tier": r.tier, "route": r.route}
                for r in email.requests]
        results.append(EmailResult(email.file, email.kind, gold, predicted, triage.gratitude_only, seconds,
                                   extra={"account": email.account, "date": email.date}))
    return results


def load_account_facts(path: Path) -> dict[str, Any]:
    """accounts.csv (the dev mailbox format) as `AccountFacts` by account id."""
    import csv
    from datetime import date

    from backend.accounts.resolve import AccountFacts

    def day(value: str) -> date | None:
        return date.fromisoformat(value) if value else None

    facts: dict[str, Any] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            integration = (row.get("integration") or "").strip() or None
            facts[row["account_id"]] = AccountFacts(
                account_id=row["account_id"], name=row.get("name", ""), timezone=row.get("timezone") or "UTC",
                plan=row.get("plan") or None, mrr_usd=float(row["mrr_usd"]) if row.get("mrr_usd") else None,
                contract_start=day(row.get("contract_start", "")), renewal_date=day(row.get("renewal_date", "")),
                integration=None if integration == "none" else integration)
    return facts


def add_policy_decisions(results: Sequence[EmailResult], accounts: dict[str, Any], policy: Any) -> None:
    """Run the policy step (backend.policy.decide) on every prediction, adding priority / tier /
    route / flagged keys, so compute_metrics can score them against the gold labels."""
    from datetime import datetime

    from backend.policy.decide import RequestLabels, decide

    for result in results:
        sent = result.extra.get("date")
        sent_at = datetime.fromisoformat(sent) if sent else datetime.now().astimezone()
        account = accounts.get(result.extra.get("account") or "")
        for request in result.predicted:
            decision = decide(policy, RequestLabels(request["category"], request["product_area"],
                                                    request["signals"], bool(request.get("needs_review"))),
                              account, sent_at)
            request.update(priority=decision.priority, tier=decision.tier, route=decision.route,
                           flagged=decision.flagged_for_review)


def conversation_folds(emails: Sequence[Any], folds: int, seed: int = 7) -> list[list[Any]]:
    """Split emails into `folds` groups by conversation (a thread never straddles two folds)."""
    conversations = sorted({email.conversation for email in emails})
    random.Random(seed).shuffle(conversations)
    fold_of = {conversation: index % folds for index, conversation in enumerate(conversations)}
    groups: list[list[Any]] = [[] for _ in range(folds)]
    for email in emails:
        groups[fold_of[email.conversation]].append(email)
    return groups


def _decide(results: Sequence[EmailResult], mailbox: Path) -> None:
    from backend.policy.model import load_policy

    accounts = mailbox / "accounts.csv"
    add_policy_decisions(results, load_account_facts(accounts) if accounts.exists() else {}, load_policy())


def _policy_labels() -> tuple[list[str], list[str]]:
    from backend.policy.model import load_policy

    policy = load_policy()
    return policy.category_names, policy.product_area_names


def evaluate_written(mailbox: Path) -> tuple[dict[str, Any], list[EmailResult]]:
    """(a): train on the written examples only, evaluate on every human email of the mailbox."""
    from backend.triage.labelled import load_labelled_mailbox
    from backend.triage.local import LocalClassifier
    from backend.triage.model import load_written_examples, train

    emails = load_labelled_mailbox(mailbox)
    model, facts = train(load_written_examples(include_dev=False))
    classifier = LocalClassifier(model=model)
    results = run_classifier(classifier, emails)
    _decide(results, mailbox)
    categories, areas = _policy_labels()
    metrics = compute_metrics(results, categories, areas)
    metrics["training"] = facts
    metrics["seconds_per_email"] = _timing(results)
    return metrics, results


def evaluate_kfold(mailbox: Path, folds: int = 5) -> tuple[dict[str, Any], list[EmailResult]]:
    """(b): for each conversation fold, train on written examples + the other folds' emails."""
    from backend.triage.labelled import load_labelled_mailbox, training_examples_from_emails
    from backend.triage.local import LocalClassifier
    from backend.triage.model import load_written_examples, train

    emails = load_labelled_mailbox(mailbox)
    written = load_written_examples(include_dev=False)
    results: list[EmailResult] = []
    groups = conversation_folds(emails, folds)
    for index, held_out in enumerate(groups):
        training_emails = [email for other, group in enumerate(groups) if other != index for email in group]
        model, _ = train(written + training_examples_from_emails(training_emails))
        results.extend(run_classifier(LocalClassifier(model=model), held_out))
    order = {email.file: position for position, email in enumerate(emails)}
    results.sort(key=lambda result: order[result.file])
    _decide(results, mailbox)
    categories, areas = _policy_labels()
    metrics = compute_metrics(results, categories, areas)
    metrics["folds"] = folds
    metrics["seconds_per_email"] = _timing(results)
    return metrics, results


@dataclass(frozen=True)
class Candidate:
    """One configuration nested cross-validation may choose: head settings (need training) and
    classifier settings (decoding, blending; no training)."""

    name: str
    heads: Any = None  # backend.triage.model.HeadConfigs; None = the defaults
    classifier: Any = None  # backend.triage.local.LocalClassifierConfig; None = the defaults


def default_candidates() -> list[Candidate]:
    """The configurations compared for the shipped defaults (docs/results-triage.md, changelog)."""
    from backend.triage.features import TextClassifierConfig
    from backend.triage.local import LocalClassifierConfig
    from backend.triage.model import HeadConfigs

    def heads(**options: Any) -> HeadConfigs:
        return HeadConfigs(category=TextClassifierConfig(**({"c": 8.0} | options)),
                           product_area=TextClassifierConfig(**({"c": 8.0} | options)))

    return [
        Candidate("tfidf+embedding", heads()),
        Candidate("+cues 0.2", heads(cue_weight=0.2)),
        Candidate("+cues 0.3", heads(cue_weight=0.3)),
        Candidate("embedding x0.5", heads(embedding_weight=0.5)),
        Candidate("context 0.2", heads(), LocalClassifierConfig(context_weight=0.2)),
        Candidate("sentences 0.3", heads(), LocalClassifierConfig(sentence_weight=0.3)),
    ]


def selection_score(metrics: dict[str, Any]) -> float:
    """What nested cross-validation maximises: the mean of category and route accuracy."""
    return (float(metrics["category_accuracy"] or 0.0) + float(metrics["route_accuracy"] or 0.0)) / 2


def evaluate_nested(mailbox: Path, candidates: Sequence[Candidate] | None = None, folds: int = 5
                    ) -> tuple[dict[str, Any], list[EmailResult]]:
    """(b) with the configuration chosen honestly: for each outer conversation fold, every
    candidate is scored by inner cross-validation over the other folds only (train on written
    examples + all but one inner fold, predict the inner fold, `selection_score` of the pooled
    inner predictions); the winner is trained on written + every other fold and predicts the
    outer fold, which no choice has seen. Reports the pooled outer metrics, the winner per fold
    and every candidate's inner scores."""
    from backend.policy.model import load_policy
    from backend.triage.labelled import load_labelled_mailbox, training_examples_from_emails
    from backend.triage.local import LocalClassifier
    from backend.triage.model import load_written_examples, train

    candidates = list(candidates or default_candidates())
    emails = load_labelled_mailbox(mailbox)
    written = load_written_examples(include_dev=False)
    accounts_path = mailbox / "accounts.csv"
    accounts = load_account_facts(accounts_path) if accounts_path.exists() else {}
    policy = load_policy()
    categories, areas = policy.category_names, policy.product_area_names
    groups = conversation_folds(emails, folds)
    examples_of = [training_examples_from_emails(group) for group in groups]

    def predict(candidate: Candidate, training: list[int], held_out: list[Any], models: dict[str, Any]
                ) -> list[EmailResult]:
        key = repr(candidate.heads)
        if key not in models:
            models[key], _ = train(written + [example for index in training for example in examples_of[index]],
                                   heads=candidate.heads)
        classifier = LocalClassifier(model=models[key], policy=policy, config=candidate.classifier)
        return run_classifier(classifier, held_out)

    outer_results: list[EmailResult] = []
    chosen: list[str] = []
    inner_scores: list[dict[str, float]] = []
    for outer, held_out in enumerate(groups):
        inner_folds = [index for index in range(len(groups)) if index != outer]
        pooled: dict[str, list[EmailResult]] = {candidate.name: [] for candidate in candidates}
        for inner in inner_folds:
            models: dict[str, Any] = {}
            training = [index for index in inner_folds if index != inner]
            for candidate in candidates:
                pooled[candidate.name].extend(predict(candidate, training, groups[inner], models))
        scores: dict[str, float] = {}
        for candidate in candidates:
            add_policy_decisions(pooled[candidate.name], accounts, policy)
            scores[candidate.name] = round(selection_score(compute_metrics(pooled[candidate.name], categories,
                                                                           areas)), 4)
        # Ties go to the earlier candidate (the simpler configuration comes first).
        best = max(candidates, key=lambda candidate: scores[candidate.name])
        chosen.append(best.name)
        inner_scores.append(scores)
        outer_results.extend(predict(best, inner_folds, held_out, {}))
    order = {email.file: position for position, email in enumerate(emails)}
    outer_results.sort(key=lambda result: order[result.file])
    add_policy_decisions(outer_results, accounts, policy)
    metrics = compute_metrics(outer_results, categories, areas)
    metrics["folds"] = folds
    metrics["chosen_per_fold"] = chosen
    metrics["inner_scores"] = inner_scores
    metrics["seconds_per_email"] = _timing(outer_results)
    return metrics, outer_results


def evaluate_shipped(mailbox: Path) -> tuple[dict[str, Any], list[EmailResult]]:
    """The shipped default model on the mailbox (trained on it when it is the dev mailbox: not honest)."""
    from backend.triage.labelled import load_labelled_mailbox
    from backend.triage.local import LocalClassifier

    emails = load_labelled_mailbox(mailbox)
    results = run_classifier(LocalClassifier(), emails)
    _decide(results, mailbox)
    categories, areas = _policy_labels()
    metrics = compute_metrics(results, categories, areas)
    metrics["seconds_per_email"] = _timing(results)
    return metrics, results


def _timing(results: Sequence[EmailResult]) -> dict[str, float]:
    seconds = sorted(result.seconds for result in results)
    if not seconds:
        return {}
    return {"mean": round(float(np.mean(seconds)), 4), "p95": round(seconds[int(0.95 * (len(seconds) - 1))], 4),
            "max": round(seconds[-1], 4)}


def format_report(metrics: dict[str, Any]) -> str:
    keys = ["emails", "gold_requests", "predicted_requests", "request_recall", "ticket_precision",
            "category_accuracy", "product_area_accuracy", "integration_accuracy", "priority_accuracy",
            "tier_accuracy", "route_accuracy", "category_macro_f1",
            "top3_category_accuracy", "multi_request_emails", "multi_request_exact_split",
            "exact_request_count_rate", "thanks_detection", "false_tickets_by_kind", "labels_outside_policy",
            "needs_review_rate", "seconds_per_email", "chosen_per_fold"]
    lines = [f"{key}: {metrics.get(key)}" for key in keys if key in metrics]
    lines.append("calibration (confidence band: n, category accuracy):")
    lines += [f"  {band}: {value}" for band, value in metrics["calibration"].items()]
    lines.append("per class (precision / recall / f1 / gold / predicted):")
    for label, values in metrics["per_class"].items():
        lines.append(f"  {label:18} {values['precision']} / {values['recall']} / {values['f1']} / "
                     f"{values['gold']} / {values['predicted']}")
    lines.append("confusion (gold -> predicted counts):")
    for label, row in metrics["confusion"].items():
        lines.append(f"  {label:18} {dict(sorted(row.items(), key=lambda item: -item[1]))}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the local triage model on a labelled mailbox.")
    parser.add_argument("mode", choices=["written", "kfold", "nested", "shipped"])
    parser.add_argument("--mailbox", type=Path, default=SHARED_DIR / "data" / "mailbox-dev")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write metrics (and errors) as JSON")
    parser.add_argument("--errors", action="store_true", help="print every error")
    args = parser.parse_args(argv)
    if not (args.mailbox / "labels.jsonl").exists():
        raise SystemExit(f"no labelled mailbox at {args.mailbox}")
    started = time.perf_counter()
    if args.mode == "written":
        metrics, _ = evaluate_written(args.mailbox)
    elif args.mode == "kfold":
        metrics, _ = evaluate_kfold(args.mailbox, args.folds)
    elif args.mode == "nested":
        metrics, _ = evaluate_nested(args.mailbox, folds=args.folds)
    else:
        metrics, _ = evaluate_shipped(args.mailbox)
    metrics["wall_seconds"] = round(time.perf_counter() - started, 1)
    from backend.triage.embeddings import shared_encoder

    shared_encoder().flush()
    print(format_report(metrics))
    print(f"wall_seconds: {metrics['wall_seconds']}")
    if args.errors:
        for error in metrics["errors"]:
            gold, predicted = error["gold"], error["predicted"]
            g = f"{gold['category']}/{gold['product_area']}/{gold['integration']}" if gold else "-"
            p = (f"{predicted['category']}/{predicted['product_area']}/{predicted['integration']} "
                 f"({predicted['confidence']})" if predicted else "-")
            print(f"{error['file']}: gold {g} | predicted {p} | {gold['summary'][:70] if gold else ''}"
                  f"{' || ' + predicted['summary'][:70] if predicted else ''}")
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
