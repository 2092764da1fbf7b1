"""Does any KB article answer this question? A small trained model decides, from the ranking
scores and from how much of the question the best articles actually cover.

Why not a threshold on the top score: a request for a feature the KB does not describe
("can Pam post alerts in Slack?") ranks the neighbouring article (mobile notifications) as high
as a real question ranks its answer. What separates them is that the question names something
the article never mentions. So besides the scores, the features measure coverage: which of the
question's content words (Postgres 'english' lexemes, misspellings mapped to their closest KB
word as search.sql does) occur in the best article, in the top three, or nowhere in the KB,
weighted by how rare they are in the KB (BM25's inverse document frequency), and how many
capitalised names in the question the KB has never seen.

The model is a logistic regression over FEATURE_NAMES, trained on questions written for this
purpose (data/kb/answerability/*.jsonl: answerable ones per article and near-miss unanswerable
ones) by `python -m backend.kb.answerability_training`; its weights, the probability threshold
chosen by cross-validation, and a hash of everything it depends on (training files, feature
version, search settings) are stored in answerability_model.json next to this module.

Failures: any text is a valid query. A model file that is missing or unreadable is ours: it is
logged and search falls back to the score threshold of the policy (`load_model` returns None).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg

logger = logging.getLogger(__name__)

# Bump when a feature's definition changes: a model trained on other features is then stale.
FEATURE_VERSION = 8
MODEL_PATH = Path(__file__).with_name("answerability_model.json")
# How many of the best-ranked articles the coverage features look at.
TOP_ARTICLES = 3

# Below this top score the model gets a steeper penalty (a soft floor: the linear model alone
# lets good word coverage make up for a weak match, which lets off-topic text through).
SCORE_FLOOR = 0.9

# Each feature with the direction it may push the answer (+1: more of it can only make an
# answer more likely, -1: less likely, 0: either). Training keeps every weight on its side, so
# features that overlap cannot trade weights into nonsense (say, "more words the KB never
# uses makes an answer likelier") that happens to fit the written questions.
FEATURE_DIRECTIONS: dict[str, int] = {
    "top_score": +1,
    "score_shortfall": -1,
    "score_shortfall_squared": -1,
    "top_passage": +1,
    "top_document": +1,
    "top_full_text": +1,
    "margin": +1,
    "gap_to_rest": +1,
    "content_terms": 0,
    "unknown_terms": -1,
    "unknown_rare": -1,
    "unknown_weight": -1,
    "top1_coverage": +1,
    "top3_coverage": +1,
    "top1_missing_rarest": -1,
    "unknown_names": -1,
    "capability_question": 0,
    # A feature request ("can Pam ...", "is there a ...") whose words the best article lacks.
    "capability_uncovered": -1,
    "phrases": 0,
    "phrases_in_kb": +1,
    "phrases_in_top1": +1,
    "phrases_in_top3": +1,
}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURE_DIRECTIONS)


@dataclass(frozen=True)
class QueryTerm:
    """One content word of the query and where the KB has it (answerability.sql)."""

    word: str
    lexeme: str
    corrected: bool
    document_count: int
    in_top: tuple[bool, ...]


@dataclass(frozen=True)
class RankEvidence:
    """What the ranking said about one article (see search.sql for each signal)."""

    score: float
    passage_similarity: float
    document_similarity: float
    full_text: float  # BM25 squashed to 0..1, as it enters the score


@cache
def _sql(name: str) -> str:
    return resources.files("backend.kb").joinpath(name).read_text(encoding="utf-8")


# Negative contractions written without the apostrophe ("doesnt", or "doesn" from "doesn't"):
# function words that the 'english' stop list does not cover.
_CONTRACTIONS = frozenset({
    "isn", "isnt", "aren", "arent", "wasn", "wasnt", "weren", "werent", "doesn", "doesnt", "don", "dont",
    "didn", "didnt", "hasn", "hasnt", "haven", "havent", "hadn", "hadnt", "won", "wont", "wouldn", "wouldnt",
    "shouldn", "shouldnt", "couldn", "couldnt", "cant", "mustn", "mustnt",
})


def content_words(expanded_query: str, alias_words: frozenset[str] = frozenset()) -> list[str]:
    """The query's distinct lowercase words of 3+ characters, in order, without negative
    contractions and without integration nicknames (their canonical name is in the expanded query)."""
    words: list[str] = []
    for word in re.split(r"[^a-z0-9]+", expanded_query.lower()):
        if len(word) >= 3 and word not in _CONTRACTIONS and word not in alias_words and word not in words:
            words.append(word)
    return words


def edit_distance(first: str, second: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
    adjacent letters each cost 1 ("tekoin" -> "tekion" is 1)."""
    previous_previous: list[int] = []
    previous = list(range(len(second) + 1))
    for i, a in enumerate(first, start=1):
        current = [i] + [0] * len(second)
        for j, b in enumerate(second, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
            if i > 1 and j > 1 and a == second[j - 2] and first[i - 2] == b:
                current[j] = min(current[j], previous_previous[j - 2] + 1)
        previous_previous, previous = previous, current
    return previous[-1]


def is_misspelling(word: str, candidate: str) -> bool:
    """Close enough to be a typo of the KB word: one edit from 6 letters, two from 9. Shorter
    words are left alone ("shop" is not a typo of "show")."""
    allowed = 2 if len(word) >= 9 else 1 if len(word) >= 6 else 0
    return allowed > 0 and edit_distance(word, candidate) <= allowed


def query_terms(
    conn: psycopg.Connection,
    words: Sequence[str],
    top_slugs: Sequence[str],
    *,
    kinds: Sequence[str],
) -> tuple[list[QueryTerm], int]:
    """The content words (those with a lexeme) with their KB statistics, one per lexeme, and the
    number of searched articles. A word the KB vocabulary lacks takes the statistics of a KB
    word it is a typo of, if any."""
    corrections: dict[str, str] = {}
    if words:
        for word, candidates in conn.execute(_sql("answerability_candidates.sql"), {"words": list(words)}):
            match = next((candidate for candidate in candidates if is_misspelling(word, candidate)), None)
            if match is not None:
                corrections[str(word)] = str(match)
    rows = conn.execute(
        _sql("answerability.sql"),
        {"words": sorted({*words, *corrections.values()}), "kinds": list(kinds), "top_slugs": list(top_slugs)},
    ).fetchall()
    stats = {str(word): (str(lexeme), int(count), tuple(bool(flag) for flag in in_top))
             for word, lexeme, count, in_top, _ in rows}
    collection = int(rows[0][4]) if rows else int(
        conn.execute("select count(*) from kb_articles where kind = any(%s)", (list(kinds),)).fetchone()[0]  # type: ignore[index]
    )
    terms: list[QueryTerm] = []
    seen: set[str] = set()
    for word in words:
        if word not in stats:
            continue  # a stop word
        lexeme, count, in_top = stats[word]
        corrected = False
        if count == 0 and word in corrections and corrections[word] in stats:
            lexeme, count, in_top = stats[corrections[word]]
            corrected = True
        if lexeme not in seen:
            seen.add(lexeme)
            terms.append(QueryTerm(word, lexeme, corrected, count, in_top))
    return terms, collection


@dataclass(frozen=True)
class QueryPhrase:
    """Two adjacent content words of the query and where the KB has them as a phrase."""

    phrase: str
    document_count: int
    in_top: tuple[bool, ...]


def adjacent_pairs(query: str, content: set[str]) -> list[str]:
    """Pairs of adjacent words of the query that are both content words ("microsoft teams",
    "chat widget"), in order, without repeats."""
    words = re.split(r"[^a-z0-9]+", query.lower())
    pairs: list[str] = []
    for first, second in itertools.pairwise(words):
        pair = f"{first} {second}"
        if first in content and second in content and pair not in pairs:
            pairs.append(pair)
    return pairs


def query_phrases(conn: psycopg.Connection, phrases: Sequence[str], top_slugs: Sequence[str], *,
                  kinds: Sequence[str]) -> list[QueryPhrase]:
    if not phrases:
        return []
    rows = conn.execute(
        _sql("answerability_phrases.sql"),
        {"phrases": list(phrases), "kinds": list(kinds), "top_slugs": list(top_slugs)},
    ).fetchall()
    return [QueryPhrase(str(phrase), int(count), tuple(bool(flag) for flag in in_top))
            for phrase, count, in_top in rows]


@cache
def common_english_words() -> frozenset[str]:
    """Whole words of the sentence encoder's WordPiece vocabulary (about 20,000 frequent English
    words): an unknown word outside it is a name, brand or jargon ("hubspot", "sftp"), inside
    it usually everyday language ("yesterday"). Empty when the model package is missing."""
    try:
        from backend.triage.embeddings import default_model_dir

        vocabulary = json.loads((default_model_dir() / "tokenizer.json").read_text(encoding="utf-8"))
        tokens = vocabulary["model"]["vocab"]
    except Exception as error:  # no model package: the feature then counts every unknown word
        logger.warning("no tokenizer vocabulary for the KB answer features (%s)", error)
        return frozenset()
    return frozenset(token for token in tokens if token.isalpha() and token.islower())


def _idf(document_count: int, collection: int) -> float:
    # BM25's idf (Robertson and Zaragoza 2009), the same as search.sql's, always > 0.
    return math.log(1 + (collection - document_count + 0.5) / (document_count + 0.5))


_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'&-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*|[\"(]\s*)$")
_CAPABILITY = re.compile(
    r"\b(?:is there (?:a|an|any)|are there any|do you (?:have|support|offer|sell|do|provide|integrate|work)"
    r"|does (?:pam|she|it|the app|the dashboard|your \w+) (?:support|integrate|work|have|connect|offer|sync|do)"
    r"|can (?:pam|she|you|it|the app|the dashboard|we (?:connect|integrate|use|get|have|put|hook))"
    r"|could pam|will pam|integrat\w*|compatible|works? with|plugs? into|connector)\b",
    re.IGNORECASE,
)


_NAME_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9&-]*")
_KB_NAMES_SIGNATURE = """
select md5(coalesce(string_agg(versions.content_sha256, ',' order by versions.slug), ''))
from kb_articles as articles
join kb_article_versions as versions
    on versions.slug = articles.slug and versions.version = articles.current_version
where articles.kind = any(%(kinds)s)
"""
_KB_TEXTS = """
select versions.title || E'\n' || versions.body
from kb_articles as articles
join kb_article_versions as versions
    on versions.slug = articles.slug and versions.version = articles.current_version
where articles.kind = any(%(kinds)s)
"""
_kb_names_cache: dict[str, frozenset[str]] = {}


def kb_names(conn: psycopg.Connection, kinds: Sequence[str]) -> frozenset[str]:
    """Every word form the searched articles write with a capital letter ("Okta", "Fortellis",
    "Saturday"), lowercased; cached per KB content."""
    row = conn.execute(_KB_NAMES_SIGNATURE, {"kinds": list(kinds)}).fetchone()
    signature = str(row[0]) if row else ""
    if signature not in _kb_names_cache:
        names = {
            token.lower()
            for (text,) in conn.execute(_KB_TEXTS, {"kinds": list(kinds)})
            for token in _NAME_TOKEN.findall(text)
            if any(character.isupper() for character in token)
        }
        _kb_names_cache.clear()  # one KB per process in practice: keep only the latest
        _kb_names_cache[signature] = frozenset(names)
    return _kb_names_cache[signature]


def _is_known_name(lowered: str, known_names: frozenset[str]) -> bool:
    """Known as written, without hyphens ("x-time" for "XTime"), or as the start of a KB name of
    which it is a nickname ("tek" for "Tekion")."""
    squashed = lowered.replace("-", "")
    return (lowered in known_names or squashed in known_names
            or (len(squashed) >= 3 and any(name.startswith(squashed) for name in known_names)))


def unknown_names(query: str, known_names: frozenset[str], ignore: frozenset[str] = frozenset()) -> int:
    """Capitalised words inside a sentence (product, app and company names: "Slack", "HubSpot",
    "Teams") that the KB never writes with a capital; sentence-initial words and "I" are skipped."""
    count = 0
    seen: set[str] = set()
    for match in _NAME_TOKEN.finditer(query):
        token = match.group(0)
        lowered = token.lower()
        if (not any(character.isupper() for character in token) or token == "I" or lowered in seen
                or lowered in ignore or len(token) < 2 or _is_known_name(lowered, known_names)):
            continue
        if _SENTENCE_START.search(query[: match.start()]) or query[: match.start()].endswith("'"):
            continue
        seen.add(lowered)
        count += 1
    return count


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 1.0


def answer_features(
    query: str,
    ranked: Sequence[RankEvidence],
    terms: Sequence[QueryTerm],
    collection: int,
    names_unknown: int,
    phrases: Sequence[QueryPhrase] = (),
) -> list[float]:
    """The feature vector, in FEATURE_NAMES order."""
    scores = [article.score for article in ranked]
    top = ranked[0] if ranked else RankEvidence(0.0, 0.0, 0.0, 0.0)
    second = scores[1] if len(scores) > 1 else 0.0
    rest = scores[1:5]
    collection = max(collection, 1)
    weights = [_idf(term.document_count, collection) for term in terms]
    total = sum(weights) or 1.0
    unknown = [term.document_count == 0 for term in terms]
    in_top1 = [bool(term.in_top[:1]) and term.in_top[0] for term in terms]
    in_top3 = [any(term.in_top[:TOP_ARTICLES]) for term in terms]
    rarest_possible = _idf(0, collection)
    capability = 1.0 if _CAPABILITY.search(query) else 0.0
    top1_coverage = sum(w for w, flag in zip(weights, in_top1, strict=True) if flag) / total
    common = common_english_words()
    missing_from_top1 = [weight for weight, present in zip(weights, in_top1, strict=True) if not present]
    values = {
        "top_score": top.score,
        "score_shortfall": max(0.0, SCORE_FLOOR - top.score),
        "score_shortfall_squared": max(0.0, SCORE_FLOOR - top.score) ** 2,
        "top_passage": top.passage_similarity,
        "top_document": top.document_similarity,
        "top_full_text": top.full_text,
        "margin": top.score - second,
        "gap_to_rest": top.score - (sum(rest) / len(rest) if rest else 0.0),
        "content_terms": math.log1p(len(terms)),
        "unknown_terms": float(sum(unknown)),
        "unknown_rare": float(sum(flag and term.word not in common for term, flag in zip(terms, unknown, strict=True))),
        "unknown_weight": sum(w for w, flag in zip(weights, unknown, strict=True) if flag) / total,
        "top1_coverage": top1_coverage,
        "top3_coverage": sum(w for w, flag in zip(weights, in_top3, strict=True) if flag) / total,
        "top1_missing_rarest": max(missing_from_top1, default=0.0) / rarest_possible,
        "unknown_names": float(names_unknown),
        "capability_question": capability,
        "capability_uncovered": capability * (1 - top1_coverage),
        # Shares are 1 when the query has no two adjacent content words (nothing left uncovered).
        "phrases": math.log1p(len(phrases)),
        "phrases_in_kb": _share([phrase.document_count > 0 for phrase in phrases]),
        "phrases_in_top1": _share([any(phrase.in_top[:1]) for phrase in phrases]),
        "phrases_in_top3": _share([any(phrase.in_top[:TOP_ARTICLES]) for phrase in phrases]),
    }
    return [values[name] for name in FEATURE_NAMES]


@dataclass(frozen=True)
class AnswerabilityModel:
    """Standardised logistic regression: p = sigmoid(intercept + sum(coef * (x - mean) / scale))."""

    feature_names: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    threshold: float
    fingerprint: str
    details: dict[str, Any]

    def probability(self, features: Sequence[float]) -> float:
        if len(features) != len(self.feature_names):
            raise ValueError(f"expected {len(self.feature_names)} features, got {len(features)}")
        z = self.intercept + sum(
            coefficient * (value - mean) / scale
            for coefficient, value, mean, scale in zip(self.coefficients, features, self.means, self.scales,
                                                       strict=True)
        )
        return 1 / (1 + math.exp(-max(min(z, 60.0), -60.0)))

    def answers(self, features: Sequence[float]) -> bool:
        return self.probability(features) >= self.threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "feature_version": FEATURE_VERSION,
            "fingerprint": self.fingerprint,
            "feature_names": list(self.feature_names),
            "means": list(self.means),
            "scales": list(self.scales),
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "details": self.details,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnswerabilityModel:
        names = tuple(str(name) for name in data["feature_names"])
        if data.get("feature_version") != FEATURE_VERSION or names != FEATURE_NAMES:
            raise ValueError(
                f"model features (version {data.get('feature_version')}) do not match this code "
                f"(version {FEATURE_VERSION}); retrain with python -m backend.kb.answerability_training"
            )
        model = cls(
            feature_names=names,
            means=tuple(float(value) for value in data["means"]),
            scales=tuple(float(value) for value in data["scales"]),
            coefficients=tuple(float(value) for value in data["coefficients"]),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            fingerprint=str(data["fingerprint"]),
            details=dict(data.get("details", {})),
        )
        if not (len(model.means) == len(model.scales) == len(model.coefficients) == len(names)):
            raise ValueError("model arrays differ in length from its feature names")
        return model


@cache
def load_model(path: Path = MODEL_PATH) -> AnswerabilityModel | None:
    """The trained model, or None (logged) when the file is missing or does not fit this code."""
    try:
        return AnswerabilityModel.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        logger.warning("KB answer decision falls back to the score threshold: cannot use %s (%s)", path, error)
        return None
