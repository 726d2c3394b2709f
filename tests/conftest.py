"""Shared fixtures: a tiny model trained once per session from our own fixture corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from model import Classifier, load_model
from training.train import train

FIXTURES = Path(__file__).parent / "fixtures"
MINI_CORPUS = FIXTURES / "mini_corpus.jsonl"
# The workspace's shared material (LABELS.md, the seed article) lives beside the
# checkout, never inside it: its text is third-party and is read at test time only.
SHARED_CANDIDATES = [
    Path(os.environ["GEOWIRE_SHARED_DIR"]) if os.environ.get("GEOWIRE_SHARED_DIR") else None,
    Path(__file__).resolve().parents[2] / "shared",
    Path("/work/shared"),
]


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


@pytest.fixture(scope="session")
def seed_text() -> str:
    """The seed article (headline on the first line), read from the shared directory."""
    tried = [c / "seed" for c in SHARED_CANDIDATES if c is not None]
    for seed_dir in tried:
        files = sorted(seed_dir.glob("*.txt"))
        if files:
            return files[0].read_text(encoding="utf-8")
    pytest.fail(
        "the seed article is expected as shared/seed/*.txt beside the checkout "
        f"(or under GEOWIRE_SHARED_DIR); looked in {', '.join(map(str, tried))}"
    )
