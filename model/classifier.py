"""`Classifier`: a batch of events in, one enrichment per event out; no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model.artifact import Manifest, load_payload
from model.countries import CountryMention, find_countries
from model.errors import ArtifactError
from model.schema import Event, body_offset
from model.topics import TopicScorer

SCHEMA_VERSION = 1
SCORE_DIGITS = 4
MAX_COUNTRY_CHARS = 100_000
"""Countries are searched in the first this-many characters of an article: far beyond
any real article, and it bounds the cost of an adversarial 1 MB body."""


class Classifier:
    """Labels events with topics (with the terms behind them) and countries involved."""

    def __init__(self, manifest: Manifest, scorer: TopicScorer) -> None:
        if tuple(scorer.labels) != manifest.labels:
            raise ArtifactError(
                f"model labels {list(scorer.labels)} do not match the manifest's "
                f"{list(manifest.labels)}"
            )
        self.manifest = manifest
        self.labels = manifest.labels
        self.thresholds = dict(manifest.thresholds)
        self._scorer = scorer
        self._model_info = {
            "name": manifest.name,
            "version": manifest.version,
            "sha256": manifest.sha256,
        }

    def classify(self, events: Sequence[Event], processed_at: str) -> list[dict[str, Any]]:
        """Return the `enrichment` object for each event, in order, from one model call."""
        if not events:
            return []
        texts = [event.text for event in events]
        features = self._scorer.features(texts)
        scores = self._scorer.scores_of(features)
        enrichments = []
        for index, event in enumerate(events):
            row = {label: float(scores[index, j]) for j, label in enumerate(self.labels)}
            enrichments.append(
                self._enrichment(event, texts[index], row, features, index, processed_at)
            )
        return enrichments

    def _enrichment(
        self,
        event: Event,
        text: str,
        row: dict[str, float],
        features: Any,
        feature_row: int,
        processed_at: str,
    ) -> dict[str, Any]:
        assigned = sorted(
            (label for label in self.labels if row[label] >= self.thresholds[label]),
            key=lambda label: -row[label],
        )
        topics = [
            {
                "label": label,
                "score": round(row[label], SCORE_DIGITS),
                "evidence": self._scorer.explain_row(features, feature_row, label),
            }
            for label in assigned
        ]
        return {
            "schema_version": SCHEMA_VERSION,
            "topics": topics,
            "scores": {label: round(row[label], SCORE_DIGITS) for label in self.labels},
            "countries": [
                _country_json(country, event)
                for country in find_countries(text[:MAX_COUNTRY_CHARS])
            ],
            "model": self._model_info,
            "processed_at": processed_at,
        }


def load_model(path: str | Path) -> Classifier:
    """Load a verified artifact directory into a ready `Classifier`.

    Raises:
        ArtifactError: when the artifact is missing, tampered with or incompatible.
    """
    manifest, payload = load_payload(Path(path))
    scorer = payload.get("scorer")
    if not isinstance(scorer, TopicScorer):
        raise ArtifactError(
            f"model payload holds {type(scorer).__name__} under 'scorer', "
            "expected a TopicScorer"
        )
    classifier = Classifier(manifest, scorer)
    # The first call compiles the country matcher (about half a second); pay it here,
    # at startup, rather than in the first batch's latency.
    classifier.classify([Event("warm-up", "Warm-up for Washington", "", {})], "")
    return classifier


def _country_json(country: CountryMention, event: Event) -> dict[str, Any]:
    offset = body_offset(event.headline, event.body)
    evidence = []
    for span in country.evidence:
        in_body = offset and span.start >= offset
        start = span.start - offset if in_body else span.start
        evidence.append(
            {
                "field": "body" if in_body or not event.headline else "headline",
                "start": start,
                "end": start + (span.end - span.start),
                "text": span.text,
            }
        )
    return {
        "code": country.code,
        "name": country.name,
        "mentions": country.mentions,
        "evidence": evidence,
    }
