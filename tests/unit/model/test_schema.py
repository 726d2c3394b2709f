"""Event parsing and validation: every kind of bad input gets a clear reason."""

from __future__ import annotations

import json

import pytest

from model import InvalidEvent, parse_event


def _raw(**fields: object) -> bytes:
    return json.dumps(fields).encode()


class TestValidEvents:
    def test_headline_only_is_enough(self) -> None:
        """An event with an id and a headline is valid, with an empty body."""
        event = parse_event(_raw(id="a1", headline="Tariffs rise"))
        assert (event.id, event.headline, event.body) == ("a1", "Tariffs rise", "")

    def test_body_only_is_enough(self) -> None:
        """An event with an id and only a body is valid."""
        assert parse_event(_raw(id="a2", body="Talks resumed.")).text == "Talks resumed."

    def test_unknown_fields_are_kept(self) -> None:
        """Fields the service does not know travel through untouched."""
        event = parse_event(_raw(id="a3", headline="h", section="World", tags=[1, 2]))
        assert event.fields["section"] == "World"
        assert event.fields["tags"] == [1, 2]

    def test_text_joins_headline_and_body(self) -> None:
        """The model text is the headline, a blank line, then the body."""
        assert parse_event(_raw(id="a4", headline="H", body="B")).text == "H\n\nB"

    def test_null_optional_fields_count_as_absent(self) -> None:
        """null in an optional string field is treated as missing, not as an error."""
        event = parse_event(_raw(id="a5", headline="H", body=None, url=None))
        assert event.body == ""

    @pytest.mark.parametrize("stamp", ["2019-05-23T08:30:00Z", "2021-01-02 03:04:05.5+09:00"])
    def test_rfc3339_timestamps_are_accepted(self, stamp: str) -> None:
        """published_at in RFC 3339 form passes."""
        assert parse_event(_raw(id="a6", headline="H", published_at=stamp))


class TestInvalidEvents:
    @pytest.mark.parametrize(
        ("raw", "reason", "says"),
        [
            (b'{"id": "x", "headline": "caf\xe9"}', "not_utf8", "UTF-8"),
            (b"plain words", "not_json", "expected JSON"),
            (b"", "not_json", "expected JSON"),
            (b"[1, 2]", "not_object", "got an array"),
            (b'"text"', "not_object", "got a string"),
            (b'{"headline": "h"}', "missing_field", "'id' is missing"),
            (b'{"id": 7, "headline": "h"}', "wrong_type", "got a number"),
            (b'{"id": null, "headline": "h"}', "wrong_type", "got null"),
            (b'{"id": "  ", "headline": "h"}', "invalid_value", "must not be empty"),
            (b'{"id": "x", "headline": 3}', "wrong_type", "'headline' must be a string"),
            (b'{"id": "x", "body": ["a"]}', "wrong_type", "got an array"),
            (b'{"id": "x", "headline": " ", "body": ""}', "no_text", "neither"),
            (b'{"id": "x"}', "no_text", "neither"),
            (b'{"id": "x", "headline": "h", "published_at": "May 3"}', "invalid_value",
             "RFC 3339"),
            (b'{"id": "x", "headline": "h", "url": 5}', "wrong_type", "'url'"),
        ],
    )
    def test_reason_and_message(self, raw: bytes, reason: str, says: str) -> None:
        """Each malformed input raises InvalidEvent naming what was expected."""
        with pytest.raises(InvalidEvent) as caught:
            parse_event(raw)
        assert caught.value.reason == reason
        assert says in caught.value.message

    def test_oversized_event_is_rejected_before_parsing(self) -> None:
        """An event over the byte limit is rejected with both sizes in the message."""
        raw = b'{"id": "x", "body": "' + b"a" * 3000 + b'"}'
        with pytest.raises(InvalidEvent) as caught:
            parse_event(raw, max_bytes=2048)
        assert caught.value.reason == "too_large"
        assert "limit 2.0 KB" in caught.value.message

    def test_deep_nesting_is_not_json(self) -> None:
        """JSON nested beyond the parser's depth is rejected, not a crash."""
        raw = b'{"id": "x", "headline": "h", "n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        with pytest.raises(InvalidEvent) as caught:
            parse_event(raw, max_bytes=1 << 20)
        assert caught.value.reason == "not_json"

    def test_invalid_event_is_a_value_error(self) -> None:
        """InvalidEvent is a ValueError, as callers outside geowire expect."""
        assert issubclass(InvalidEvent, ValueError)
