"""The trained model on the kinds of story it used to get wrong on real news."""

from __future__ import annotations

import pytest

from model import Classifier, validate_event


def _enrich(classifier: Classifier, headline: str, body: str = "") -> dict:
    event = validate_event({"id": "t", "headline": headline, "body": body})
    return classifier.classify([event], "T")[0]


def _topics(classifier: Classifier, headline: str, body: str = "") -> set[str]:
    return {t["label"] for t in _enrich(classifier, headline, body)["topics"]}


HUAWEI_TRADE_NOT_NETWORK = [
    (
        "Prosecutors add fraud counts to case against Huawei's finance chief",
        "A judge in New York agreed to a new indictment accusing the Chinese company's "
        "executive of misleading banks about business in Iran.",
    ),
    ("Chip shipments to Huawei halted as new export rule takes effect", ""),
]


class TestHuaweiStories:
    @pytest.mark.parametrize(("headline", "body"), HUAWEI_TRADE_NOT_NETWORK)
    def test_charges_and_chip_curbs_are_trade_war_not_network_security(
        self, classifier: Classifier, headline: str, body: str
    ) -> None:
        """Criminal cases and export controls against Huawei are trade_war only."""
        assert _topics(classifier, headline, body) == {"trade_war"}

    def test_a_non_us_government_ban_on_huawei_gear_is_both(self, classifier: Classifier) -> None:
        """A government barring a Chinese vendor's network gear: trade_war and 5g_security."""
        topics = _topics(
            classifier,
            "Norway's regulator orders operators to remove Huawei radio gear from 5G networks",
            "Beijing said the decision would hurt trade between the two countries.",
        )
        assert {"trade_war", "5g_security"} <= topics

    @pytest.mark.parametrize(
        "headline",
        [
            "Carmaker reports record sales of 5G-connected vehicles",
            "Huawei opens its largest flagship store in Europe",
        ],
    )
    def test_5g_and_huawei_business_news_is_not_network_security(
        self, classifier: Classifier, headline: str
    ) -> None:
        """Product and retail news about 5G or Huawei raises no security topic."""
        assert "5g_security" not in _topics(classifier, headline)


class TestTariffsWithoutConflict:
    @pytest.mark.parametrize(
        ("headline", "body"),
        [
            (
                "Two countries sign free trade agreement scrapping tariffs on farm goods",
                "The pact removes duties on beef, fruit and dairy over ten years, officials said "
                "at the signing ceremony.",
            ),
            ("Electricity tariffs to rise 8% from April, regulator says", ""),
        ],
    )
    def test_trade_deals_and_price_tariffs_are_not_trade_war(
        self, classifier: Classifier, headline: str, body: str
    ) -> None:
        """A free-trade deal with no dispute, or a utility's tariff, is not a trade war."""
        assert "trade_war" not in _topics(classifier, headline, body)

    def test_market_story_driven_by_stalled_talks_is_trade_war(
        self, classifier: Classifier
    ) -> None:
        """Markets moving on the state of trade talks count as the trade war's fallout."""
        assert "trade_war" in _topics(
            classifier, "Stocks fall as trade talks between Washington and Beijing stall"
        )


class TestAlliesThatAreNotAlliances:
    @pytest.mark.parametrize(
        "headline",
        [
            "Militants and their local allies retreat into the hills after army offensive",
            "The governor's political allies sweep the state legislature",
        ],
    )
    def test_armed_groups_and_political_allies_are_not_alliances(
        self, classifier: Classifier, headline: str
    ) -> None:
        """'Allies' of militants or politicians are not allied states."""
        assert "alliances" not in _topics(classifier, headline)


LONG_VISIT = (
    "The minister toured bases in the north on Monday, meeting soldiers and inspecting "
    "new barracks. He praised the engineers who built a bridge after the floods. Later he "
    "opened a hospital wing and spoke to veterans about pensions."
)
TREATY = (
    " The country's treaty alliance with its neighbours, he said, remains the "
    "cornerstone of its security."
)


class TestAllianceInLongArticles:
    def test_one_alliance_sentence_in_a_long_article_is_enough(
        self, classifier: Classifier
    ) -> None:
        """An alliance commitment stated once, late in a long article, is still found."""
        before = _enrich(classifier, "Defence minister visits troops", LONG_VISIT)
        after = _enrich(classifier, "Defence minister visits troops", LONG_VISIT + TREATY)
        assert "alliances" not in {t["label"] for t in before["topics"]}
        assert "alliances" in {t["label"] for t in after["topics"]}
        assert after["scores"]["alliances"] > before["scores"]["alliances"]
