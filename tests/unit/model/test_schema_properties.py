"""Property tests: any bytes end up classified or dead-lettered with a known reason."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from model import INVALID_REASONS, Classifier, InvalidEvent, parse_event
from stream.processor import InputRecord, process_batch

MAX_BYTES = 1_048_576
PROCESSED_AT = "2026-01-01T00:00:00.000+00:00"
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Characters that upset text handling: zero-width, bidi controls, BOM, NUL, RTL scripts,
# combining marks, astral emoji, and lone surrogates (JSON "\ud800" decodes to one).
AWKWARD = "\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u202a\u202b\u202c\u202d\u202e" \
          "\u2066\u2067\u2068\u2069\x00\u0301\u0627\u05d0\U0001f600\ud800\udfff"
awkward_text = st.text(
    alphabet=st.one_of(st.sampled_from(AWKWARD), st.characters(codec="utf-8"),
                       st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)),
    max_size=60,
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    awkward_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(awkward_text, inner, max_size=4),
    max_leaves=12,
)
# Event-shaped objects whose fields may hold numbers, nulls, lists... where strings belong.
field_values = st.one_of(awkward_text, awkward_text, scalars, json_values)
events = st.fixed_dictionaries(
    {},
    optional={
        "id": field_values,
        "headline": field_values,
        "body": field_values,
        "url": field_values,
        "source": field_values,
        "language": field_values,
        "published_at": st.one_of(field_values, st.just("2026-03-01T10:00:00Z")),
        "extra": json_values,
    },
)
INVALID_UTF8 = [b"\xff", b"\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\x80", b"\xf8"]


def _not_json(name: str) -> None:
    raise AssertionError(f"the output holds {name}, which is not JSON")


def _encode(value: Any) -> bytes:
    """JSON bytes as an upstream producer would write them (surrogates as escapes)."""
    return json.dumps(value, ensure_ascii=True).encode()


def _check(raw: bytes, classifier: Classifier, max_bytes: int = MAX_BYTES) -> str:
    """Run one record through parsing and the batch step; check every invariant.

    Returns "classified" or the dead-letter reason.
    """
    try:
        parse_event(raw, max_bytes)
        parsed = "classified"
    except InvalidEvent as error:
        assert error.reason in INVALID_REASONS
        assert error.message
        parsed = error.reason
    record = InputRecord("in", 0, 7, b"k", raw, 1_700_000_000_000, [("trace", b"\xff")])
    result = process_batch([record], classifier, output_topic="out", dlq_topic="dlq",
                           max_event_bytes=max_bytes, processed_at=PROCESSED_AT)
    assert len(result.outputs) + len(result.dead_letters) == 1
    if result.outputs:
        out = result.outputs[0]
        assert isinstance(out.value, bytes) and isinstance(out.key, bytes)
        document = json.loads(out.value, parse_constant=_not_json)  # strict JSON
        assert document["enrichment"]["schema_version"] == 1
        assert set(document["enrichment"]["scores"]) == set(classifier.labels)
        assert all(math.isfinite(s) for s in document["enrichment"]["scores"].values())
        outcome = "classified"
    else:
        letter = result.dead_letters[0]
        headers = dict(letter.headers)
        outcome = headers["error.type"].decode()
        assert outcome in INVALID_REASONS
        assert letter.value == raw
        assert headers["source.offset"] == b"7"
        assert all(isinstance(v, bytes) for v in headers.values())
    assert outcome == parsed
    return outcome


class TestAnyInput:
    @FAST
    @given(raw=st.binary(max_size=2048))
    @example(raw=b"")
    @example(raw=b"\x00" * 64)
    @example(raw=b"null")
    def test_random_bytes(self, raw: bytes, tiny_classifier: Classifier) -> None:
        """Arbitrary bytes never raise anything but InvalidEvent."""
        _check(raw, tiny_classifier)

    @FAST
    @given(value=json_values)
    def test_any_json_value(self, value: Any, tiny_classifier: Classifier) -> None:
        """Any JSON document (arrays, scalars, nested objects) is classified or rejected."""
        _check(_encode(value), tiny_classifier)

    @FAST
    @given(event=events)
    @example(event={"id": "\ud800", "headline": "\udfff lone surrogates"})
    @example(event={"id": "\u200b", "headline": "\u202eRTL override \u200f"})
    @example(event={"id": "nul\x00", "headline": "NUL\x00inside", "body": "\x00"})
    @example(event={"id": 7, "headline": "numeric id"})
    @example(event={"id": None, "headline": None, "body": None})
    @example(event={"id": "x", "headline": 1.5, "body": ["list"]})
    @example(event={"id": "x", "headline": "h", "published_at": 20260101})
    def test_event_shaped_objects(self, event: dict[str, Any],
                                  tiny_classifier: Classifier) -> None:
        """Wrong types, nulls, zero-width, RTL, NUL and lone surrogates: no escape."""
        outcome = _check(_encode(event), tiny_classifier)
        valid_id = isinstance(event.get("id"), str) and event["id"].strip()
        if outcome == "classified":
            assert valid_id

    @FAST
    @given(event=events, bad=st.sampled_from(INVALID_UTF8), at=st.integers(0, 10_000))
    def test_invalid_utf8_anywhere(self, event: dict[str, Any], bad: bytes, at: int,
                                   tiny_classifier: Classifier) -> None:
        """An invalid UTF-8 sequence anywhere in the bytes is dead-lettered as not_utf8."""
        raw = _encode(event)
        at = at % (len(raw) + 1)
        assert _check(raw[:at] + bad + raw[at:], tiny_classifier) == "not_utf8"

    @FAST
    @given(text=awkward_text.filter(lambda t: t.strip()), escaped=st.booleans())
    def test_awkward_text_is_classified(self, text: str, escaped: bool,
                                        tiny_classifier: Classifier) -> None:
        """Valid events whose text is nothing but awkward characters are still classified."""
        event = {"id": f"id-{text}", "headline": text, "body": text * 3}
        raw = json.dumps(event, ensure_ascii=escaped).encode("utf-8", "surrogatepass")
        outcome = _check(raw, tiny_classifier)
        if not escaped and any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            assert outcome == "not_utf8"  # a surrogate written raw is not valid UTF-8
        else:
            assert outcome == "classified"

    @pytest.mark.parametrize("raw", [b'{"id":"a","headline":"x\x00y"}',
                                     b'\x00{"id":"a","headline":"x"}',
                                     b'{"id":"a\x00","headline":"x"}'])
    def test_raw_nul_bytes_are_not_json(self, raw: bytes, tiny_classifier: Classifier) -> None:
        """A raw NUL byte (not the escape \\u0000) is a JSON syntax error, dead-lettered."""
        assert _check(raw, tiny_classifier) == "not_json"


class TestSizeAndDepth:
    @pytest.mark.parametrize("depth", [10, 200, 2_000, 100_000])
    def test_deep_nesting_outside_the_recursion_limit(
        self, depth: int, tiny_classifier: Classifier
    ) -> None:
        """Deeply nested arrays and objects are classified when shallow, not_json when deep."""
        for opening, closing in ((b"[", b"]"), (b'{"a":', b"}")):
            raw = b'{"id":"deep","headline":"h","x":' + opening * depth + b"1" \
                + closing * depth + b"}"
            _check(raw, tiny_classifier, max_bytes=10_000_000)

    def test_ten_megabyte_bodies_are_rejected_before_parsing(
        self, tiny_classifier: Classifier
    ) -> None:
        """A 10 MB event is dead-lettered as too_large by its length alone."""
        for raw in (_encode({"id": "big", "body": "France " * 1_500_000}),
                    b"\xff" * 10_000_000, b"[" * 10_000_000):
            assert _check(raw, tiny_classifier) == "too_large"

    def test_nesting_at_the_recursion_limit(self, tiny_classifier: Classifier) -> None:
        """Every nesting depth around the interpreter's limit is classified or rejected."""
        for depth in range(900, 1_050):
            raw = b'{"id":"deep","headline":"h","x":' + b"[" * depth + b"]" * depth + b"}"
            _check(raw, tiny_classifier)

    def test_huge_integers(self, tiny_classifier: Classifier) -> None:
        """An integer literal of 5,000 digits is dead-lettered, not raised."""
        raw = b'{"id":"n","headline":"h","x":' + b"9" * 5_000 + b"}"
        assert _check(raw, tiny_classifier) == "not_json"

    def test_non_finite_numbers_do_not_reach_the_output(
        self, tiny_classifier: Classifier
    ) -> None:
        """NaN/Infinity literals are rejected, so every output parses as strict JSON."""
        for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
            raw = b'{"id":"n","headline":"h","x":' + literal + b"}"
            assert _check(raw, tiny_classifier) == "not_json"
