"""The trained model's behaviour: the seed story, invariances, directions, near-misses."""

from __future__ import annotations

import pytest

from model import Classifier, validate_event


def _classify(classifier: Classifier, headline: str, body: str = "") -> dict:
    event = validate_event({"id": "t", "headline": headline, "body": body})
    return classifier.classify([event], "T")[0]


def _topics(enrichment: dict) -> set[str]:
    return {t["label"] for t in enrichment["topics"]}


def _seed_article(text: str) -> tuple[str, str]:
    headline, _, body = text.strip().partition("\n")
    return headline.strip(), body.strip()


class TestSeedArticle:
    def test_seed_gets_all_three_topics_and_eight_countries(
        self, classifier: Classifier, seed_text: str
    ) -> None:
        """The Korea-between-the-US-and-Huawei story: three topics, exactly eight countries."""
        enrichment = _classify(classifier, *_seed_article(seed_text))
        assert _topics(enrichment) == {"trade_war", "5g_security", "alliances"}
        assert {c["code"] for c in enrichment["countries"]} == {
            "AU", "CA", "CN", "GB", "JP", "KR", "NZ", "US"}


CLEAR_CASES = [
    ("Beijing hits back with tariffs on American soybeans and pork",
     "China announced retaliatory duties after Washington raised levies on $200 billion of "
     "Chinese goods, deepening the trade war.", {"trade_war"}),
    ("Intelligence agency warns Huawei 5G gear could open the door to spying",
     "Its review of the vendor's equipment found flaws that could let a hostile state "
     "eavesdrop on the mobile network, the agency said.", {"5g_security"}),
    ("NATO leaders reaffirm collective defence at summit",
     "Allied leaders pledged to raise military spending and stand by Article 5.",
     {"alliances"}),
    ("Local side wins league title on final day",
     "The club clinched the championship with a late goal in front of a home crowd.", set()),
]
UNRELATED = [
    "The weather in the capital was mild for the season.",
    "Separately, a museum reopened its modern art wing on Sunday.",
]


class TestInvariance:
    @pytest.mark.parametrize(("headline", "body", "expected"), CLEAR_CASES)
    @pytest.mark.parametrize("extra", UNRELATED)
    def test_unrelated_sentence_does_not_flip_labels(
        self, classifier: Classifier, headline: str, body: str, expected: set[str], extra: str
    ) -> None:
        """Adding an unrelated sentence leaves the assigned topics unchanged."""
        assert _topics(_classify(classifier, headline, body)) == expected
        assert _topics(_classify(classifier, headline, f"{body} {extra}")) == expected


DIRECTIONAL = [
    ("trade_war", "The company reported its quarterly results.",
     " Executives warned that new tariffs on Chinese imports would squeeze margins."),
    ("5g_security", "The operator is upgrading its mobile network this year.",
     " Officials ordered it to drop Huawei equipment over espionage fears."),
    ("alliances", "The defence minister visited the region this week.",
     " Treaty allies pledged to coordinate their response to the rival power."),
]


class TestDirectional:
    @pytest.mark.parametrize(("label", "base", "addition"), DIRECTIONAL)
    def test_adding_topic_evidence_raises_its_score(
        self, classifier: Classifier, label: str, base: str, addition: str
    ) -> None:
        """Adding a sentence about a topic raises that topic's score."""
        before = _classify(classifier, "Update", base)["scores"][label]
        after = _classify(classifier, "Update", base + addition)["scores"][label]
        assert after > before


NEAR_MISSES = [
    ("5g_security", "Phone maker unveils flagship 5G handset with faster camera", ""),
    ("5g_security", "Regulator raises $4 billion in 5G spectrum auction", ""),
    ("alliances", "OPEC and its allies agree to extend oil output cuts", ""),
    ("alliances", "Airline joins Star Alliance, adding routes for frequent flyers", ""),
    ("trade_war", "New sanctions target Tehran's nuclear programme",
     "Officials said the measures aim to curb uranium enrichment."),
    ("trade_war", "Exports rose 3% in October, official figures show", ""),
]


class TestNearMisses:
    @pytest.mark.parametrize(("label", "headline", "body"), NEAR_MISSES)
    def test_near_miss_is_not_labelled(
        self, classifier: Classifier, label: str, headline: str, body: str
    ) -> None:
        """Stories that only sound like a topic are not given it."""
        assert label not in _topics(_classify(classifier, headline, body))
