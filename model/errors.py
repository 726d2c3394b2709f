"""Errors raised by the model package.

Hierarchy::

    ModelError
    ├── InvalidEvent (also ValueError)   bad input: the event is dead-lettered, never a crash
    └── ArtifactError                    the model file is missing, tampered with or incompatible
"""

from __future__ import annotations

from typing import Literal, get_args

InvalidReason = Literal[
    "too_large",
    "not_utf8",
    "not_json",
    "not_object",
    "missing_field",
    "wrong_type",
    "invalid_value",
    "no_text",
]
"""Closed set of reasons an event is rejected; used as a metric label value."""

INVALID_REASONS: tuple[InvalidReason, ...] = get_args(InvalidReason)


class ModelError(Exception):
    """Base class of every error the model package raises on purpose."""


class InvalidEvent(ModelError, ValueError):
    """An input event that cannot be classified; says what was expected and what arrived."""

    def __init__(self, reason: InvalidReason, message: str) -> None:
        super().__init__(message)
        self.reason: InvalidReason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[InvalidEvent], tuple[InvalidReason, str]]:
        # Rejected records travel back from the classification worker process.
        return (InvalidEvent, (self.reason, self.message))


class ArtifactError(ModelError):
    """The model artifact is missing, does not match its manifest, or cannot be trusted."""
