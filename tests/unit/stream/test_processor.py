"""The pure batch step: valid events enriched, invalid ones dead-lettered with reasons."""

from __future__ import annotations

import json

from model import Classifier
from stream.processor import InputRecord, encode_json, process_batch


def _record(offset: int, value: bytes | None, headers: list | None = None) -> InputRecord:
    return InputRecord("articles", 2, offset, b"k", value, 1_700_000_000_000, headers or [])


def _run(classifier: Classifier, records: list[InputRecord]):
    return process_batch(records, classifier, output_topic="out", dlq_topic="dlq",
                         max_event_bytes=4096, processed_at="T")


class TestProcessBatch:
    def test_valid_and_invalid_are_split_with_counts(self, tiny_classifier: Classifier) -> None:
        """Valid records become outputs, invalid ones dead letters, counted by reason."""
        records = [
            _record(0, b'{"id": "a", "headline": "Tariffs on steel"}'),
            _record(1, b"nope"),
            _record(2, b'{"id": "b", "body": "Allies meet"}'),
            _record(3, None),
            _record(4, b'{"headline": "no id"}'),
        ]
        result = _run(tiny_classifier, records)
        assert [json.loads(o.value)["id"] for o in result.outputs] == ["a", "b"]
        assert len(result.dead_letters) == 3
        assert dict(result.invalid) == {"not_json": 2, "missing_field": 1}

    def test_output_is_input_plus_enrichment_keyed_by_id(
        self, tiny_classifier: Classifier
    ) -> None:
        """The output keeps every input field, adds `enrichment`, and is keyed by id."""
        value = b'{"id": "a", "headline": "h", "section": "World", "n": 3}'
        (out,) = _run(tiny_classifier, [_record(0, value, [("trace", b"1")])]).outputs
        document = json.loads(out.value)
        assert {k: document[k] for k in ("id", "headline", "section", "n")} == {
            "id": "a", "headline": "h", "section": "World", "n": 3}
        assert "enrichment" in document
        assert (out.topic, out.key, out.headers) == ("out", b"a", [("trace", b"1")])

    def test_dead_letter_keeps_original_bytes_and_names_source(
        self, tiny_classifier: Classifier
    ) -> None:
        """A dead letter carries the original bytes and reason/source headers."""
        raw = b'{"id": 5, "headline": "h"}'
        (dead,) = _run(tiny_classifier, [_record(41, raw)]).dead_letters
        headers = dict(dead.headers)
        assert dead.value == raw
        assert dead.topic == "dlq"
        assert headers["error.type"] == b"wrong_type"
        assert b"'id' must be a string" in headers["error.message"]
        assert (headers["source.topic"], headers["source.partition"],
                headers["source.offset"]) == (b"articles", b"2", b"41")

    def test_label_and_country_counts_match_outputs(self, tiny_classifier: Classifier) -> None:
        """The label counter sums the topics assigned across the batch's outputs."""
        records = [_record(i, json.dumps({"id": str(i), "headline": h}).encode())
                   for i, h in enumerate(["Tariffs and trade war", "NATO allies meet"])]
        result = _run(tiny_classifier, records)
        assigned = [t["label"] for o in result.outputs
                    for t in json.loads(o.value)["enrichment"]["topics"]]
        assert sum(result.labels.values()) == len(assigned)


class TestEncodeJson:
    def test_lone_surrogates_still_encode(self) -> None:
        """Text with a lone surrogate encodes (as an escape) instead of failing."""
        assert b"\\ud800" in encode_json({"headline": "a\ud800b"})

    def test_unicode_is_kept_as_utf8(self) -> None:
        """Ordinary non-ASCII text is written as UTF-8, not escaped."""
        assert "관세".encode() in encode_json({"headline": "관세"})
