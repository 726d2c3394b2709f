"""The model artifact on disk: a joblib file beside a manifest that vouches for it."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.exceptions import InconsistentVersionWarning

from model.errors import ArtifactError

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
MODEL_NAME = "geowire-topics"


@dataclass(frozen=True)
class Manifest:
    """What the manifest says about the joblib file beside it."""

    name: str
    version: str
    sha256: str
    labels: tuple[str, ...]
    thresholds: dict[str, float]
    sklearn_version: str
    extra: dict[str, Any]


def save_artifact(
    directory: Path,
    payload: dict[str, Any],
    *,
    version: str,
    labels: tuple[str, ...],
    thresholds: dict[str, float],
    extra: dict[str, Any] | None = None,
) -> Manifest:
    """Write `payload` with joblib and a manifest holding its sha256; return the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    joblib.dump(payload, model_path, compress=3)
    os.chmod(model_path, 0o644)
    manifest = Manifest(
        name=MODEL_NAME,
        version=version,
        sha256=file_sha256(model_path),
        labels=labels,
        thresholds=thresholds,
        sklearn_version=sklearn.__version__,
        extra=extra or {},
    )
    document = {
        "name": manifest.name,
        "version": manifest.version,
        "sha256": manifest.sha256,
        "labels": list(labels),
        "thresholds": thresholds,
        "sklearn_version": manifest.sklearn_version,
        **manifest.extra,
    }
    (directory / MANIFEST_FILE).write_text(json.dumps(document, indent=2) + "\n")
    return manifest


def read_manifest(directory: Path) -> Manifest:
    """Read and check the manifest of an artifact directory.

    Raises:
        ArtifactError: when the manifest is missing or lacks a required field.
    """
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise ArtifactError(
            f"no model manifest at {path}: build one with 'geowire train' "
            "or point GEOWIRE_MODEL_PATH at an artifact directory"
        )
    try:
        document = json.loads(path.read_text())
        known = {"name", "version", "sha256", "labels", "thresholds", "sklearn_version"}
        return Manifest(
            name=str(document["name"]),
            version=str(document["version"]),
            sha256=str(document["sha256"]),
            labels=tuple(document["labels"]),
            thresholds={k: float(v) for k, v in document["thresholds"].items()},
            sklearn_version=str(document["sklearn_version"]),
            extra={k: v for k, v in document.items() if k not in known},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArtifactError(f"model manifest {path} is malformed: {exc!r}") from exc


def load_payload(directory: Path) -> tuple[Manifest, dict[str, Any]]:
    """Load the joblib payload after checking permissions, hash and scikit-learn version.

    joblib files are pickles and run code when loaded, so only a file whose hash the
    manifest vouches for, and that no other user may rewrite, is opened.

    Raises:
        ArtifactError: when any check fails.
    """
    manifest = read_manifest(directory)
    model_path = directory / MODEL_FILE
    if not model_path.is_file():
        raise ArtifactError(f"model file {model_path} is missing")
    _refuse_world_writable(model_path)
    _refuse_world_writable(directory / MANIFEST_FILE)
    actual = file_sha256(model_path)
    if actual != manifest.sha256:
        raise ArtifactError(
            f"model file {model_path} has sha256 {actual[:12]}…, "
            f"but its manifest expects {manifest.sha256[:12]}…; refusing to load it"
        )
    if manifest.sklearn_version != sklearn.__version__:
        raise ArtifactError(
            f"model was trained with scikit-learn {manifest.sklearn_version}, "
            f"but {sklearn.__version__} is installed; retrain with 'geowire train'"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            payload = joblib.load(model_path)
        except InconsistentVersionWarning as exc:
            raise ArtifactError(f"model file {model_path}: {exc}") from exc
    if not isinstance(payload, dict):
        raise ArtifactError(
            f"model file {model_path} holds {type(payload).__name__}, expected a dict"
        )
    return manifest, payload


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _refuse_world_writable(path: Path) -> None:
    if path.stat().st_mode & stat.S_IWOTH:
        raise ArtifactError(
            f"{path} is world-writable; refusing to load a model anyone could replace "
            f"(chmod o-w {path})"
        )
