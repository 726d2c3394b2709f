"""geowire's model: event validation, topic and country classification, the artifact."""

from __future__ import annotations

from model.artifact import Manifest, read_manifest, save_artifact
from model.classifier import SCHEMA_VERSION, Classifier, load_model
from model.errors import (
    INVALID_REASONS,
    ArtifactError,
    InvalidEvent,
    InvalidReason,
    ModelError,
)
from model.pipeline import LABELS, build_pipeline
from model.schema import DEFAULT_MAX_EVENT_BYTES, Event, parse_event, validate_event

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "INVALID_REASONS",
    "LABELS",
    "SCHEMA_VERSION",
    "ArtifactError",
    "Classifier",
    "Event",
    "InvalidEvent",
    "InvalidReason",
    "Manifest",
    "ModelError",
    "build_pipeline",
    "load_model",
    "parse_event",
    "read_manifest",
    "save_artifact",
    "validate_event",
]
