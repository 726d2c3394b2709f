"""`geowire classify`: article JSON lines in, enriched JSON lines out, no broker."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO

from model import DEFAULT_MAX_EVENT_BYTES, Classifier, Event, InvalidEvent, parse_event

CHUNK = 256


def classify_stream(
    classifier: Classifier,
    lines: Iterable[bytes],
    out: IO[str],
    err: IO[str],
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> tuple[int, int]:
    """Write one enriched line per valid input line; report invalid ones on `err`.

    Returns (valid, invalid) counts. The enrichment is the one the service writes.
    """
    valid = invalid = 0
    pending: list[Event] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            pending.append(parse_event(line, max_event_bytes))
        except InvalidEvent as exc:
            invalid += 1
            err.write(json.dumps({"line": number, "reason": exc.reason,
                                  "error": exc.message}) + "\n")
            continue
        if len(pending) >= CHUNK:
            valid += _flush(classifier, pending, out)
    valid += _flush(classifier, pending, out)
    return valid, invalid


def _flush(classifier: Classifier, events: list[Event], out: IO[str]) -> int:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    for event, enrichment in zip(events, classifier.classify(events, stamp), strict=True):
        document = dict(event.fields)
        document["enrichment"] = enrichment
        out.write(json.dumps(document, ensure_ascii=True) + "\n")
    count = len(events)
    events.clear()
    return count


def open_input(path: str) -> IO[bytes]:
    """The byte stream a FILE argument names ('-' is standard input)."""
    return sys.stdin.buffer if path == "-" else open(path, "rb")
