"""Country involvement: which countries an article refers to, with the spans behind it.

The rules follow the "Countries involved" section of LABELS.md. ISO codes and names come
from pycountry; aliases that no library has (demonyms, capitals, leaders, government
bodies) and the exclusions (proper nouns, currencies, sports events) are data in
`model/data/`. Every alias is compiled into one case-sensitive trie regex, built once.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pycountry

_DATA_DIR = Path(__file__).parent / "data"
ALIASES_PATH = _DATA_DIR / "country_aliases.json"
EXCLUSIONS_PATH = _DATA_DIR / "country_exclusions.json"
_CATEGORIES = ("names", "demonyms", "capitals", "leaders", "bodies", "weak")
_ALNUM = "A-Za-z0-9"
_NOT_AFTER = f"(?![{_ALNUM}])"
_MONTH = r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DASH = "\u2014\u2013\x96\x97"  # em and en dash, and both as mis-decoded cp1252
# A dateline opens the text or a paragraph: "BEIJING (Reuters) -", "SEOUL, South
# Korea —", "BAGHDAD, Sept 12:", "AP - TOKYO --", "WASHINGTON  The" (dash lost).
_DATELINE = (  # every repeat is bounded: a line of 1 MB must not backtrack for long
    r"[ \t\u3000]{0,8}"
    r"(?:[A-Z][\w.]{0,20}(?:[ ][A-Z][\w.]{0,20}){0,2}[ ]{1,3}-[ ]{1,3})?"  # "AP - "
    r"[A-Z][A-Z'’/\-]{1,30}[A-Z](?:[ ]{1,3}[A-Z][A-Z'’/\-]{0,30}[A-Z]){0,4}\.?"
    r"(?:,[ ]{0,3}[A-Z][\w.'’\-]{0,30}"
    r"(?:[ ]{1,3}(?:[A-Z][\w.'’\-]{0,30}|of|and|de|du|la)){0,5}){0,3}"
    rf"(?:,?[ ]{{1,3}}(?:{_MONTH}[ ]{{1,3}}\d{{1,2}}|\d{{1,2}}(?:[ ]{{1,3}}{_MONTH})?)"
    r"(?:,?[ ]{1,3}\d{4})?)?"
    r"(?:[ ]{0,3}\([^()\n]{1,40}\))?"
    rf"(?:[ ]{{0,3}}(?:-(?=\s)|--|:(?=\s))|[ ]{{0,3}}[{_DASH}]|(?=[ \t\u3000]{{2,}}\S))"
)
_LONE_CITY = r"[ \t]{0,8}[A-Z][A-Z'’\-]{1,30}[A-Z](?:[ ][A-Z][A-Z'’\-]{0,30}[A-Z])?\s*$"
_SLUG = r"[ \t]{0,8}[A-Z0-9]{1,30}(?:-[A-Z0-9]{1,30}){2,12}[ \t]*$"  # photo slug lines
# A photo caption ends in its credit: "... in Brussels, Belgium. (Xinhua/Name)".
_CAPTION_CREDIT = (
    r"[(\[](?:Xinhua|Photo|Photos|AFP|AP|Reuters|VCG|IC|CFP|CNS|Getty Images"
    r"|Imaginechina|CGTN)\s*[/:][^()\[\]\n]{0,80}[)\]]|Photo:[^\n]{0,40}$"
)
_CAPTION_CHARS = 300
# A meeting's venue is not a participant: "when they meet in Japan on Saturday".
_VENUE = (  # not "in talks to build a plant in Turkey"
    r"(?<!\bin )(?<!\bin final )\b(?:meet|meets|meeting|met|summit|talks|conference"
    r"|forum|gathering|convene[sd]?)\b[^.;!?\n]{0,80}\b(?:in|at)\s+(?:the\s+)?$"
)
_NO_PLURAL = ("s", "-", "sh", "ch", "ese")
_ATTRIBUTIVE = ("'s", "’s", "-")
_VENUE_TAILS = ("in ", "at ", "in the ", "at the ")
_LINK = r"https?://\S+|\bwww\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+"


@dataclass(frozen=True)
class CountryEvidence:
    """One span of the input text that refers to a country."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class CountryMention:
    """A country the text involves: ISO alpha-2 code, short name and its evidence."""

    code: str
    name: str
    mentions: int
    evidence: tuple[CountryEvidence, ...]


@dataclass(frozen=True)
class _Alias:
    """What a matched alias means: codes, whether it is weak, how it disambiguates."""

    codes: tuple[str, ...]
    weak: bool = False
    alternative: str | None = None  # set for "Korea": default codes[0], else this


_UNKNOWN = _Alias(codes=())  # sentinel: not in the table under this spelling


@dataclass(frozen=True)
class _Lexicon:
    """Everything compiled once: the alias trie, its meanings and the masks."""

    matcher: re.Pattern[str]
    aliases: dict[str, _Alias | None]  # None marks an exclusion phrase
    names: dict[str, str]
    line_mask: re.Pattern[str]
    link_mask: re.Pattern[str]
    caption_mask: re.Pattern[str]
    prefix: re.Pattern[str]
    suffix: re.Pattern[str]
    venue: re.Pattern[str]


def find_countries(text: str) -> list[CountryMention]:
    """Return the countries `text` involves, most mentioned first, then by code.

    Never raises on a `str`: empty, huge, non-English or malformed text gives a
    (possibly empty) list.
    """
    if not text:
        return []
    lexicon = _lexicon()
    found = [
        CountryMention(
            code=code,
            name=lexicon.names.get(code, code),
            mentions=len(spans),
            evidence=tuple(sorted(spans, key=lambda span: span.start)),
        )
        for code, spans in _grouped(text, lexicon).items()
    ]
    return sorted(found, key=lambda mention: (-mention.mentions, mention.code))


def _grouped(text: str, lexicon: _Lexicon) -> dict[str, list[CountryEvidence]]:
    """Evidence per country; weak evidence needs strong, plain "Korea" needs context."""
    strong: dict[str, list[CountryEvidence]] = {}
    weak: dict[str, list[CountryEvidence]] = {}
    undecided: list[tuple[_Alias, CountryEvidence]] = []
    for alias, evidence, at_venue in _matches(text, lexicon):
        if alias.alternative is not None:
            undecided.append((alias, evidence))
            continue
        target = weak if alias.weak or at_venue else strong
        for code in alias.codes:
            target.setdefault(code, []).append(evidence)
    for alias, evidence in undecided:
        code = alias.codes[0]
        if alias.alternative in strong and code not in strong:  # about the North only
            code = alias.alternative or code
        strong.setdefault(code, []).append(evidence)
    for code, spans in weak.items():
        if code in strong:
            strong[code].extend(spans)
    return strong


def _matches(
    text: str,
    lexicon: _Lexicon,
) -> Iterator[tuple[_Alias, CountryEvidence, bool]]:
    """Yield alias matches outside masks, exclusions and proper nouns.

    The flag tells a meeting's venue in the body ("they will meet in Japan"), which
    counts only as weak evidence.
    """
    masked = _masked(text, lexicon)
    after_prefix = {found.end() for found in lexicon.prefix.finditer(text)}
    aliases, suffix, venue = lexicon.aliases, lexicon.suffix, lexicon.venue
    headline_end = text.find("\n")
    for match in lexicon.matcher.finditer(text):
        matched = match.group()
        alias = aliases.get(matched, _UNKNOWN)
        if alias is _UNKNOWN:  # the alias spans a line break or a run of spaces
            alias = aliases.get(" ".join(matched.split()))
        start, end = match.span()
        if alias is None or start in after_prefix or suffix.match(text, end):
            continue
        if masked[start]:
            continue
        at_venue = (
            0 <= headline_end < start  # a headline names what matters, venue or not
            and text.endswith(_VENUE_TAILS, 0, start)
            and not text.startswith(_ATTRIBUTIVE, end)  # "in Indonesia's", "in U.S.-"
            and bool(venue.search(text, max(0, start - 120), start))
        )
        evidence = CountryEvidence(text=matched, start=start, end=end)
        yield alias, evidence, at_venue


def _masked(text: str, lexicon: _Lexicon) -> bytearray:
    """Flag characters never read as countries: datelines, slugs, links, captions."""
    spans = [found.span() for found in lexicon.line_mask.finditer(text)]
    if "@" in text or "://" in text or "www." in text:
        spans.extend(found.span() for found in lexicon.link_mask.finditer(text))
    has_credit = "/" in text or "Photo" in text
    for credit in lexicon.caption_mask.finditer(text) if has_credit else ():
        line_start = text.rfind("\n", 0, credit.start()) + 1
        spans.append((max(line_start, credit.start() - _CAPTION_CHARS), credit.end()))
    masked = bytearray(len(text))
    for start, end in spans:
        masked[start:end] = b"\x01" * (end - start)
    return masked


@functools.cache
def _lexicon() -> _Lexicon:
    """Build the matcher from pycountry and the data files (once per process)."""
    data = json.loads(ALIASES_PATH.read_text(encoding="utf-8"))
    exclusions = json.loads(EXCLUSIONS_PATH.read_text(encoding="utf-8"))
    aliases = _alias_table(data)
    for phrase in exclusions["phrases"]:
        for form in _variants(phrase):
            aliases[form] = None
    return _Lexicon(
        matcher=re.compile(_trie_pattern(aliases)),
        aliases=aliases,
        names=_display_names(data),
        line_mask=re.compile(f"^(?:{_DATELINE}|{_LONE_CITY}|{_SLUG})", re.MULTILINE),
        link_mask=re.compile(_LINK),
        caption_mask=re.compile(_CAPTION_CREDIT, re.MULTILINE),
        prefix=re.compile(_trie_pattern(exclusions["prefixes"]) + r"\s+"),
        suffix=re.compile(_suffix_pattern(exclusions["suffixes"])),
        venue=re.compile(_VENUE),
    )


def _alias_table(data: dict[str, Any]) -> dict[str, _Alias | None]:
    """Map each alias spelling to its meaning; data beats pycountry, ambiguity all."""
    table: dict[str, _Alias | None] = {}
    for country in pycountry.countries:
        for name in _iso_names(country):
            for form in _variants(name):
                table[form] = _Alias(codes=(country.alpha_2,))
    for code, entry in data["countries"].items():
        weak = set(entry.get("weak", ()))
        for category in _CATEGORIES:
            for alias in entry.get(category, ()):
                forms = _variants(alias)
                if category == "demonyms" and not alias.endswith(_NO_PLURAL):
                    forms |= _variants(alias + "s")  # "Iraqis", "Filipinos"
                for form in forms:
                    table[form] = _Alias(codes=(code,), weak=alias in weak)
        for alias in weak:  # a weak ISO name such as "Georgia"
            for form in _variants(alias):
                table[form] = _Alias(codes=(code,), weak=True)
    for alias, codes in data["shared"].items():
        for form in _variants(alias):
            table[form] = _Alias(codes=tuple(codes))
    for rule in data["ambiguous"]:
        for alias in rule["aliases"]:
            for form in _variants(alias):
                table[form] = _Alias(
                    codes=(rule["default"],),
                    alternative=rule["alternative"],
                )
    return table


def _iso_names(country: Any) -> Iterator[str]:
    """Yield pycountry's usable names: no "Korea, Republic of", no "(French part)"."""
    for attribute in ("name", "common_name", "official_name"):
        name = getattr(country, attribute, None)
        if not name or "," in name:
            continue
        name = re.sub(r"\s*\(.*?\)", "", name)
        yield name[4:] if name.startswith("the ") else name


def _display_names(data: dict[str, Any]) -> dict[str, str]:
    """Common short English name per code: the data's override, else pycountry's."""
    names: dict[str, str] = {}
    for country in pycountry.countries:
        common = getattr(country, "common_name", None)
        names[country.alpha_2] = common or re.sub(r"\s*\(.*?\)", "", country.name)
    for code, entry in data["countries"].items():
        if "short_name" in entry:
            names[code] = entry["short_name"]
    return names


def _variants(alias: str) -> set[str]:
    """Spelling variants: both apostrophes, no diacritics, "Jae-in"/"Jae In", CAPS."""
    forms = {alias, alias.replace("'", "’"), alias.replace("’", "'")}
    for form in list(forms):  # "Erdoğan" as "Erdogan"
        decomposed = unicodedata.normalize("NFKD", form)
        forms.add("".join(c for c in decomposed if not unicodedata.combining(c)))
    if re.search(r"[a-z]-[a-z]", alias) and " " in alias:  # "Kim Jong-un"
        spaced = re.sub(r"-([a-z])", lambda m: " " + m.group(1).upper(), alias)
        capped = re.sub(r"-([a-z])", lambda m: "-" + m.group(1).upper(), alias)
        forms |= {spaced, capped}
    if len(alias) >= 4:
        forms |= {form.upper() for form in forms}
    return {" ".join(form.split()) for form in forms}


def _suffix_pattern(words: Iterable[str]) -> str:
    """Whitespace, then one of `words` as a whole word ("China" + " Mobile")."""
    escaped = (re.escape(word).replace(r"\ ", r"\s+") for word in words)
    return rf"\s+(?:{'|'.join(sorted(escaped, key=len, reverse=True))}){_NOT_AFTER}"


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex for all words, longest first at each position, word-bounded.

    A trie keeps the engine from retrying thousands of alternatives at each
    position, and the charset of first letters lets it skip most positions.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = _NOT_AFTER if word[-1].isalnum() else ""
    branches = [
        re.escape(char) + f"(?<![{_ALNUM}].)" + _trie_body(child)
        for char, child in sorted(trie.items())
    ]
    return "(?:" + "|".join(branches) + ")"


def _trie_body(node: dict[str, Any]) -> str:
    branches = [
        (r"\s+" if char == " " else re.escape(char)) + _trie_body(child)
        for char, child in sorted(node.items())
        if char
    ]
    if "" in node:
        branches.append(node[""])
    if len(branches) == 1:
        return str(branches[0])
    return "(?:" + "|".join(branches) + ")"
