"""Unit tests for model.countries: which countries a text involves, and the evidence."""

from __future__ import annotations

import json

import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.countries import (
    ALIASES_PATH,
    EXCLUSIONS_PATH,
    CountryEvidence,
    CountryMention,
    find_countries,
)


def codes(text: str) -> list[str]:
    """Sorted codes that `find_countries` gives for `text`."""
    return sorted(mention.code for mention in find_countries(text))


def mention(text: str, code: str) -> CountryMention:
    """The mention of `code` in `text` (fails the test when there is none)."""
    found = {item.code: item for item in find_countries(text)}
    assert code in found, f"{code} not found in {text!r}: {sorted(found)}"
    return found[code]


class TestNames:
    """Names, short names, demonyms, capitals, leaders and government bodies."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Tariffs on Canada and Mexico took effect at midnight.", ["CA", "MX"]),
            ("The United States of America signed the accord.", ["US"]),
            ("U.S. officials and UK ministers met.", ["GB", "US"]),
            ("Farmers in America worry about soybean prices.", ["US"]),
            ("The USA and Britain shared the findings.", ["GB", "US"]),
            ("Trade with the People's Republic of China grew.", ["CN"]),
            ("Exports to the Russian Federation fell.", ["RU"]),
            ("Viet Nam and Vietnam are spelled both ways.", ["VN"]),
        ],
    )
    def test_country_names(self, text: str, expected: list[str]) -> None:
        """Full, short and official names all give the country."""
        assert codes(text) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("French winemakers braced for duties.", ["FR"]),
            ("Chinese exporters rerouted shipments.", ["CN"]),
            ("A panel of Japanese and German engineers reviewed it.", ["DE", "JP"]),
            ("Two Iraqis and three Pakistanis were detained.", ["IQ", "PK"]),
            ("Aussie miners welcomed the ruling.", ["AU"]),
            ("Sino-American ties cooled again.", ["CN", "US"]),
        ],
    )
    def test_demonyms(self, text: str, expected: list[str]) -> None:
        """Adjectives and demonyms, singular or plural, give the country."""
        assert codes(text) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Beijing rejected the demand on Friday.", ["CN"]),
            ("Officials in Tokyo declined to comment.", ["JP"]),
            ("The Kremlin called the sanctions illegal.", ["RU"]),
            ("Whitehall has not ruled it out.", ["GB"]),
            ("Washington pressed its allies to act.", ["US"]),
            ("New Delhi and Islamabad traded accusations.", ["IN", "PK"]),
        ],
    )
    def test_capitals_and_seats_of_government(
        self,
        text: str,
        expected: list[str],
    ) -> None:
        """A capital or seat of government stands for its government."""
        assert codes(text) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Trump and Xi spoke by phone.", ["CN", "US"]),
            ("Xi Jinping hosted Vladimir Putin.", ["CN", "RU"]),
            ("Moon Jae-in welcomed the envoy.", ["KR"]),
            ("Moon Jae In welcomed the envoy.", ["KR"]),
            ("Erdogan and Erdoğan are the same man.", ["TR"]),
            ("Shinzo Abe and Narendra Modi signed a pact.", ["IN", "JP"]),
            ("Mnuchin said talks would resume.", ["US"]),
            ("Boris Johnson faced a rebellion.", ["GB"]),
        ],
    )
    def test_leaders(self, text: str, expected: list[str]) -> None:
        """Heads of state or government and senior officials give their country."""
        assert codes(text) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("The Pentagon and the State Department disagreed.", ["US"]),
            ("The White House issued a statement.", ["US"]),
            ("Downing Street said the review was complete.", ["GB"]),
            ("GCHQ assessed the equipment.", ["GB"]),
            ("MOFCOM announced countermeasures.", ["CN"]),
            ("The Blue House denied the report.", ["KR"]),
        ],
    )
    def test_government_bodies(self, text: str, expected: list[str]) -> None:
        """A government body gives its country."""
        assert codes(text) == expected

    def test_display_name_is_the_common_short_name(self) -> None:
        """Names are the short English ones, not the ISO long forms."""
        text = "America, South Korea, Britain, Taiwan, Russia and Iran."
        names = {item.code: item.name for item in find_countries(text)}
        assert names == {
            "US": "United States",
            "KR": "South Korea",
            "GB": "United Kingdom",
            "TW": "Taiwan",
            "RU": "Russia",
            "IR": "Iran",
        }


class TestGroupSpellOut:
    """Members named through a group the text spells out."""

    def test_five_eyes_members_all_count(self) -> None:
        """The Five Eyes listed by name gives all five members."""
        text = (
            "The Five Eyes alliance, made up of Australia, Canada, New Zealand, "
            "Britain and the US, shares signals intelligence."
        )
        assert codes(text) == ["AU", "CA", "GB", "NZ", "US"]

    def test_unnamed_group_gives_nothing(self) -> None:
        """A group that is only named gives no members."""
        assert codes("The Five Eyes partners met in private.") == []


class TestExclusions:
    """Country names that do not refer to the state."""

    @pytest.mark.parametrize(
        "text",
        [
            "Bank of America raised its forecast.",
            "The New York Times reported the leak.",
            "Air China added three routes.",
            "American Express cut its fees.",
            "Turkish Airlines bought new jets.",
            "The Washington Post ran an editorial.",
            "A study at the University of Washington found otherwise.",
            "Boeing expanded its Washington state plant.",
            "Deutsche Bank settled the case.",
            "Korea JoongAng Daily printed a correction.",
            "The ship crossed the Indian Ocean.",
            "Shares of China Mobile slipped.",
        ],
    )
    def test_proper_nouns(self, text: str) -> None:
        """A name inside a company, masthead or place name gives no country."""
        assert codes(text) == []

    @pytest.mark.parametrize(
        "text",
        [
            "BEIJING (Reuters) - Copper prices rose on Tuesday.",
            "SEOUL, May 3 -- Shipbuilders reported record orders.",
            "WASHINGTON — Lawmakers returned from recess.",
            "Headline here\n\nTOKYO, Jan. 5 (AP) - Markets were closed.",
            "LONDON  Retail sales slowed last month.",
        ],
    )
    def test_datelines_alone(self, text: str) -> None:
        """A dateline at the start of the text or a paragraph does not count."""
        assert codes(text) == []

    def test_capital_after_the_dateline_still_counts(self) -> None:
        """The same city in the running text counts."""
        text = "BEIJING (Reuters) - Beijing said it would retaliate."
        evidence = mention(text, "CN").evidence
        assert [span.start for span in evidence] == [text.index("Beijing said")]

    def test_company_home_country_needs_a_mention(self) -> None:
        """Huawei alone gives no CN; a text that calls it Chinese does."""
        assert codes("Huawei unveiled a folding phone.") == []
        assert codes("Chinese telecom giant Huawei unveiled a phone.") == ["CN"]

    @pytest.mark.parametrize(
        "text",
        [
            "The EU and NATO issued a joint statement.",
            "The WTO ruled on the complaint.",
            "The UN Security Council met.",
            "European leaders gathered for the summit.",
        ],
    )
    def test_blocs_and_organisations(self, text: str) -> None:
        """Blocs and organisations give no country."""
        assert codes(text) == []

    def test_currencies(self) -> None:
        """A price in U.S. dollars is not a reference to the United States."""
        assert codes("Sales reached 40 billion U.S. dollars, or US$40bn.") == []

    def test_photo_caption(self) -> None:
        """A photo caption's place names do not count."""
        text = "A fair in Lyon, France, on May 2. (Xinhua/Li Wei)\nSales rose."
        assert codes(text) == []

    def test_meeting_venue_in_the_body_is_weak(self) -> None:
        """A venue named in the body counts only when the text otherwise involves it."""
        body = "Trade envoys gather\n\nThe two leaders will meet in Vietnam next week."
        assert codes(body) == []
        both = "Vietnam hosts envoys\n\nThe two leaders will meet in Vietnam next week."
        assert codes(both) == ["VN"]

    def test_venue_in_a_headline_counts(self) -> None:
        """A headline's venue is a participant: talks in China involve China."""
        assert codes("Top U.S. officials to hold trade talks in China") == ["CN", "US"]

    def test_in_talks_is_not_a_venue(self) -> None:
        """Being "in talks" about a plant in Turkey makes Turkey a participant."""
        text = "Carmaker update\n\nThe firm is in talks to build a plant in Turkey."
        assert codes(text) == ["TR"]

    @pytest.mark.parametrize(
        "text",
        [
            "We asked us to wait.",
            "She collected fine china and roast turkey.",
            "Michael Jordan signed the deal.",
            "Georgia lawmakers passed the budget.",
        ],
    )
    def test_common_words_and_people(self, text: str) -> None:
        """Lower-case words and given names are not countries."""
        assert codes(text) == []

    def test_georgia_counts_when_the_country_is_meant(self) -> None:
        """Georgia counts once the text shows it means the country."""
        assert codes("Georgia recalled its envoy, Tbilisi said.") == ["GE"]


class TestKorea:
    """South Korea, North Korea and plain "Korea"."""

    def test_korea_alone_is_south_korea(self) -> None:
        """Plain "Korea" and "Korean" mean South Korea."""
        assert codes("Korea and Korean carmakers face new duties.") == ["KR"]

    def test_north_korea_names(self) -> None:
        """North Korea, Pyongyang and Kim Jong-un give KP."""
        text = "North Korea fired a missile; Pyongyang said Kim Jong Un watched."
        assert codes(text) == ["KP"]
        assert mention(text, "KP").mentions == 3

    def test_south_korea_names(self) -> None:
        """South Korea, Seoul, its presidents and the Blue House give KR."""
        text = "Seoul said Yoon Suk-yeol and Lee Jae-myung met at the Blue House."
        assert codes(text) == ["KR"]

    def test_korea_in_a_story_about_the_north(self) -> None:
        """Plain "Korea" in a story only about the North means North Korea."""
        text = "Pyongyang tested a rocket. Korea has done this before."
        assert codes(text) == ["KP"]
        assert mention(text, "KP").mentions == 2

    def test_korea_with_both_sides_named(self) -> None:
        """When the South is named too, plain "Korea" stays South Korea."""
        text = "North Korea warned Seoul. Korea's president called for calm."
        assert codes(text) == ["KP", "KR"]
        assert mention(text, "KR").mentions == 2

    def test_both_koreas(self) -> None:
        """The two Koreas together involve both."""
        assert codes("Talks between the two Koreas resumed.") == ["KP", "KR"]


class TestTerritories:
    """Taiwan, Hong Kong and the nations of the United Kingdom."""

    def test_taiwan(self) -> None:
        """Taiwan, Taipei and Taiwanese give TW."""
        assert codes("Taipei said Taiwanese chipmakers would comply.") == ["TW"]

    def test_chinese_taipei_is_taiwan(self) -> None:
        """Chinese Taipei is Taiwan, not China."""
        assert codes("Chinese Taipei joined the talks.") == ["TW"]

    def test_hong_kong(self) -> None:
        """Hong Kong gives HK, not CN."""
        assert codes("Hong Kong shares fell.") == ["HK"]

    @pytest.mark.parametrize(
        "place",
        ["England", "Scotland", "Wales", "Northern Ireland"],
    )
    def test_home_nations_are_the_uk(self, place: str) -> None:
        """England, Scotland, Wales and Northern Ireland give GB."""
        assert codes(f"Factories in {place} cut output.") == ["GB"]


class TestEvidence:
    """Spans, mention counts and order."""

    TEXT = (
        "Chinese and U.S. negotiators met. China said the U.S. must act first, "
        "while Beijing hinted at talks in Washington with America's envoy."
    )

    def test_offsets_point_at_the_matched_text(self) -> None:
        """Every evidence span is a slice of the input text."""
        for item in find_countries(self.TEXT):
            for span in item.evidence:
                assert isinstance(span, CountryEvidence)
                assert self.TEXT[span.start : span.end] == span.text

    def test_mentions_count_every_span(self) -> None:
        """`mentions` is the number of evidence spans, in text order."""
        us = mention(self.TEXT, "US")
        assert us.mentions == len(us.evidence) == 4
        assert [span.text for span in us.evidence] == [
            "U.S.",
            "U.S.",
            "Washington",
            "America",
        ]
        assert mention(self.TEXT, "CN").mentions == 3

    def test_order_is_mentions_then_code(self) -> None:
        """Most mentioned first; ties in code order."""
        text = "Japan, France and Brazil. France again."
        assert [item.code for item in find_countries(text)] == ["FR", "BR", "JP"]

    def test_line_break_inside_an_alias(self) -> None:
        """An alias split across a line break still matches, with exact offsets."""
        text = "Officials from the United\nStates arrived."
        (span,) = mention(text, "US").evidence
        assert text[span.start : span.end] == span.text == "United\nStates"

    def test_mentions_are_frozen(self) -> None:
        """Results are immutable values."""
        item = find_countries("Canada")[0]
        with pytest.raises(AttributeError):
            item.code = "US"  # type: ignore[misc]


class TestRobustness:
    """Any string gives a list; nothing raises."""

    @pytest.mark.parametrize(
        "text",
        ["", " ", "\n\n\n", "\x00", "\ud800", "\ufeff", "&lt;b&gt;&#39;", "<p>\n</p>"],
    )
    def test_degenerate_input(self, text: str) -> None:
        """Empty, blank, NUL, lone surrogate and HTML remnants give no countries."""
        assert find_countries(text) == []

    def test_weird_unicode_around_names(self) -> None:
        """Names next to emoji, CJK, zero-width and bidi characters still match."""
        text = "\u202e日本\u200bJapan\U0001f600 и Франция \ud83d France\x00"
        assert codes(text) == ["FR", "JP"]

    def test_non_english_text(self) -> None:
        """Text with no English names gives nothing."""
        assert codes("英国禁止使用华为设备。Le gouvernement a décidé.") == []

    def test_one_megabyte(self) -> None:
        """A 1 MB text is handled and its few countries found."""
        filler = "lorem ipsum dolor sit amet " * 20_000
        text = filler + "Chile and Peru. " + filler
        assert len(text) > 1_000_000
        assert codes(text) == ["CL", "PE"]

    @settings(max_examples=150, deadline=None, database=None)
    @given(st.text(max_size=300))
    def test_arbitrary_text_never_raises(self, text: str) -> None:
        """Arbitrary text gives well-formed mentions with valid offsets."""
        for item in find_countries(text):
            assert item.mentions == len(item.evidence) > 0
            for span in item.evidence:
                assert text[span.start : span.end] == span.text


class TestSeedArticle:
    """The worked example from LABELS.md."""

    def test_seed_gives_exactly_the_labelled_countries(self, seed_text: str) -> None:
        """The seed article gives AU, CA, CN, GB, JP, KR, NZ and US."""
        assert codes(seed_text) == ["AU", "CA", "CN", "GB", "JP", "KR", "NZ", "US"]


class TestData:
    """The alias and exclusion files."""

    def test_every_code_is_iso(self) -> None:
        """Every key of the alias file is an ISO 3166-1 alpha-2 code."""
        data = json.loads(ALIASES_PATH.read_text(encoding="utf-8"))
        iso = {country.alpha_2 for country in pycountry.countries}
        assert set(data["countries"]) <= iso

    def test_no_alias_belongs_to_two_countries(self) -> None:
        """An alias is listed under one country only, and is never also excluded."""
        data = json.loads(ALIASES_PATH.read_text(encoding="utf-8"))
        owners: dict[str, set[str]] = {}
        for code, entry in data["countries"].items():
            for category, aliases in entry.items():
                if category != "short_name":
                    for alias in aliases:
                        owners.setdefault(alias, set()).add(code)
        assert {alias: c for alias, c in owners.items() if len(c) > 1} == {}
        exclusions = json.loads(EXCLUSIONS_PATH.read_text(encoding="utf-8"))
        assert set(exclusions["phrases"]) & set(owners) == set()
