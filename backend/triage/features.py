"""The text classifier every local head uses: TF-IDF word and character n-grams plus a sentence
embedding, concatenated, into a multinomial logistic regression.

Why this shape: word n-grams catch the vocabulary of a category ("invoice", "password", "not
syncing"), character n-grams survive typos and inflections ("sycning", "logins"), and the
MiniLM embedding carries meaning across paraphrases the training texts never used; an optional
block of speech-act cue counts (`backend.triage.cues`) helps tell asking-how from asking-us from
wishing. Logistic regression gives probabilities, which the classifier needs for confidence,
top-3 and abstention. The same class runs the BANKING77 benchmark (`backend.triage.intents`), so the
number reported there measures this machinery.

Failures are ours (bad parameters, untrained use); no input text can fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from backend.triage.cues import cue_features
from backend.triage.embeddings import SentenceEncoder


@dataclass(frozen=True)
class TextClassifierConfig:
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    use_words: bool = True
    use_chars: bool = True
    use_embeddings: bool = True
    embedding_weight: float = 1.0  # scales the unit-length embedding against the TF-IDF blocks
    # Scale of the speech-act cue block (`backend.triage.cues`); 0 leaves it out.
    cue_weight: float = 0.0
    c: float = 10.0  # inverse regularisation strength of the logistic regression
    class_weight: str | None = "balanced"
    max_iter: int = 3000


class TextClassifier:
    """fit(texts, labels) / predict_proba(texts) over word + char TF-IDF and a MiniLM embedding."""

    def __init__(self, config: TextClassifierConfig, encoder: SentenceEncoder | None = None) -> None:
        if config.use_embeddings and encoder is None:
            raise ValueError("use_embeddings needs a SentenceEncoder")
        self.config = config
        self.encoder = encoder
        self.word_vectorizer: TfidfVectorizer | None = None
        self.char_vectorizer: TfidfVectorizer | None = None
        self.model: LogisticRegression | None = None

    @property
    def classes(self) -> list[str]:
        if self.model is None:
            raise RuntimeError("classifier is not trained")
        return [str(label) for label in self.model.classes_]

    def _features(
        self, texts: Sequence[str], *, fit: bool, embeddings: NDArray[np.float32] | None = None
    ) -> sparse.csr_matrix:
        blocks: list[sparse.spmatrix] = []
        config = self.config
        if config.use_words:
            if fit:
                self.word_vectorizer = TfidfVectorizer(
                    ngram_range=config.word_ngrams,
                    sublinear_tf=True,
                    lowercase=True,
                    token_pattern=r"(?u)\b\w[\w']*\b",
                    strip_accents="unicode",
                    dtype=np.float32,
                )
                blocks.append(self.word_vectorizer.fit_transform(texts))
            else:
                assert self.word_vectorizer is not None
                blocks.append(self.word_vectorizer.transform(texts))
        if config.use_chars:
            if fit:
                self.char_vectorizer = TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=config.char_ngrams,
                    sublinear_tf=True,
                    lowercase=True,
                    strip_accents="unicode",
                    dtype=np.float32,
                    min_df=2,
                )
                blocks.append(self.char_vectorizer.fit_transform(texts))
            else:
                assert self.char_vectorizer is not None
                blocks.append(self.char_vectorizer.transform(texts))
        if config.use_embeddings:
            if embeddings is None:
                assert self.encoder is not None
                embeddings = self.encoder.encode(texts)
            blocks.append(sparse.csr_matrix(embeddings * np.float32(config.embedding_weight)))
        if config.cue_weight > 0:
            blocks.append(sparse.csr_matrix(cue_features(texts) * np.float32(config.cue_weight)))
        return sparse.hstack(blocks, format="csr")

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        embeddings: NDArray[np.float32] | None = None,
        sample_weight: Sequence[float] | None = None,
    ) -> TextClassifier:
        if len(set(labels)) < 2:
            raise ValueError("need at least two distinct labels to train")
        features = self._features(texts, fit=True, embeddings=embeddings)
        self.model = LogisticRegression(
            C=self.config.c,
            max_iter=self.config.max_iter,
            class_weight=self.config.class_weight,
        )
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.model.fit(features, list(labels), sample_weight=weights)
        return self

    def predict_proba(self, texts: Sequence[str], embeddings: NDArray[np.float32] | None = None) -> NDArray[np.float64]:
        if self.model is None:
            raise RuntimeError("classifier is not trained")
        if not texts:
            return np.zeros((0, len(self.model.classes_)))
        proba: NDArray[np.float64] = self.model.predict_proba(self._features(texts, fit=False, embeddings=embeddings))
        return proba

    def predict(self, texts: Sequence[str], embeddings: NDArray[np.float32] | None = None) -> list[str]:
        proba = self.predict_proba(texts, embeddings)
        classes = self.classes
        return [classes[int(index)] for index in proba.argmax(axis=1)]

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["encoder"] = None  # the encoder is shared per process, never pickled
        return state
