"""Shared fixtures: a tiny model trained once per session from our own fixture corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import Classifier, load_model
from training.train import train

FIXTURES = Path(__file__).parent / "fixtures"
MINI_CORPUS = FIXTURES / "mini_corpus.jsonl"
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory of a model artifact trained on the 52-article fixture corpus."""
    out = tmp_path_factory.mktemp("model")
    train(MINI_CORPUS, out, seed=0, folds=3)
    return out


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model_dir: Path) -> Classifier:
    """The tiny model, loaded."""
    return load_model(tiny_model_dir)
