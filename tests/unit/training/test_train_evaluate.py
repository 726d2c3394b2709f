"""`train` and `evaluate` on the small fixture corpus: they run and report what they promise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model import load_model
from tests.conftest import MINI_CORPUS
from training.__main__ import evaluate_main, train_main
from training.data import DatasetError, load_examples
from training.scoring import best_threshold, set_prf


class TestTrain:
    def test_train_writes_artifact_and_card(self, tmp_path: Path) -> None:
        """Training writes a loadable artifact, a manifest with CV metrics and a card."""
        assert train_main(["--data", str(MINI_CORPUS), "--out", str(tmp_path), "--folds",
                           "3"]) == 0
        manifest = json.loads((tmp_path / "manifest.json").read_text())
        assert set(manifest["cv_metrics"]) == {"trade_war", "5g_security", "alliances",
                                               "macro"}
        assert "| trade_war |" in (tmp_path / "MODEL_CARD.md").read_text()
        assert load_model(tmp_path).labels == ("trade_war", "5g_security", "alliances")

    def test_training_is_deterministic_for_a_seed(self, tmp_path: Path) -> None:
        """Two runs with the same seed and data produce the same thresholds and version."""
        for name in ("a", "b"):
            train_main(["--data", str(MINI_CORPUS), "--out", str(tmp_path / name),
                        "--folds", "3", "--seed", "7"])
        a, b = (json.loads((tmp_path / n / "manifest.json").read_text()) for n in "ab")
        assert (a["thresholds"], a["version"], a["cv_metrics"]) == (
            b["thresholds"], b["version"], b["cv_metrics"])


class TestEvaluate:
    def test_evaluate_reports_labels_countries_and_errors(
        self, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The JSON report has per-label P/R/F1, macro-F1, country figures, worst errors."""
        assert evaluate_main(["--data", str(MINI_CORPUS), "--model-path",
                              str(tiny_model_dir), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert set(report["topics"]) == {"trade_war", "5g_security", "alliances"}
        assert 0.0 <= report["macro_f1"] <= 1.0
        assert {"precision", "recall", "f1"} <= set(report["countries"])
        assert isinstance(report["worst_errors"], list)


class TestData:
    def test_unknown_topic_is_rejected_with_its_line(self, tmp_path: Path) -> None:
        """A record with a topic outside LABELS.md names the file line and the topic."""
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"id": "1", "headline": "h", "topics": ["weather"]}\n')
        with pytest.raises(DatasetError, match=r"bad.jsonl:1: unknown topics \['weather'\]"):
            load_examples(bad)

    def test_duplicate_ids_are_rejected(self, tmp_path: Path) -> None:
        """Two records with one id are an error."""
        bad = tmp_path / "dup.jsonl"
        bad.write_text('{"id": "1", "headline": "h", "topics": []}\n' * 2)
        with pytest.raises(DatasetError, match="duplicate id"):
            load_examples(bad)


class TestScoring:
    def test_set_prf_counts_pairs(self) -> None:
        """Micro P/R/F1 over article x country pairs."""
        result = set_prf([{"US", "CN"}, {"KR"}], [{"US"}, {"KR", "JP"}])
        assert (result.true_positives, result.false_positives, result.false_negatives) == (
            2, 1, 1)
        assert result.f1 == pytest.approx(2 / 3)

    def test_best_threshold_separates_clean_scores(self) -> None:
        """With perfectly separable scores the chosen threshold gives F1 = 1."""
        threshold, f1 = best_threshold([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1])
        assert f1 == 1.0
        assert 0.2 < threshold <= 0.8
