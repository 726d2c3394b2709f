"""Article events: raw bytes or dicts validated into `Event`, with size and field limits."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from model.errors import InvalidEvent

DEFAULT_MAX_EVENT_BYTES = 1_048_576
MAX_ID_CHARS = 512
MAX_NESTING = 64
"""Deepest nesting of arrays/objects accepted: far beyond any article, and well inside
what the JSON encoder can write back without hitting the recursion limit."""
TEXT_FIELDS = ("headline", "body")
OPTIONAL_STRING_FIELDS = ("url", "source", "language", "published_at")
# RFC 3339 date-time: date, "T" or space, time, optional fraction, zone (Z or +hh:mm).
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class Event:
    """One valid article event: its id, its text fields, and the whole original object."""

    id: str
    headline: str
    body: str
    fields: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def text(self) -> str:
        """Headline and body as one text, the unit both classifiers read."""
        return article_text(self.headline, self.body)


def article_text(headline: str, body: str) -> str:
    """Join a headline and body the way every model input and evidence offset does."""
    if headline and body:
        return f"{headline}\n\n{body}"
    return headline or body


def body_offset(headline: str, body: str) -> int:
    """Where the body starts inside `article_text(headline, body)`."""
    return len(headline) + 2 if headline and body else 0


def parse_event(raw: bytes, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> Event:
    """Decode and validate one event from the bytes of a Kafka record value.

    Raises:
        InvalidEvent: with the reason and a message naming what was expected.
    """
    if raw is None:
        raise InvalidEvent("not_json", "expected a JSON object, got an empty record")
    if len(raw) > max_bytes:
        raise InvalidEvent(
            "too_large",
            f"event is {_size(len(raw))}, limit {_size(max_bytes)}",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent(
            "not_utf8", f"expected UTF-8, invalid byte at position {exc.start}"
        ) from exc
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise InvalidEvent("not_json", f"expected JSON: {exc.msg} at {exc.pos}") from exc
    except RecursionError as exc:
        raise InvalidEvent("not_json", "expected JSON: nested too deeply") from exc
    except InvalidEvent:
        raise
    except ValueError as exc:  # e.g. an integer literal longer than Python's 4,300 digits
        raise InvalidEvent("not_json", f"expected JSON: {str(exc)[:120]}") from exc
    _check_nesting(value)
    return validate_event(value)


def _reject_constant(name: str) -> float:
    raise InvalidEvent("not_json", f"expected JSON: {name} is not a JSON number")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise InvalidEvent(
            "not_json", f"expected a finite number, got {literal[:24]!r}"
        )
    return number


def _check_nesting(value: object) -> None:
    """Reject documents nested deeper than MAX_NESTING (checked without recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_NESTING:
            raise InvalidEvent(
                "not_json", f"expected JSON nested at most {MAX_NESTING} deep, got deeper"
            )
        stack.extend((child, depth + 1) for child in children)


def validate_event(value: object) -> Event:
    """Validate an already decoded JSON value as an article event.

    Raises:
        InvalidEvent: with the reason and a message naming what was expected.
    """
    if not isinstance(value, dict):
        raise InvalidEvent(
            "not_object", f"expected a JSON object, got {_json_type(value)}"
        )
    event_id = _require_id(value)
    for name in OPTIONAL_STRING_FIELDS:
        _optional_string(value, name)
    headline = _optional_string(value, "headline")
    body = _optional_string(value, "body")
    if not headline.strip() and not body.strip():
        raise InvalidEvent(
            "no_text", "expected a non-empty 'headline' or 'body', got neither"
        )
    published_at = value.get("published_at")
    if published_at and not _is_rfc3339(published_at):
        raise InvalidEvent(
            "invalid_value",
            f"field 'published_at' must be an RFC 3339 date-time, got {published_at[:40]!r}",
        )
    return Event(id=event_id, headline=headline, body=body, fields=value)


def _require_id(value: dict[str, Any]) -> str:
    if "id" not in value:
        raise InvalidEvent("missing_field", "field 'id' is missing")
    event_id = value["id"]
    if not isinstance(event_id, str):
        raise InvalidEvent(
            "wrong_type", f"field 'id' must be a string, got {_json_type(event_id)}"
        )
    if not event_id.strip():
        raise InvalidEvent("invalid_value", "field 'id' must not be empty")
    if len(event_id) > MAX_ID_CHARS:
        raise InvalidEvent(
            "invalid_value",
            f"field 'id' is {len(event_id)} characters, limit {MAX_ID_CHARS}",
        )
    return event_id


def _optional_string(value: dict[str, Any], name: str) -> str:
    item = value.get(name)
    if item is None:
        return ""
    if not isinstance(item, str):
        raise InvalidEvent(
            "wrong_type", f"field '{name}' must be a string, got {_json_type(item)}"
        )
    return item


def _is_rfc3339(text: str) -> bool:
    if not _RFC3339.match(text):
        return False
    try:
        datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _size(n_bytes: int) -> str:
    if n_bytes >= 1_048_576:
        return f"{n_bytes / 1_048_576:.1f} MB"
    if n_bytes >= 1024:
        return f"{n_bytes / 1024:.1f} KB"
    return f"{n_bytes} bytes"
