"""PLACEHOLDER until the country extractor lands (owned by the countries work)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CountryEvidence:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class CountryMention:
    code: str
    name: str
    mentions: int
    evidence: tuple[CountryEvidence, ...]


def find_countries(text: str) -> list[CountryMention]:
    return []
