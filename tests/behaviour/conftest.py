"""The trained artifact under test: artifacts/model (built by make), or one trained now."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import Classifier, load_model
from training.train import train

REPO = Path(__file__).resolve().parents[2]
ARTIFACT = REPO / "artifacts" / "model"


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Classifier:
    """The production model: the built artifact, or a fresh one from training/data."""
    if (ARTIFACT / "manifest.json").exists():
        return load_model(ARTIFACT)
    out = tmp_path_factory.mktemp("model")
    train(REPO / "training" / "data", out)
    return load_model(out)
