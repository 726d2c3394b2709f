"""The pure batch step: input records in, enriched outputs and dead letters out; no I/O."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from model import Classifier, Event, InvalidEvent, InvalidReason, parse_event

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class InputRecord:
    """One record read from the input topic, in the client's terms but not its types."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: Headers = field(default_factory=list)


@dataclass(frozen=True)
class OutputRecord:
    """One record to write: an enriched event or a dead letter."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers
    source_timestamp_ms: int


@dataclass
class BatchResult:
    """What one batch turned into, with the counts the metrics need."""

    outputs: list[OutputRecord] = field(default_factory=list)
    dead_letters: list[OutputRecord] = field(default_factory=list)
    invalid: Counter[InvalidReason] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    countries: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[InputRecord, InvalidEvent]] = field(default_factory=list)


@dataclass
class ParsedBatch:
    """A batch after validation: the events to classify, and the dead letters so far."""

    valid: list[tuple[InputRecord, Event]]
    result: BatchResult

    @property
    def events(self) -> list[Event]:
        """The valid events, in input order, for one model call."""
        return [event for _, event in self.valid]


def process_batch(
    records: Sequence[InputRecord],
    classifier: Classifier,
    *,
    output_topic: str,
    dlq_topic: str,
    max_event_bytes: int,
    processed_at: str,
) -> BatchResult:
    """Validate every record, classify the valid ones in one model call, build outputs.

    Only `InvalidEvent` is caught, per record: bad input becomes a dead letter with its
    original bytes. Anything else is a bug or a model failure and propagates, so the
    batch is not committed and will be read again.
    """
    parsed = parse_batch(records, dlq_topic=dlq_topic, max_event_bytes=max_event_bytes)
    enrichments = classifier.classify(parsed.events, processed_at)
    return add_enrichments(parsed, enrichments, output_topic)


def parse_batch(
    records: Sequence[InputRecord], *, dlq_topic: str, max_event_bytes: int
) -> ParsedBatch:
    """Validate every record: valid events to classify, dead letters for the rest."""
    parsed = ParsedBatch(valid=[], result=BatchResult())
    for record in records:
        try:
            parsed.valid.append((record, parse_event(record.value, max_event_bytes)))  # type: ignore[arg-type]
        except InvalidEvent as error:
            parsed.result.dead_letters.append(dead_letter(record, error, dlq_topic))
            parsed.result.invalid[error.reason] += 1
            parsed.result.rejected.append((record, error))
    return parsed


def add_enrichments(
    parsed: ParsedBatch, enrichments: Sequence[dict[str, Any]], output_topic: str
) -> BatchResult:
    """The batch's outputs: each valid event with its enrichment, as output records."""
    result = parsed.result
    for (record, event), enrichment in zip(parsed.valid, enrichments, strict=True):
        result.outputs.append(_enriched(record, event, enrichment, output_topic))
        result.labels.update(topic["label"] for topic in enrichment["topics"])
        result.countries.update(country["code"] for country in enrichment["countries"])
    return result


def dead_letter(record: InputRecord, error: InvalidEvent, dlq_topic: str) -> OutputRecord:
    """The dead-letter record for a rejected input: original bytes, reason in headers."""
    headers: Headers = [
        ("error.type", error.reason.encode()),
        ("error.message", error.message.encode("utf-8", "replace")[:1024]),
        ("source.topic", record.topic.encode()),
        ("source.partition", str(record.partition).encode()),
        ("source.offset", str(record.offset).encode()),
        ("source.timestamp", str(record.timestamp_ms).encode()),
    ]
    headers += [(k, v) for k, v in record.headers if not k.startswith(("error.", "source."))]
    return OutputRecord(
        topic=dlq_topic,
        key=record.key,
        value=record.value if record.value is not None else b"",
        headers=headers,
        source_timestamp_ms=record.timestamp_ms,
    )


def _enriched(
    record: InputRecord, event: Event, enrichment: dict[str, Any], output_topic: str
) -> OutputRecord:
    document = dict(event.fields)
    document["enrichment"] = enrichment
    return OutputRecord(
        topic=output_topic,
        key=event.id.encode("utf-8", "backslashreplace"),
        value=encode_json(document),
        headers=list(record.headers),
        source_timestamp_ms=record.timestamp_ms,
    )


def encode_json(document: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; falls back to ASCII escapes for text with lone surrogates."""
    try:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode()
