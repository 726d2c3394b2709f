"""What training builds: the scorer's fast path, keyword groups, thresholds, reproducibility."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from model import LABELS, ArtifactError, build_pipeline
from model.pipeline import KEYWORD_GROUPS, compile_keyword_groups, keyword_counts
from model.text import normalise_text
from model.topics import TopicScorer
from tests.conftest import MINI_CORPUS
from training.data import label_matrix, load_examples
from training.train import THRESHOLD_GRID, stable_threshold, train

ODD_TEXTS = [
    "",
    "x",
    "<p>Tariffs &amp; duties</p>",
    "美国对中国商品加征关税",
    "word " * 5000,
    "\u200b\u202eabc\x00",
    "5G",
    "Allies, allies and NATO allies",
]


@pytest.fixture(scope="module")
def fitted() -> tuple[object, list[str]]:
    examples = load_examples(MINI_CORPUS)
    texts = [e.text for e in examples]
    return build_pipeline(0).fit(texts, np.array(label_matrix(examples))), texts


class TestTopicScorer:
    def test_fast_features_and_scores_match_the_pipeline(self, fitted) -> None:
        """The scorer's own feature path gives the pipeline's features and probabilities."""
        pipeline, texts = fitted
        scorer = TopicScorer(pipeline, LABELS)
        for batch in (texts, ODD_TEXTS, texts[:1]):
            expected = pipeline.named_steps["features"].transform(batch).tocsr()
            assert abs(scorer.features(batch) - expected).max() < 1e-12
            assert np.allclose(scorer.scores(batch), pipeline.predict_proba(batch))

    def test_an_empty_batch_has_no_rows(self, fitted) -> None:
        """Zero texts give a 0-row matrix, not an error."""
        pipeline, _ = fitted
        assert TopicScorer(pipeline, LABELS).features([]).shape[0] == 0

    def test_evidence_is_words_of_the_text_never_keyword_groups(self, fitted) -> None:
        """Explanations list the article's own terms, not the keyword-group columns."""
        pipeline, _ = fitted
        text = "Allies back NATO as tariffs rise in the trade war"
        scorer = TopicScorer(pipeline, LABELS)
        for label in LABELS:
            for term in scorer.explain(text, label):
                assert term in text.lower()


class TestKeywordGroups:
    @pytest.mark.parametrize(
        ("text", "group"),
        [
            ("OPEC and its allies agree to cut output", "non_state_alliance"),
            ("The senator's political allies objected", "non_state_alliance"),
            ("NATO allies meet in Brussels", "alliance_terms"),
            ("Electricity tariffs will rise", "price_tariffs"),
            ("The free trade agreement enters into force", "trade_agreements"),
            ("Fears of a trade war grow", "trade_conflict"),
            ("Regulator sets rules for the 5G spectrum auction", "consumer_5g"),
        ],
    )
    def test_a_phrase_counts_for_its_own_group_only(self, text: str, group: str) -> None:
        """Near-miss phrases claim their words before a topic group can."""
        pattern = compile_keyword_groups(KEYWORD_GROUPS)
        counts = dict(
            zip(dict(KEYWORD_GROUPS), keyword_counts(pattern, normalise_text(text)), strict=True)
        )
        assert counts[group] >= 1
        assert sum(counts.values()) == counts[group]


class TestThresholds:
    def test_stable_threshold_separates_clean_scores(self) -> None:
        """Separable held-out scores give a cut-off inside the gap, from the grid."""
        truth = np.array([1] * 50 + [0] * 50)
        scores = np.array([0.9] * 50 + [0.1] * 50)
        threshold = stable_threshold(truth, scores)
        assert threshold in THRESHOLD_GRID
        assert 0.1 < threshold <= 0.9

    def test_stable_threshold_lands_inside_the_plateau_of_best_cut_offs(self) -> None:
        """When a band of cut-offs separates the classes, the choice falls within it."""
        rng = np.random.default_rng(0)
        truth = np.array([1] * 200 + [0] * 200)
        scores = np.concatenate([rng.uniform(0.35, 0.95, 200), rng.uniform(0.05, 0.3, 200)])
        assert 0.3 < stable_threshold(truth, scores) <= 0.35


class TestReproducibility:
    def test_same_seed_gives_byte_identical_artifacts(self, tmp_path: Path) -> None:
        """Two trainings with one seed write the same model.joblib bytes."""
        for name in ("a", "b"):
            train(MINI_CORPUS, tmp_path / name, seed=3, folds=3)
        a, b = ((tmp_path / n / "model.joblib").read_bytes() for n in "ab")
        assert a == b


class TestScorerFormat:
    def test_a_scorer_pickled_in_an_older_layout_is_refused_clearly(self, fitted) -> None:
        """Unpickling a scorer of another format raises ArtifactError asking to retrain."""
        pipeline, _ = fitted
        scorer = TopicScorer(pipeline, LABELS)
        scorer.format = 1
        with pytest.raises(ArtifactError, match="retrain with 'geowire train'"):
            pickle.loads(pickle.dumps(scorer))  # noqa: S301 -- our own bytes, made just above
