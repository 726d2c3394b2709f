"""The single scikit-learn pipeline definition, shared by training and serving.

Features are TF-IDF words and bigrams plus a few keyword-group counts. The groups pool
the vocabulary that LABELS.md names for each topic (and for its near-misses) into one
column each, so that one "allies" in a long article counts as much as in a headline,
where a length-normalised TF-IDF weight would fade.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from model.text import normalise_text

LABELS: tuple[str, ...] = ("trade_war", "5g_security", "alliances")
WORD_PATTERN = r"(?u)\b\w[\w'-]*\w\b|\b5g\b"
C = 16.0
KEYWORD_WEIGHT = 0.3
"""Scale of a keyword-group column: log(1 + matches) times this."""

# Each group is one regular expression over normalised (lower-cased) text. Topic groups
# follow LABELS.md's "Yes" lists, near-miss groups its "No" lists. Order matters: all
# groups form one alternation, so a near-miss phrase ("OPEC and its allies", "electricity
# tariffs", "5G spectrum") listed first claims its words before a topic group can.
_KEYWORD_TABLE: dict[str, str] = {
    "non_state_alliance": (
        r"star alliance|oneworld|skyteam|opec\+|opec and (?:its )?allies|renault-nissan"
        r"|alliance (?:bernstein|data)|boots alliance|taxpayers' alliance"
        r"|(?:airline|carmaker|strategic|research|retail|electoral|governing|opposition"
        r"|business|marketing|technology|tech|industry|pharmaceutical) alliances?"
        r"|(?:political|party|tory|republican|democratic|conservative|labour|liberal"
        r"|close|longtime|loyal|business|local|tribal|rebel|militant|militia) allies"
        r"|allies (?:in|on) (?:congress|parliament|capitol hill|the senate|the house)"
        r"|allied militias?"
    ),
    "alliance_terms": (
        r"allies|allied|ally|alliances?|nato|five eyes|aukus|anzus|thaad"
        r"|the quad|quad (?:leaders|summit|partners|countries|nations|members|grouping)"
        r"|mutual[- ]defen[cs]e|collective defen[cs]e|article 5"
        r"|(?:defen[cs]e|security) (?:treaty|treaties|pact|pacts|alliance|commitments?)"
        r"|joint (?:military )?(?:exercises?|drills?|patrols?)"
    ),
    "trade_conflict": (
        r"trade (?:war|wars|dispute|disputes|fight|battle|tensions?|frictions?|spat|row"
        r"|conflict|feud|standoff|talks|truce|hostilities)"
        r"|tariff (?:war|fight|battle|dispute|threats?|truce)|protectionis\w*|decoupl\w*"
        r"|section 301|section 232|phase one deal|wto (?:case|dispute|complaint|challenge)"
    ),
    "trade_agreements": (
        r"free[- ]trade (?:agreements?|areas?|pacts?|zones?|deals?|ports?|talks)|ftas?"
        r"|zero[- ]tariffs?|preferential tariffs?|tariff-free|duty-free|rcep"
        r"|tariff (?:cuts?|reductions?|concessions?)|(?:lower|lowers|cut|cuts) (?:import )?"
        r"tariffs"
    ),
    "price_tariffs": (
        r"(?:electricity|energy|power|water|broadband|mobile|gas|rail|fixed[- ]rate"
        r"|feed-in|social|unlimited|hotel|airport|handling|interconnection) tariffs?"
    ),
    "consumer_5g": (
        r"5g (?:phones?|handsets?|smartphones?|spectrum|auctions?|airwaves|coverage"
        r"|plans?|tariffs?|stocks?|plays?|modems?|chips?|subscribers?)"
        r"|spectrum auctions?|(?:flagship|foldable) (?:phone|smartphone|handset)s?"
    ),
}


KeywordGroupSpec = tuple[tuple[str, str], ...]
"""(name, regular expression) pairs, in matching order."""
KEYWORD_GROUPS: KeywordGroupSpec = tuple(_KEYWORD_TABLE.items())


@functools.cache
def compile_keyword_groups(groups: KeywordGroupSpec) -> re.Pattern[str]:
    """One alternation with a named group per keyword group: a single pass per text."""
    parts = (f"(?P<{name}>{pattern})" for name, pattern in groups)
    # "(?<!\w)" equals a leading "\b" here (every group starts with a word character)
    # and lets the engine skip positions faster: a quarter less time per text.
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")\b")


def keyword_counts(pattern: re.Pattern[str], normalised: str) -> list[int]:
    """How many matches of each group of a compiled `pattern` a normalised text holds."""
    counts = dict.fromkeys(pattern.groupindex, 0)
    for match in pattern.finditer(normalised):
        counts[str(match.lastgroup)] += 1
    return list(counts.values())


class KeywordGroups(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Stateless transformer: one log-count column per keyword group.

    The groups are a parameter, so a fitted model carries the exact expressions it was
    trained with rather than whatever the module holds when it is loaded.
    """

    def __init__(
        self,
        groups: KeywordGroupSpec = KEYWORD_GROUPS,
        weight: float = KEYWORD_WEIGHT,
    ) -> None:
        self.groups = groups
        self.weight = weight

    def fit(self, texts: Iterable[str], y: Any = None) -> KeywordGroups:
        """Nothing to learn; present for the scikit-learn API."""
        return self

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        """Keyword-group columns for raw texts."""
        pattern = compile_keyword_groups(self.groups)
        rows = [keyword_counts(pattern, normalise_text(text)) for text in texts]
        values: NDArray[np.float64] = np.log1p(np.asarray(rows, dtype=np.float64))
        return sp.csr_matrix(values.reshape(-1, len(self.groups)) * self.weight)

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> Any:
        """Readable column names, e.g. `[alliance_terms]`."""
        return np.array([f"[{name}]" for name, _ in self.groups], dtype=object)


def build_pipeline(seed: int = 0) -> Pipeline:
    """Build the untrained topic pipeline: words, bigrams and keyword groups; one LR per label."""
    words = TfidfVectorizer(
        preprocessor=normalise_text,
        ngram_range=(1, 2),
        min_df=2,
        sublinear_tf=True,
        token_pattern=WORD_PATTERN,
    )
    features = FeatureUnion(
        [("words", words), ("keywords", KeywordGroups())],
        verbose_feature_names_out=False,
    )
    classifier = OneVsRestClassifier(
        LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=seed)
    )
    return Pipeline([("features", features), ("clf", classifier)])
