"""`python -m backend.kb.measure`: the KB search numbers for docs/results-kb.md.

In a throwaway embedded Postgres it imports the demo KB (data/kb) and measures, on the dev
query set (../shared/data/kb/queries-dev.jsonl, or --queries):

- retrieval over answerable queries: recall@1, @3, @5 and MRR (a hit is any relevant slug);
- the answer decision, with the thresholds in config/policy.yaml: the share of answerable
  queries answered and of unanswerable ones declined;
- the answer threshold chosen by cross-validation: leave-one-out over the queries, the
  threshold picked on the others (the lowest declined share of answerable queries is 5%,
  then as many unanswerable ones declined as possible), applied to the one left out. The
  held-out estimate is what to expect on new queries; the threshold on all queries is the one
  to put in the policy;
- with vectors, the decision of the answerability model (backend/kb/answerability.py, trained on
  written questions only: the dev queries are its test), with the queries it gets wrong;
- the same for search without vectors (full text and trigram only);
- on StackFAQ (../shared/external/faq_retrieval/stackfaq, text nobody here wrote) imported as a
  second KB: recall@1 and @3, and the share of its (all off-topic) queries that the Pam KB
  declines;
- the golden regression file (data/kb/golden.jsonl), with and without vectors;
- with --grid, recall@3 and the cross-validated decline share for a small grid of signal weights.

Nothing here writes outside the temporary database.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml

from backend.db.schema import upgrade_database
from backend.db.server import temporary_database
from backend.kb.answerability import load_model
from backend.kb.check import kb_check
from backend.kb.config import AnswerRule, KbSettings, SearchWeights, load_kb_settings
from backend.kb.embedder import Embedder, load_embedder
from backend.kb.importer import import_kb
from backend.kb.search import RankedArticle, answer_features_for, is_answerable, rank_articles
from backend.paths import SAMPLE_DATA_DIR, SHARED_DIR

DEV_QUERIES = SHARED_DIR / "data" / "kb" / "queries-dev.jsonl"
STACKFAQ_DIR = SHARED_DIR / "external" / "faq_retrieval" / "stackfaq"
KEEP_AT_LEAST = 0.95


@dataclass(frozen=True)
class LabelledQuery:
    query: str
    relevant: list[str]
    answerable: bool


def read_labelled(path: Path) -> list[LabelledQuery]:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [LabelledQuery(r["query"], list(r.get("relevant", [])), bool(r.get("answerable", True))) for r in records]


@dataclass(frozen=True)
class Retrieval:
    recall_at_1: float
    recall_at_3: float
    recall_at_5: float
    mrr: float
    misses_at_3: list[tuple[str, list[str], list[str]]]


def retrieval_metrics(queries: Sequence[LabelledQuery], rankings: Sequence[list[str]]) -> Retrieval:
    hits = {1: 0, 3: 0, 5: 0}
    reciprocal = 0.0
    misses: list[tuple[str, list[str], list[str]]] = []
    answerable = [(query, ranking) for query, ranking in zip(queries, rankings, strict=True) if query.answerable]
    for query, ranking in answerable:
        relevant = set(query.relevant)
        for k in hits:
            hits[k] += bool(relevant & set(ranking[:k]))
        rank = next((index for index, slug in enumerate(ranking, start=1) if slug in relevant), None)
        reciprocal += 1 / rank if rank else 0.0
        if not relevant & set(ranking[:3]):
            misses.append((query.query, query.relevant, ranking[:3]))
    total = max(len(answerable), 1)
    return Retrieval(hits[1] / total, hits[3] / total, hits[5] / total, reciprocal / total, misses)


def pick_threshold(answerable_scores: Sequence[float], unanswerable_scores: Sequence[float]) -> float:
    """The threshold that answers at least KEEP_AT_LEAST of the answerable scores and, within
    that, declines as many unanswerable ones as possible; placed midway between neighbours."""
    ordered = sorted(answerable_scores)
    if not ordered:
        return 0.0
    allowed_below = int((1 - KEEP_AT_LEAST) * len(ordered))  # answerable scores we may decline
    upper = ordered[allowed_below]  # threshold must be <= this to keep the rest
    below = [score for score in [*ordered, *unanswerable_scores] if score < upper]
    lower = max(below) if below else upper - 0.05
    return (lower + upper) / 2


def cross_validated_decisions(
    labels: Sequence[bool], top_scores: Sequence[float]
) -> tuple[float, float, list[float]]:
    """Leave-one-out: (answered share of answerable, declined share of unanswerable, thresholds)."""
    answered = declined = 0
    thresholds: list[float] = []
    for held_out in range(len(labels)):
        train = [(label, score) for index, (label, score) in enumerate(zip(labels, top_scores, strict=True))
                 if index != held_out]
        threshold = pick_threshold([s for label, s in train if label], [s for label, s in train if not label])
        thresholds.append(threshold)
        decision = top_scores[held_out] >= threshold
        if labels[held_out]:
            answered += decision
        else:
            declined += not decision
    positives = max(sum(labels), 1)
    negatives = max(len(labels) - sum(labels), 1)
    return answered / positives, declined / negatives, thresholds


def _rank_all(
    conn: psycopg.Connection,
    queries: Sequence[str],
    embedder: Embedder | None,
    settings: KbSettings,
    limit: int = 6,
) -> list[list[RankedArticle]]:
    vectors: list[list[float] | None] = (
        [*embedder.embed(list(queries))] if embedder is not None else [None] * len(queries)
    )
    return [
        rank_articles(conn, query, query_vector=vector, settings=settings, limit=limit)
        for query, vector in zip(queries, vectors, strict=True)
    ]


def model_decisions(conn: psycopg.Connection, queries: Sequence[str], ranked: Sequence[list[RankedArticle]],
                    settings: KbSettings) -> list[bool] | None:
    """The answerability model's decision for each ranked query (None without a model file)."""
    model = load_model()
    if model is None:
        return None
    return [bool(articles) and model.answers(answer_features_for(conn, query, articles, settings))
            for query, articles in zip(queries, ranked, strict=True)]


def _report_model(conn: psycopg.Connection, queries: Sequence[LabelledQuery], ranked: Sequence[list[RankedArticle]],
                  settings: KbSettings) -> None:
    started = time.monotonic()
    decisions = model_decisions(conn, [query.query for query in queries], ranked, settings)
    elapsed = (time.monotonic() - started) / max(len(queries), 1)
    if decisions is None:
        print("answer model: no model file (see backend.kb.answerability_training)")
        return
    print(f"answer model features: {elapsed * 1000:.1f} ms/query on top of the ranking")
    answerable = [d for d, query in zip(decisions, queries, strict=True) if query.answerable]
    unanswerable = [d for d, query in zip(decisions, queries, strict=True) if not query.answerable]
    print(f"answer model (threshold {load_model().threshold:.4f}): "  # type: ignore[union-attr]
          f"answerable answered {sum(answerable) / max(len(answerable), 1):.3f}, "
          f"unanswerable declined {sum(not d for d in unanswerable) / max(len(unanswerable), 1):.3f}")
    model = load_model()
    assert model is not None
    probabilities = [model.probability(answer_features_for(conn, query.query, articles, settings)) if articles else 0.0
                     for query, articles in zip(queries, ranked, strict=True)]
    print("  P(answerable) of the unanswerable queries: "
          + ", ".join(f"{p:.2f}" for p in sorted(p for p, q in zip(probabilities, queries, strict=True)
                                                   if not q.answerable)))
    print("  lowest P(answerable) of the answerable queries: "
          + ", ".join(f"{p:.2f}" for p in sorted(p for p, q in zip(probabilities, queries, strict=True)
                                                   if q.answerable)[:5]))
    for decision, query, articles in zip(decisions, queries, ranked, strict=True):
        if decision != query.answerable:
            wrong = "answered" if decision else "declined"
            print(f"  model {wrong}: {query.query[:100]!r} (top {articles[0].slug if articles else None})")


def _report_mode(
    name: str,
    queries: Sequence[LabelledQuery],
    ranked: Sequence[list[RankedArticle]],
    rule: AnswerRule,
) -> None:
    rankings = [[article.slug for article in articles] for articles in ranked]
    metrics = retrieval_metrics(queries, rankings)
    labels = [query.answerable for query in queries]
    scores = [[article.score for article in articles] for articles in ranked]
    decisions = [is_answerable(score_list, rule) for score_list in scores]
    answered = sum(d for d, label in zip(decisions, labels, strict=True) if label) / max(sum(labels), 1)
    declined = sum(not d for d, label in zip(decisions, labels, strict=True) if not label) / max(
        len(labels) - sum(labels), 1
    )
    top = [score_list[0] if score_list else 0.0 for score_list in scores]
    cv_answered, cv_declined, thresholds = cross_validated_decisions(labels, top)
    chosen = pick_threshold([s for s, label in zip(top, labels, strict=True) if label],
                            [s for s, label in zip(top, labels, strict=True) if not label])
    print(f"\n## {name}")
    print(f"answerable queries: {sum(labels)}, unanswerable: {len(labels) - sum(labels)}")
    print(f"recall@1 {metrics.recall_at_1:.3f}  recall@3 {metrics.recall_at_3:.3f}  "
          f"recall@5 {metrics.recall_at_5:.3f}  MRR {metrics.mrr:.3f}")
    print(f"policy rule (min_score {rule.min_score}, min_margin {rule.min_margin}): "
          f"answerable answered {answered:.3f}, unanswerable declined {declined:.3f}")
    print(f"leave-one-out threshold: answerable answered {cv_answered:.3f}, unanswerable declined "
          f"{cv_declined:.3f} (thresholds {min(thresholds):.3f}..{max(thresholds):.3f}, "
          f"median {statistics.median(thresholds):.3f})")
    print(f"threshold picked on all these queries: {chosen:.3f}")
    for query, relevant, got in metrics.misses_at_3:
        print(f"  miss@3: {query[:90]!r} relevant={relevant} top3={got}")


def _grid(conn: psycopg.Connection, queries: Sequence[LabelledQuery], embedder: Embedder,
          settings: KbSettings) -> None:
    print("\n## weight grid (recall@3, leave-one-out answered / declined)")
    labels = [query.answerable for query in queries]
    for full_text, trigram, document, passage in itertools.product([0.0, 0.3], [0.0, 0.1], [0.0, 0.3], [0.5, 1.0]):
        weights = SearchWeights(full_text=full_text, trigram=trigram, document=document, passage=passage)
        trial = settings.model_copy(update={"weights": weights})
        ranked = _rank_all(conn, [query.query for query in queries], embedder, trial)
        metrics = retrieval_metrics(queries, [[article.slug for article in articles] for articles in ranked])
        top = [articles[0].score for articles in ranked]
        answered, declined, _ = cross_validated_decisions(labels, top)
        print(f"full_text {full_text} trigram {trigram} document {document} passage {passage}: "
              f"recall@3 {metrics.recall_at_3:.3f}, answered {answered:.3f}, declined {declined:.3f}")


def _write_stackfaq_kb(target: Path) -> dict[int, str]:
    """StackFAQ's FAQ entries as Markdown KB files (question as title, answers as body)."""
    slugs: dict[int, str] = {}
    for line in (STACKFAQ_DIR / "faq.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        slug = f"faq-{record['faq_id']}"
        slugs[int(record["faq_id"])] = slug
        front = yaml.safe_dump({"slug": slug, "title": record["question"]}, allow_unicode=True)
        body = "\n\n".join(answer.strip() for answer in record["answers"] if answer.strip())
        (target / f"{slug}.md").write_text(f"---\n{front}---\n\n{body or record['question']}\n", encoding="utf-8")
    return slugs


def _stackfaq(embedder: Embedder | None, settings: KbSettings, pam_ranked_declines: float | None,
             pam_model_declines: float | None = None) -> None:
    records = [json.loads(line) for line in (STACKFAQ_DIR / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    # A few StackFAQ queries have no text (null); they are skipped and counted.
    queries = {record["query_id"]: record["text"] for record in records if isinstance(record.get("text"), str)}
    relevant: dict[str, set[int]] = {}
    for line in (STACKFAQ_DIR / "qrels.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("relevance", 1) > 0:
            relevant.setdefault(record["query_id"], set()).add(int(record["faq_id"]))
    with temporary_database() as url, tempfile.TemporaryDirectory() as folder:
        with psycopg.connect(url, autocommit=True) as admin:
            upgrade_database(admin)
        conn = psycopg.connect(url)
        slugs = _write_stackfaq_kb(Path(folder))
        started = time.monotonic()
        import_kb(conn, Path(folder), embedder=embedder, settings=settings)
        imported = time.monotonic() - started
        ids = [query_id for query_id in queries if query_id in relevant]
        labelled = [
            LabelledQuery(queries[query_id], [slugs[faq] for faq in relevant[query_id]], True) for query_id in ids
        ]
        for mode_embedder in ([embedder, None] if embedder is not None else [None]):
            started = time.monotonic()
            ranked = _rank_all(conn, [query.query for query in labelled], mode_embedder, settings, limit=6)
            elapsed = time.monotonic() - started
            metrics = retrieval_metrics(labelled, [[article.slug for article in articles] for articles in ranked])
            rule = settings.answer_with_vectors if mode_embedder is not None else settings.answer_without_vectors
            answered = sum(is_answerable([a.score for a in articles], rule) for articles in ranked) / len(ranked)
            mode = "with vectors" if mode_embedder is not None else "without vectors"
            print(f"\n## StackFAQ ({len(slugs)} FAQs, {len(labelled)} queries with text, "
                  f"{len(records) - len(queries)} without), {mode}")
            print(f"recall@1 {metrics.recall_at_1:.3f}  recall@3 {metrics.recall_at_3:.3f}  "
                  f"MRR(top3) {metrics.mrr:.3f}")
            print(f"answered with the Pam-calibrated threshold: {answered:.3f} (all are answerable here)")
            if mode_embedder is not None:
                decisions = model_decisions(conn, [query.query for query in labelled], ranked, settings)
                if decisions is not None:
                    print(f"answered by the answer model: {sum(decisions) / len(decisions):.3f}")
            print(f"search {elapsed / len(labelled) * 1000:.1f} ms/query")
        print(f"StackFAQ import: {imported:.1f} s")
        if pam_ranked_declines is not None:
            print(f"StackFAQ queries searched in the Pam KB (all off-topic), with vectors: "
                  f"declined {pam_ranked_declines:.3f} by the threshold"
                  + (f", {pam_model_declines:.3f} by the answer model" if pam_model_declines is not None else ""))
        conn.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--queries", type=Path, default=DEV_QUERIES)
    parser.add_argument("--kb", type=Path, default=SAMPLE_DATA_DIR / "kb")
    parser.add_argument("--grid", action="store_true", help="also print a small grid of signal weights")
    parser.add_argument("--no-stackfaq", action="store_true")
    args = parser.parse_args(argv)
    settings = load_kb_settings()
    embedder = load_embedder()
    queries = read_labelled(args.queries)
    with temporary_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            upgrade_database(conn)
        with psycopg.connect(url) as conn:
            started = time.monotonic()
            result = import_kb(conn, args.kb, embedder=embedder, settings=settings)
            print(f"# KB search measurement\nimport of {args.kb}: {result.summary()} in "
                  f"{time.monotonic() - started:.1f} s")
            texts = [query.query for query in queries]
            started = time.monotonic()
            with_vectors = _rank_all(conn, texts, embedder, settings)
            per_query = (time.monotonic() - started) / max(len(texts), 1)
            print(f"search with vectors: {per_query * 1000:.1f} ms/query (embedding included)")
            _report_mode(f"{args.queries.name}, with vectors", queries, with_vectors, settings.answer_with_vectors)
            if embedder is not None:
                _report_model(conn, queries, with_vectors, settings)
            without = _rank_all(conn, texts, None, settings)
            _report_mode(f"{args.queries.name}, without vectors", queries, without, settings.answer_without_vectors)
            golden = args.kb / "golden.jsonl"
            if golden.is_file():
                check = kb_check(conn, golden, embedder=embedder, settings=settings)
                print(f"\n## golden check ({golden.name}, with vectors)\n{check.summary()}")
                for failure in check.failures:
                    print(f"  FAIL {failure.describe()}")
                plain = kb_check(conn, golden, embedder=None, settings=settings)
                print(f"without vectors: {plain.summary()}")
            if args.grid and embedder is not None:
                _grid(conn, queries, embedder, settings)
            declines: float | None = None
            model_declines: float | None = None
            if not args.no_stackfaq and STACKFAQ_DIR.is_dir():
                faq_texts = [text for line in (STACKFAQ_DIR / "queries.jsonl").read_text(encoding="utf-8").splitlines()
                             if isinstance(text := json.loads(line).get("text"), str)]
                ranked = _rank_all(conn, faq_texts, embedder, settings, limit=6)
                rule = settings.answer_with_vectors if embedder is not None else settings.answer_without_vectors
                declines = sum(not is_answerable([a.score for a in articles], rule) for articles in ranked) / len(
                    ranked
                )
                if embedder is not None:
                    decisions = model_decisions(conn, faq_texts, ranked, settings)
                    if decisions is not None:
                        model_declines = sum(not d for d in decisions) / len(decisions)
            conn.commit()
    if not args.no_stackfaq and STACKFAQ_DIR.is_dir():
        _stackfaq(embedder, settings, declines, model_declines)


if __name__ == "__main__":
    main()
