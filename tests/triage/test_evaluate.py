"""Metric definitions on hand-made results (exact numbers)."""

from __future__ import annotations

from backend.triage.evaluate import EmailResult, compute_metrics, conversation_folds, match_requests

CATEGORIES = ["how_to", "billing", "bug"]
AREAS = ["dashboard", "billing"]


def req(category: str, area: str = "dashboard", confidence: float = 0.9, top: tuple[str, ...] = ()):
    return {"category": category, "product_area": area, "integration": None, "confidence": confidence,
            "top_categories": [(label, 0.3) for label in (top or (category,))]}


def test_matching_pairs_by_agreement_not_by_order() -> None:
    gold = [req("billing", "billing"), req("how_to")]
    predicted = [req("how_to"), req("billing", "billing")]
    assert sorted(match_requests(gold, predicted)) == [(0, 1), (1, 0)]


def test_metrics_on_a_small_set() -> None:
    results = [
        # two gold, two predicted, one category wrong
        EmailResult("a", "request", [req("billing", "billing"), req("how_to")],
                    [req("billing", "billing", 0.95), req("bug", confidence=0.4, top=("bug", "how_to"))]),
        # one gold, missed entirely
        EmailResult("b", "request", [req("bug")], []),
        # a follow-up that wrongly produced a ticket
        EmailResult("c", "followup", [], [req("how_to", confidence=0.2)]),
        # a thanks detected as thanks
        EmailResult("d", "thanks", [], [], gratitude_only=True),
    ]
    metrics = compute_metrics(results, CATEGORIES, AREAS)
    assert metrics["gold_requests"] == 3 and metrics["predicted_requests"] == 3
    assert metrics["request_recall"] == round(2 / 3, 4)
    assert metrics["ticket_precision"] == round(2 / 3, 4)
    assert metrics["category_accuracy"] == round(1 / 3, 4)
    assert metrics["product_area_accuracy"] == round(2 / 3, 4)
    assert metrics["top3_category_accuracy"] == round(2 / 3, 4)
    assert metrics["multi_request_exact_split"] == 1.0
    assert metrics["exact_request_count_rate"] == 0.5
    assert metrics["thanks_detection"] == {"precision": 1.0, "recall": 1.0}
    assert metrics["false_tickets_by_kind"] == {"request": 0, "followup": 1, "thanks": 0}
    assert metrics["per_class"]["bug"]["recall"] == 0.0 and metrics["per_class"]["bug"]["predicted"] == 1
    assert metrics["confusion"]["how_to"] == {"bug": 1}
    assert metrics["confusion"]["bug"] == {"(missed)": 1}
    assert metrics["calibration"]["0.90-1.00"] == {"n": 1, "accuracy": 1.0}
    assert metrics["calibration"]["0.35-0.50"] == {"n": 1, "accuracy": 0.0}
    assert metrics["labels_outside_policy"] == 0


def test_labels_outside_the_policy_are_counted() -> None:
    results = [EmailResult("a", "request", [req("how_to")], [req("complaint")])]
    assert compute_metrics(results, CATEGORIES, AREAS)["labels_outside_policy"] == 1


def test_folds_keep_conversations_together() -> None:
    class Item:
        def __init__(self, conversation: str) -> None:
            self.conversation = conversation

    items = [Item(c) for c in "aabbbcdddeef"]
    folds = conversation_folds(items, 3)
    assert sum(len(fold) for fold in folds) == len(items)
    for fold in folds:
        for item in fold:
            assert all(other.conversation != item.conversation for f in folds if f is not fold for other in f)


def test_nested_selection_score_and_candidates() -> None:
    from backend.triage.evaluate import default_candidates, selection_score

    assert abs(selection_score({"category_accuracy": 0.8, "route_accuracy": 0.9}) - 0.85) < 1e-9
    names = [candidate.name for candidate in default_candidates()]
    assert len(names) == len(set(names)) >= 2
