"""Text normalisation shared by training and serving: HTML remnants out, case folded."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>\n]{0,200}>")
MAX_MODEL_CHARS = 20_000
"""Only the first this-many characters feed the topic model: leads carry the topic,
and the cap bounds the cost of a pathological 10 MB body."""


def normalise_text(text: str) -> str:
    """Return lower-cased text without HTML tags or entities, whitespace collapsed."""
    text = text[:MAX_MODEL_CHARS]
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    # str.split() with no argument splits on the same Unicode whitespace as \s+ and
    # drops the ends: the regex's result, several times faster.
    return " ".join(text.split()).lower()
