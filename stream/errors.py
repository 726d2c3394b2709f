"""Errors raised by the stream package.

Hierarchy::

    StreamError
    ├── ConfigError (also ValueError)   a setting is missing or out of range: exit 2
    ├── DeliveryError                   an output was not acknowledged: batch not committed
    │                                   (retriable: the batch is re-read and re-sent)
    └── BrokerUnavailable               the broker stayed unreachable past the timeout: exit 1
"""

from __future__ import annotations


class StreamError(Exception):
    """Base class of every error the stream package raises on purpose."""

    retriable = False


class ConfigError(StreamError, ValueError):
    """A setting is missing, malformed or out of range; names the variable and value."""


class DeliveryError(StreamError):
    """The broker did not acknowledge every output of a batch."""

    retriable = True


class BrokerUnavailable(StreamError):
    """The broker could not be reached within the configured time."""
