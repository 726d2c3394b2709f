"""`TopicScorer`: per-label probabilities and the terms behind them, from a fitted pipeline."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from model.errors import ArtifactError
from model.pipeline import KeywordGroups, compile_keyword_groups, keyword_counts
from model.text import normalise_text

EVIDENCE_TERMS = 5
SCORER_FORMAT = 2
"""Layout of a pickled scorer; 2 added keyword groups and the scorer's own feature path."""


class TopicScorer:
    """Scores texts with the fitted words + keyword-groups + one-vs-rest LR pipeline.

    The vocabulary, idf weights and linear weights are copied out of the pipeline once,
    so that scoring a batch is one sparse feature matrix built straight from the tokens
    and one matrix product: none of scikit-learn's per-call overhead, which costs more
    than the arithmetic on a single short article. `features` reproduces the pipeline's
    own transform (a unit test holds it to that).
    """

    def __init__(self, pipeline: Pipeline, labels: Sequence[str]) -> None:
        union = pipeline.named_steps["features"]
        words: TfidfVectorizer = union.named_transformers["words"]
        keywords: KeywordGroups = union.named_transformers["keywords"]
        estimators = pipeline.named_steps["clf"].estimators_
        if len(estimators) != len(labels):
            raise ValueError(
                f"pipeline has {len(estimators)} label estimators, expected {len(labels)}"
            )
        if not (
            words.analyzer == "word"
            and words.preprocessor is normalise_text
            and words.stop_words is None
            and words.sublinear_tf
            and words.use_idf
            and words.norm == "l2"
        ):
            raise ValueError(
                "TopicScorer reproduces only word n-gram, normalise_text-preprocessed, "
                "sublinear, idf-weighted, l2-normed TF-IDF without stop words"
            )
        self.format = SCORER_FORMAT
        self.labels = tuple(labels)
        self.token_pattern = str(words.token_pattern)
        self.ngram_range: tuple[int, int] = tuple(words.ngram_range)  # type: ignore[assignment]
        self.vocabulary: dict[str, int] = dict(words.vocabulary_)
        self.idf = np.asarray(words.idf_, dtype=np.float64)
        self.keyword_groups = tuple(keywords.groups)
        self.keyword_weight = float(keywords.weight)
        self.coef = np.vstack([e.coef_.ravel() for e in estimators]).astype(np.float64)
        self.intercept = np.array([e.intercept_[0] for e in estimators], dtype=np.float64)
        self.terms = union.get_feature_names_out()
        self.n_words = len(self.vocabulary)
        self._tokenize: Callable[[str], list[str]] | None = None
        self._coef_t: NDArray[np.float64] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Caches are rebuilt on first use; they never go into the artifact.
        return {**self.__dict__, "_tokenize": None, "_coef_t": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("format") != SCORER_FORMAT:
            raise ArtifactError(
                f"model file holds a topic scorer of format {state.get('format', 1)}, "
                f"this geowire reads format {SCORER_FORMAT}; retrain with 'geowire train'"
            )
        self.__dict__.update(state)

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Feature rows for the texts: TF-IDF words and bigrams, then keyword groups."""
        tokenize = self._tokenizer()
        pattern = compile_keyword_groups(self.keyword_groups)
        vocabulary, n_words, low, high = self.vocabulary, self.n_words, *self.ngram_range
        indptr, indices, counts = [0], [], []
        for text in texts:
            normalised = normalise_text(text)
            row: dict[int, int] = {}
            for term in _ngrams(tokenize(normalised), low, high):
                column = vocabulary.get(term)
                if column is not None:
                    row[column] = row.get(column, 0) + 1
            indices += row.keys()
            counts += row.values()
            for group, count in enumerate(keyword_counts(pattern, normalised)):
                if count:
                    indices.append(n_words + group)
                    counts.append(count)
            indptr.append(len(indices))
        return self._weighted(np.array(indptr), np.array(indices, dtype=np.int32), counts)

    def scores(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Probability of each label for each text, shape (len(texts), len(labels))."""
        return self.scores_of(self.features(texts))

    def scores_of(self, features: sp.csr_matrix) -> NDArray[np.float64]:
        """Probabilities for precomputed feature rows."""
        if self._coef_t is None:  # row-major copy: no re-layout in every product
            self._coef_t = np.ascontiguousarray(self.coef.T)
        logits = features @ self._coef_t + self.intercept
        return 1.0 / (1.0 + np.exp(-np.asarray(logits)))

    def explain(self, text: str, label: str) -> list[str]:
        """The terms of `text` that pushed `label`'s score up most, strongest first."""
        return self.explain_row(self.features([text]), 0, label)

    def explain_row(self, features: sp.csr_matrix, row: int, label: str) -> list[str]:
        """The strongest positive word terms of one row of precomputed features.

        Reads the CSR arrays directly: slicing a row out of a sparse matrix costs more
        than classifying the event. Keyword-group columns are left out: evidence is the
        article's own words.
        """
        start, end = features.indptr[row], features.indptr[row + 1]
        indices = features.indices[start:end]
        contributions = features.data[start:end] * self.coef[self.labels.index(label)][indices]
        contributions[indices >= self.n_words] = 0.0
        order = np.argsort(-contributions)[:EVIDENCE_TERMS]
        return [str(self.terms[indices[i]]) for i in order if contributions[i] > 0]

    def _tokenizer(self) -> Callable[[str], list[str]]:
        if self._tokenize is None:
            self._tokenize = TfidfVectorizer(token_pattern=self.token_pattern).build_tokenizer()
        return self._tokenize

    def _weighted(
        self, indptr: NDArray[np.int64], indices: NDArray[np.int32], counts: list[int]
    ) -> sp.csr_matrix:
        # Words get TfidfVectorizer's maths: sublinear tf times idf, each row's words
        # scaled to unit length. Keyword groups get log(1 + count) times their weight.
        n_rows = len(indptr) - 1
        values = np.asarray(counts, dtype=np.float64)
        word = indices < self.n_words
        data = np.log1p(values) * self.keyword_weight
        data[word] = (np.log(values[word]) + 1.0) * self.idf[indices[word]]
        rows = np.repeat(np.arange(n_rows), np.diff(indptr))[word]
        norms = np.sqrt(np.bincount(rows, weights=data[word] ** 2, minlength=n_rows))
        data[word] /= norms[rows]
        shape = (n_rows, self.n_words + len(self.keyword_groups))
        return sp.csr_matrix((data, indices, indptr), shape=shape)


def _ngrams(tokens: list[str], low: int, high: int) -> list[str]:
    """Word n-grams as scikit-learn's analyzer forms them (no stop words)."""
    grams = list(tokens) if low == 1 else []
    if low <= 2 <= high:  # the common case, built without slicing
        grams += [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
    for n in range(max(low, 3), high + 1):
        grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return grams
