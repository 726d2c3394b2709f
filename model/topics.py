"""`TopicScorer`: per-label probabilities and the terms behind them, from a fitted pipeline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.pipeline import Pipeline

EVIDENCE_TERMS = 5


class TopicScorer:
    """Scores texts with a fitted TF-IDF + one-vs-rest logistic regression pipeline.

    The linear weights are copied out of the pipeline once so that scoring a batch is
    one sparse transform and one matrix product, with no per-call estimator overhead.
    """

    def __init__(self, pipeline: Pipeline, labels: Sequence[str]) -> None:
        vectorizer = pipeline.named_steps["tfidf"]
        estimators = pipeline.named_steps["clf"].estimators_
        if len(estimators) != len(labels):
            raise ValueError(
                f"pipeline has {len(estimators)} label estimators, expected {len(labels)}"
            )
        self.labels = tuple(labels)
        # stop_words_ (a set, pickled in varying order) and _stop_words_id (a memory
        # address) only serve introspection and warnings; dropping them makes the
        # artifact byte-for-byte reproducible.
        for attribute in ("stop_words_", "_stop_words_id"):
            if hasattr(vectorizer, attribute):
                delattr(vectorizer, attribute)
        self.vectorizer = vectorizer
        self.coef = np.vstack([e.coef_.ravel() for e in estimators]).astype(np.float64)
        self.intercept = np.array([e.intercept_[0] for e in estimators], dtype=np.float64)
        self.terms = vectorizer.get_feature_names_out()

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows for the texts."""
        return self.vectorizer.transform(texts).tocsr()

    def scores(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Probability of each label for each text, shape (len(texts), len(labels))."""
        return self.scores_of(self.features(texts))

    def scores_of(self, features: sp.csr_matrix) -> NDArray[np.float64]:
        """Probabilities for precomputed TF-IDF rows."""
        logits = features @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-np.asarray(logits)))

    def explain(self, text: str, label: str) -> list[str]:
        """The terms of `text` that pushed `label`'s score up most, strongest first."""
        return self.explain_row(self.features([text]), 0, label)

    def explain_row(self, features: sp.csr_matrix, row: int, label: str) -> list[str]:
        """The strongest positive terms of one row of precomputed TF-IDF features.

        Reads the CSR arrays directly: slicing a row out of a sparse matrix costs more
        than classifying the event.
        """
        start, end = features.indptr[row], features.indptr[row + 1]
        indices = features.indices[start:end]
        contributions = features.data[start:end] * self.coef[self.labels.index(label)][indices]
        order = np.argsort(-contributions)[:EVIDENCE_TERMS]
        return [str(self.terms[indices[i]]) for i in order if contributions[i] > 0]
