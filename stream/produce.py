"""`geowire produce` and `geowire tail`: publish article lines, print enriched events."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

from stream.config import Settings
from stream.kafka_io import build_consumer, build_producer


def publish(
    settings: Settings, lines: Iterable[bytes], topic: str, rate: float = 0.0
) -> int:
    """Publish each line's bytes as one record, keyed by its id when it has one.

    Lines are sent as they are, so malformed events reach the service (and its
    dead-letter topic) exactly as a faulty upstream would send them.
    Returns the number of records acknowledged.
    """
    producer = build_producer(settings)
    futures = []
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    try:
        for line in lines:
            if interval:
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
            futures.append(producer.send(topic, value=line, key=event_key(line)))
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    return sum(1 for f in futures if f.succeeded())


def event_key(line: bytes) -> bytes | None:
    """The id of a JSON event as key bytes, or None for anything else."""
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"]).encode("utf-8", "backslashreplace")
    return None


def read_lines(handle: IO[bytes]) -> Iterator[bytes]:
    """Non-empty lines of a byte stream, without their line endings."""
    for line in handle:
        stripped = line.rstrip(b"\r\n")
        if stripped.strip():
            yield stripped


def follow(
    settings: Settings, topic: str, *, group_id: str | None, idle_exit_s: float = 0.0
) -> Iterator[Any]:
    """Yield records of `topic` from the beginning until interrupted (or idle)."""
    consumer = build_consumer(
        settings, group_id=group_id, enable_auto_commit=bool(group_id), max_poll_records=500
    )
    consumer.subscribe([topic])
    last = time.monotonic()
    try:
        while True:
            batches = consumer.poll(timeout_ms=200)
            for records in batches.values():
                yield from records
                last = time.monotonic()
            if idle_exit_s and time.monotonic() - last > idle_exit_s:
                return
    finally:
        consumer.close()


def describe(value: bytes | None, width: int = 72) -> str:
    """One readable line for an enriched event: id, topics with scores, countries."""
    try:
        event = json.loads(value or b"")
        enrichment = event["enrichment"]
    except (ValueError, KeyError, TypeError):
        return f"(not an enriched event: {(value or b'')[:60]!r})"
    topics = ", ".join(f"{t['label']} {t['score']:.2f}" for t in enrichment["topics"]) or "-"
    countries = " ".join(c["code"] for c in enrichment["countries"]) or "-"
    title = (event.get("headline") or event.get("body") or "").replace("\n", " ")
    if len(title) > width:
        title = title[: width - 1] + "…"
    return f"{event['id']:<14} topics: {topics:<48} countries: {countries}\n{'':<14} {title}"


def print_records(records: Iterable[Any], as_json: bool, out: IO[str] = sys.stdout) -> None:
    """Print each record as readable lines, or as its raw JSON value."""
    for record in records:
        if as_json:
            out.write((record.value or b"").decode("utf-8", "replace") + "\n")
        else:
            out.write(describe(record.value) + "\n")
        out.flush()
