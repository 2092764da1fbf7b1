"""`python -m backend.kb.answerability_training [--write] [--compare]`: train the KB answer model.

The training questions were written for this purpose (data/kb/answerability/*.jsonl, none taken
or paraphrased from the dev query set): answerable ones for every article of the demo KB, and
unanswerable ones, mostly near misses (integrations, channels, devices, reports, policies and
products the KB does not describe) plus some off-topic text. Each has a `group` (the article,
or the missing feature) so that cross-validation never sees the same topic in training and test.

In a throwaway embedded Postgres the demo KB (data/kb) is imported, every question is searched
as `search_kb` would, and the features of backend/kb/answerability.py are computed. Then:

- grouped 10-fold cross-validation gives out-of-fold probabilities; the probability threshold is
  the highest one that still answers KEEP_ANSWERED of the answerable questions out of fold (the
  target on new questions is 95%; the margin absorbs the written set being cleaner than mail);
- a logistic regression (scikit-learn, lbfgs, deterministic) is fitted on all questions;
- with --write, weights, threshold and a fingerprint (sha256 of the training files, the demo KB,
  the search settings, the embedder and FEATURE_VERSION) go to backend/kb/answerability_model.json.
  tests/kb check that the stored fingerprint matches, so a change to any of them asks for a retrain.

--compare also prints the cross-validated results of other settings and of gradient boosting,
to show how the chosen one was picked (on the written questions only; the dev set is the test).
Nothing here writes outside the temporary database, except the model file with --write.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from numpy.typing import NDArray

from backend.kb.answerability import (
    FEATURE_DIRECTIONS,
    FEATURE_NAMES,
    FEATURE_VERSION,
    MODEL_PATH,
    AnswerabilityModel,
)
from backend.kb.config import KbSettings, load_kb_settings
from backend.kb.embedder import Embedder, load_embedder
from backend.kb.search import RankedArticle, answer_features_for, rank_articles
from backend.paths import SAMPLE_DATA_DIR

WRITTEN_DIR = SAMPLE_DATA_DIR / "kb" / "answerability"
DEMO_KB = SAMPLE_DATA_DIR / "kb"
KEEP_ANSWERED = 0.97
FOLDS = 10
REGULARISATION = 0.3  # scikit-learn's C: inverse strength of the L2 penalty

FloatMatrix = NDArray[np.float64]


@dataclass(frozen=True)
class WrittenQuestion:
    query: str
    answerable: bool
    group: str
    relevant: tuple[str, ...] = ()


def load_written_questions(directory: Path = WRITTEN_DIR) -> list[WrittenQuestion]:
    """Every line of every *.jsonl file in `directory` (sorted by file name)."""
    questions: list[WrittenQuestion] = []
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record.get("query"), str) or not isinstance(record.get("answerable"), bool):
                raise ValueError(f"{path}:{number}: needs a string 'query' and a boolean 'answerable'")
            questions.append(WrittenQuestion(record["query"], record["answerable"], str(record.get("group", "")),
                                             tuple(record.get("relevant", []))))
    return questions


def training_fingerprint(settings: KbSettings, embedder_name: str | None,
                         written_dir: Path = WRITTEN_DIR, kb_dir: Path = DEMO_KB) -> str:
    """sha256 of everything the trained model depends on."""
    digest = hashlib.sha256()
    digest.update(f"feature_version={FEATURE_VERSION};embedder={embedder_name};".encode())
    ranking = settings.model_dump(include={"search_kinds", "weights", "full_text_saturation", "title_boost",
                                           "tags_boost", "correction_similarity", "trigram_similarity"})
    digest.update(json.dumps(ranking, sort_keys=True).encode())
    for path in [*sorted(written_dir.glob("*.jsonl")), *sorted((kb_dir / "articles").glob("*.md"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def compute_features(
    conn: psycopg.Connection,
    queries: Sequence[str],
    embedder: Embedder,
    settings: KbSettings,
) -> tuple[FloatMatrix, list[list[RankedArticle]]]:
    """The answer features of each query (searched as search_kb does), and the rankings."""
    rows: list[list[float]] = []
    rankings: list[list[RankedArticle]] = []
    batch = 64
    for start in range(0, len(queries), batch):
        chunk = list(queries[start : start + batch])
        for query, vector in zip(chunk, embedder.embed(chunk), strict=True):
            ranked = rank_articles(conn, query, query_vector=vector, settings=settings, limit=6)
            rankings.append(ranked)
            rows.append(answer_features_for(conn, query, ranked, settings))
    return np.asarray(rows, dtype=np.float64), rankings


Estimator = Callable[[], Any]


class SignedLogisticRegression:
    """Logistic regression on standardised features whose weights keep the sign each feature
    is allowed (FEATURE_DIRECTIONS), with L2 penalty and balanced class weights: minimises
    C * sum(class_weight * log_loss) + ||w||^2 / 2, as scikit-learn's LogisticRegression does,
    by L-BFGS-B with bounds (deterministic). `predict_proba` follows scikit-learn's shape."""

    def __init__(self, regularisation: float = REGULARISATION,
                 directions: Sequence[int] | None = None) -> None:
        self.regularisation = regularisation
        self.directions = list(directions) if directions is not None else [FEATURE_DIRECTIONS[name]
                                                                            for name in FEATURE_NAMES]
        self.mean_: NDArray[np.float64] = np.zeros(0)
        self.scale_: NDArray[np.float64] = np.ones(0)
        self.coef_: NDArray[np.float64] = np.zeros(0)
        self.intercept_ = 0.0

    def fit(self, features: FloatMatrix, labels: NDArray[np.bool_]) -> SignedLogisticRegression:
        from scipy.optimize import minimize

        if features.shape[1] != len(self.directions):
            raise ValueError(f"{features.shape[1]} features but {len(self.directions)} directions")
        self.mean_ = features.mean(axis=0)
        scale = features.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        standard = (features - self.mean_) / self.scale_
        target = labels.astype(np.float64)
        positives = max(float(target.sum()), 1.0)
        negatives = max(len(target) - float(target.sum()), 1.0)
        weights = np.where(labels, len(target) / (2 * positives), len(target) / (2 * negatives))

        def objective(parameters: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            coefficients, intercept = parameters[:-1], parameters[-1]
            margin = standard @ coefficients + intercept
            # log(1 + exp(-y*m)) written stably with logaddexp; y in {-1, +1}
            signed = np.where(labels, 1.0, -1.0)
            loss = float(np.sum(weights * np.logaddexp(0.0, -signed * margin)))
            residual = weights * (1 / (1 + np.exp(-margin)) - target)
            gradient = np.append(self.regularisation * standard.T @ residual + coefficients,
                                 self.regularisation * residual.sum())
            return self.regularisation * loss + 0.5 * float(coefficients @ coefficients), gradient

        bounds = [(0.0, None) if d > 0 else (None, 0.0) if d < 0 else (None, None) for d in self.directions]
        result = minimize(objective, np.zeros(standard.shape[1] + 1), jac=True, method="L-BFGS-B",
                          bounds=[*bounds, (None, None)], options={"maxiter": 5000})
        self.coef_, self.intercept_ = result.x[:-1], float(result.x[-1])
        return self

    def predict_proba(self, features: FloatMatrix) -> FloatMatrix:
        margin = ((features - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
        positive = 1 / (1 + np.exp(-margin))
        return np.column_stack([1 - positive, positive])


def logistic(regularisation: float = REGULARISATION) -> SignedLogisticRegression:
    return SignedLogisticRegression(regularisation)


def unconstrained_logistic(regularisation: float = REGULARISATION) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=regularisation, class_weight="balanced",
                                                              max_iter=2000))


def out_of_fold_probabilities(features: FloatMatrix, labels: NDArray[np.bool_], groups: Sequence[str],
                              make_estimator: Estimator, folds: int = FOLDS) -> NDArray[np.float64]:
    """P(answerable) for each question from a model that never saw its group."""
    from sklearn.model_selection import GroupKFold

    probabilities = np.zeros(len(labels))
    for train, test in GroupKFold(n_splits=folds).split(features, labels, groups):
        estimator = make_estimator().fit(features[train], labels[train])
        probabilities[test] = estimator.predict_proba(features[test])[:, 1]
    return probabilities


def pick_probability_threshold(probabilities: NDArray[np.float64], labels: NDArray[np.bool_],
                               keep: float = KEEP_ANSWERED) -> float:
    """The highest threshold that answers at least `keep` of the answerable questions, placed
    midway to the next lower probability so that it does not sit on a training point."""
    answerable = np.sort(probabilities[labels])
    allowed_below = int((1 - keep) * len(answerable))
    upper = float(answerable[allowed_below])
    lower = probabilities[probabilities < upper]
    return (float(lower.max()) + upper) / 2 if lower.size else upper / 2


def rates(probabilities: NDArray[np.float64], labels: NDArray[np.bool_], threshold: float) -> tuple[float, float]:
    """(answered share of answerable, declined share of unanswerable)."""
    decisions = probabilities >= threshold
    return float(decisions[labels].mean()), float((~decisions[~labels]).mean())


def fit_model(features: FloatMatrix, labels: NDArray[np.bool_], groups: Sequence[str], fingerprint: str,
              regularisation: float = REGULARISATION) -> AnswerabilityModel:
    """The logistic model on all questions, with the threshold picked out of fold."""
    probabilities = out_of_fold_probabilities(features, labels, groups, lambda: logistic(regularisation))
    threshold = pick_probability_threshold(probabilities, labels)
    answered, declined = rates(probabilities, labels, threshold)
    regression = logistic(regularisation).fit(features, labels)

    def rounded(values: Sequence[float] | NDArray[np.float64]) -> tuple[float, ...]:
        return tuple(round(float(value), 10) for value in values)

    return AnswerabilityModel(
        feature_names=FEATURE_NAMES,
        means=rounded(regression.mean_),
        scales=rounded(regression.scale_),
        coefficients=rounded(regression.coef_),
        intercept=round(regression.intercept_, 10),
        threshold=round(threshold, 10),
        fingerprint=fingerprint,
        details={
            "questions": len(labels),
            "answerable": int(labels.sum()),
            "regularisation": regularisation,
            "folds": FOLDS,
            "keep_answered": KEEP_ANSWERED,
            "cross_validated_answered": round(answered, 4),
            "cross_validated_declined": round(declined, 4),
        },
    )


def question_groups(questions: Sequence[WrittenQuestion]) -> list[str]:
    """Cross-validation groups: the article or the missing feature, kept apart by label."""
    return [("a:" if question.answerable else "u:") + question.group for question in questions]


def train_on_connection(conn: psycopg.Connection, embedder: Embedder, settings: KbSettings,
                        questions: Sequence[WrittenQuestion]) -> tuple[AnswerabilityModel, FloatMatrix]:
    """Fit the model on `questions` searched in the KB already imported on `conn` (the demo KB
    for the stored model); also returns the feature matrix."""
    features, _ = compute_features(conn, [question.query for question in questions], embedder, settings)
    labels = np.array([question.answerable for question in questions])
    model = fit_model(features, labels, question_groups(questions), training_fingerprint(settings, embedder.name))
    return model, features


def _compare(features: FloatMatrix, labels: NDArray[np.bool_], groups: Sequence[str]) -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    print("\n## grouped 10-fold cross-validation on the written questions")
    candidates: dict[str, Estimator] = {
        **{f"signed logistic C={c}": partial(logistic, c) for c in (0.1, 0.3, 1.0, 3.0)},
        **{f"unconstrained logistic C={c}": partial(unconstrained_logistic, c) for c in (0.3, 1.0)},
        "gradient boosting (100 trees, depth 2)": lambda: GradientBoostingClassifier(
            n_estimators=100, max_depth=2, learning_rate=0.1, random_state=0),
    }
    for name, make in candidates.items():
        probabilities = out_of_fold_probabilities(features, labels, groups, make)
        for keep in (0.95, 0.97):
            threshold = pick_probability_threshold(probabilities, labels, keep)
            answered, declined = rates(probabilities, labels, threshold)
            print(f"{name}, keep {keep}: answered {answered:.3f}, declined {declined:.3f}")
    # Each feature alone, as a check of what carries the decision.
    for index, name in enumerate(FEATURE_NAMES):
        probabilities = out_of_fold_probabilities(features[:, [index]], labels, groups, unconstrained_logistic)
        threshold = pick_probability_threshold(probabilities, labels, 0.97)
        answered, declined = rates(probabilities, labels, threshold)
        print(f"  only {name}: answered {answered:.3f}, declined {declined:.3f}")


def main(argv: Sequence[str] | None = None) -> None:
    from backend.db.schema import upgrade_database
    from backend.db.server import temporary_database
    from backend.kb.importer import import_kb

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help=f"write the model to {MODEL_PATH}")
    parser.add_argument("--compare", action="store_true", help="cross-validate other model settings too")
    args = parser.parse_args(argv)
    settings = load_kb_settings()
    embedder = load_embedder()
    if embedder is None:
        raise SystemExit("the sentence embedder cannot load: the model needs vectors")
    questions = load_written_questions()
    labels = np.array([question.answerable for question in questions])
    groups = question_groups(questions)
    with temporary_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            upgrade_database(conn)
        with psycopg.connect(url) as conn:
            import_kb(conn, DEMO_KB, embedder=embedder, settings=settings)
            model, features = train_on_connection(conn, embedder, settings, questions)
            conn.rollback()
    print(f"# answerability model: {len(questions)} written questions, {int(labels.sum())} answerable, "
          f"{len(set(groups))} groups")
    if args.compare:
        _compare(features, labels, groups)
    print(f"\nchosen: signed logistic C={REGULARISATION}, threshold {model.threshold:.4f}; out of fold: "
          f"answered {model.details['cross_validated_answered']:.3f}, "
          f"declined {model.details['cross_validated_declined']:.3f}")
    for name, coefficient in sorted(zip(FEATURE_NAMES, model.coefficients, strict=True), key=lambda x: -abs(x[1])):
        print(f"  {name:22s} {coefficient:+.3f}")
    if args.write:
        MODEL_PATH.write_text(json.dumps(model.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_PATH}")


if __name__ == "__main__":
    main()
