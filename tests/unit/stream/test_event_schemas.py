"""The shipped JSON Schemas describe what the service really reads and writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from model import Classifier
from stream.processor import InputRecord, process_batch

REPO = Path(__file__).resolve().parents[3]
SCHEMAS = REPO / "schemas"
SAMPLES = REPO / "samples" / "articles.jsonl"


def _validator(name: str) -> Draft202012Validator:
    registry: Registry = Registry()
    for path in SCHEMAS.glob("*.schema.json"):
        document = json.loads(path.read_text())
        registry = registry.with_resource(document["$id"], Resource.from_contents(document))
    return Draft202012Validator(json.loads((SCHEMAS / name).read_text()), registry=registry)


def _sample_lines() -> list[bytes]:
    return [line for line in SAMPLES.read_bytes().splitlines() if line.strip()]


class TestSchemas:
    def test_schemas_are_valid_draft_2020_12(self) -> None:
        """Both schema documents are themselves valid JSON Schemas."""
        for path in SCHEMAS.glob("*.schema.json"):
            Draft202012Validator.check_schema(json.loads(path.read_text()))

    def test_enriched_output_matches_its_schema(self, tiny_classifier: Classifier) -> None:
        """Every enriched event the processor builds from the samples validates."""
        records = [InputRecord("articles", 0, i, None, line, 0)
                   for i, line in enumerate(_sample_lines())]
        result = process_batch(records, tiny_classifier, output_topic="o", dlq_topic="d",
                               max_event_bytes=1 << 20, processed_at="2026-01-01T00:00:00Z")
        assert result.outputs
        validator = _validator("enriched-article.schema.json")
        for out in result.outputs:
            errors = list(validator.iter_errors(json.loads(out.value)))
            assert not errors, errors[0].message

    @pytest.mark.parametrize("line", [b'{"id": "x"}', b'{"id": 3, "headline": "h"}',
                                      b'{"headline": "h"}', b'{"id": "x", "headline": " "}'])
    def test_input_schema_rejects_what_the_service_dead_letters(self, line: bytes) -> None:
        """Inputs the service dead-letters are also invalid under the input schema."""
        assert list(_validator("article.schema.json").iter_errors(json.loads(line)))

    def test_samples_hold_valid_and_malformed_events(self) -> None:
        """The demo samples include valid articles and events the schema rejects."""
        validator = _validator("article.schema.json")
        verdicts = []
        for line in _sample_lines():
            try:
                verdicts.append(not list(validator.iter_errors(json.loads(line))))
            except ValueError:
                verdicts.append(False)
        assert verdicts.count(True) >= 30
        assert verdicts.count(False) >= 5
