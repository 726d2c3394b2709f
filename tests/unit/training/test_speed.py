"""`geowire bench-model` on the fixture corpus: it runs and reports what it promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import MINI_CORPUS
from training.speed import bench_model_main, format_report


class TestBenchModel:
    def test_reports_baseline_classifier_and_countries_with_bars(
        self, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The JSON report times the baseline, the classifier and find_countries."""
        assert (
            bench_model_main(
                [
                    "--model-path",
                    str(tiny_model_dir),
                    "--data",
                    str(MINI_CORPUS),
                    "--rounds",
                    "2",
                    "--singles",
                    "5",
                    "--json",
                ]
            )
            == 0
        )
        report = json.loads(capsys.readouterr().out)
        names = [t["name"] for t in report["timings"]]
        assert names[0].startswith("baseline") and names[1].startswith("geowire")
        assert "find_countries" in names[2]
        for timing in report["timings"]:
            assert 0 < timing["batch_events_per_s"] <= timing["batch_best_events_per_s"]
            assert 0 < timing["single_p50_ms"] <= timing["single_p99_ms"]
        assert set(report["bars"]) == {"batch_events_per_s", "single_p50_ms"}
        assert "countries' share" in format_report(report)

    def test_missing_model_is_an_error_not_a_traceback(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A missing artifact exits 1 with a message on stderr."""
        assert (
            bench_model_main(["--model-path", str(tmp_path / "none"), "--data", str(MINI_CORPUS)])
            == 1
        )
        assert "geowire bench-model: error:" in capsys.readouterr().err
