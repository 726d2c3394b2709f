"""The artifact on disk: saved with a manifest, loaded only when it can be trusted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model import ArtifactError, load_model, read_manifest
from model.artifact import MANIFEST_FILE, MODEL_FILE


@pytest.fixture
def artifact(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model artifact that a test may damage."""
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    return copy


class TestArtifact:
    def test_manifest_describes_the_model(self, artifact: Path) -> None:
        """The manifest names version, hash, labels, thresholds and sklearn version."""
        manifest = read_manifest(artifact)
        assert manifest.labels == ("trade_war", "5g_security", "alliances")
        assert set(manifest.thresholds) == set(manifest.labels)
        assert len(manifest.sha256) == 64
        assert manifest.extra["data_sha256"]

    def test_tampered_file_is_refused(self, artifact: Path) -> None:
        """A model file whose hash differs from the manifest's is not loaded."""
        with (artifact / MODEL_FILE).open("ab") as handle:
            handle.write(b"tampered")
        with pytest.raises(ArtifactError, match="sha256"):
            load_model(artifact)

    def test_world_writable_file_is_refused(self, artifact: Path) -> None:
        """A model file anyone could replace is not loaded."""
        (artifact / MODEL_FILE).chmod(0o666)
        with pytest.raises(ArtifactError, match="world-writable"):
            load_model(artifact)

    def test_other_sklearn_version_is_refused(self, artifact: Path) -> None:
        """A model trained with another scikit-learn version is not loaded."""
        document = json.loads((artifact / MANIFEST_FILE).read_text())
        document["sklearn_version"] = "0.1.0"
        (artifact / MANIFEST_FILE).write_text(json.dumps(document))
        with pytest.raises(ArtifactError, match=r"scikit-learn 0\.1\.0"):
            load_model(artifact)

    def test_missing_artifact_says_how_to_build_one(self, tmp_path: Path) -> None:
        """A missing artifact names the path and the command that builds it."""
        with pytest.raises(ArtifactError, match="geowire train"):
            load_model(tmp_path / "nowhere")
