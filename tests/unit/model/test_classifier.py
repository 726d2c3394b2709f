"""The enrichment the classifier returns: shape, ordering, thresholds and evidence."""

from __future__ import annotations

import json

from model import LABELS, SCHEMA_VERSION, Classifier, parse_event


def _event(event_id: str, headline: str, body: str = "") -> object:
    return parse_event(json.dumps({"id": event_id, "headline": headline, "body": body}).encode())


class TestEnrichmentShape:
    def test_every_field_is_present(self, tiny_classifier: Classifier) -> None:
        """An enrichment has schema version, topics, scores, countries, model, time."""
        (enrichment,) = tiny_classifier.classify([_event("e1", "Tariffs on steel")], "T")
        assert set(enrichment) == {"schema_version", "topics", "scores", "countries",
                                   "model", "processed_at"}
        assert enrichment["schema_version"] == SCHEMA_VERSION
        assert set(enrichment["scores"]) == set(LABELS)
        assert set(enrichment["model"]) == {"name", "version", "sha256"}
        assert enrichment["processed_at"] == "T"

    def test_topics_are_the_labels_over_threshold_highest_first(
        self, tiny_classifier: Classifier
    ) -> None:
        """Assigned topics are exactly the labels at or over threshold, best first."""
        events = [_event(f"e{i}", h) for i, h in enumerate([
            "Tariffs and retaliation as the trade war deepens",
            "Allies pressed to ban Huawei 5G gear over spying fears",
            "Local team wins the cup final",
        ])]
        for enrichment in tiny_classifier.classify(events, "T"):
            scores = enrichment["scores"]
            expected = {k for k, v in scores.items() if v >= tiny_classifier.thresholds[k]}
            labels = [t["label"] for t in enrichment["topics"]]
            assert set(labels) == expected
            assert [t["score"] for t in enrichment["topics"]] == sorted(
                (t["score"] for t in enrichment["topics"]), reverse=True)

    def test_assigned_topics_carry_evidence_terms_from_the_text(
        self, tiny_classifier: Classifier
    ) -> None:
        """Each assigned topic lists terms that occur in the article."""
        text = "Washington raises tariffs again in the trade war"
        (enrichment,) = tiny_classifier.classify([_event("e1", text)], "T")
        assert enrichment["topics"], "a clear trade-war headline should be assigned a topic"
        for topic in enrichment["topics"]:
            assert topic["evidence"]
            for term in topic["evidence"]:
                assert term in text.lower()

    def test_one_call_returns_one_enrichment_per_event_in_order(
        self, tiny_classifier: Classifier
    ) -> None:
        """A batch returns enrichments aligned with its events; empty gives empty."""
        events = [_event(f"e{i}", f"headline number {i}") for i in range(7)]
        assert len(tiny_classifier.classify(events, "T")) == 7
        assert tiny_classifier.classify([], "T") == []


class TestRobustInput:
    def test_odd_texts_never_raise(self, tiny_classifier: Classifier) -> None:
        """Headline only, HTML, non-English, huge and control-character texts classify."""
        texts = ["x", "<p>Tariffs &amp; duties</p>", "美国对中国商品加征关税", "word " * 200_000,
                 "\u200b\u202eabc\x00", "5G"]
        events = [_event(f"e{i}", t) for i, t in enumerate(texts)]
        assert len(tiny_classifier.classify(events, "T")) == len(texts)
