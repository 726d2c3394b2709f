"""The single scikit-learn pipeline definition, shared by training and serving."""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from model.text import normalise_text

LABELS: tuple[str, ...] = ("trade_war", "5g_security", "alliances")


def build_pipeline(seed: int = 0) -> Pipeline:
    """Build the untrained topic pipeline: TF-IDF words and bigrams, one LR per label."""
    vectorizer = TfidfVectorizer(
        preprocessor=normalise_text,
        ngram_range=(1, 2),
        min_df=2,
        sublinear_tf=True,
        token_pattern=r"(?u)\b\w[\w'-]*\w\b|\b5g\b",
    )
    classifier = OneVsRestClassifier(
        LogisticRegression(C=8.0, class_weight="balanced", max_iter=2000, random_state=seed)
    )
    return Pipeline([("tfidf", vectorizer), ("clf", classifier)])
