"""Labelled article datasets: load JSON lines and check them against LABELS.md's format."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from model import LABELS
from model.schema import article_text

DEFAULT_CORPUS_DIR = Path(__file__).parent / "data"


class DatasetError(ValueError):
    """A labelled dataset that does not follow the record format."""


@dataclass(frozen=True)
class Example:
    """One labelled article."""

    id: str
    headline: str
    body: str
    topics: tuple[str, ...]
    countries: tuple[str, ...]

    @property
    def text(self) -> str:
        """Headline and body joined as the model reads them."""
        return article_text(self.headline, self.body)


def corpus_files(path: Path) -> list[Path]:
    """The JSON-lines files a path names: the file itself, or every *.jsonl in a folder."""
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise DatasetError(f"no *.jsonl files in {path}")
        return files
    if not path.is_file():
        raise DatasetError(f"no labelled data at {path}")
    return [path]


def load_examples(path: Path) -> list[Example]:
    """Load and check every labelled record under `path` (file or folder).

    Raises:
        DatasetError: naming the file, line and problem.
    """
    examples: list[Example] = []
    seen: set[str] = set()
    for file in corpus_files(path):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            example = _parse_line(line, f"{file}:{number}")
            if example.id in seen:
                raise DatasetError(f"{file}:{number}: duplicate id {example.id!r}")
            seen.add(example.id)
            examples.append(example)
    if not examples:
        raise DatasetError(f"{path} holds no labelled records")
    return examples


def dataset_sha256(path: Path) -> str:
    """One hash over the bytes of every file the dataset is read from."""
    digest = hashlib.sha256()
    for file in corpus_files(path):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def label_matrix(examples: Iterable[Example]) -> list[list[int]]:
    """0/1 rows, one column per label in `LABELS` order."""
    return [[int(label in e.topics) for label in LABELS] for e in examples]


def _parse_line(line: str, where: str) -> Example:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{where}: not JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: expected an object")
    for name in ("id", "topics"):
        if name not in record:
            raise DatasetError(f"{where}: field {name!r} is missing")
    headline = record.get("headline") or ""
    body = record.get("body") or ""
    if not isinstance(headline, str) or not isinstance(body, str):
        raise DatasetError(f"{where}: headline and body must be strings")
    if not (headline.strip() or body.strip()):
        raise DatasetError(f"{where}: record {record['id']!r} has no text")
    topics = record["topics"]
    unknown = [t for t in topics if t not in LABELS]
    if unknown:
        raise DatasetError(f"{where}: unknown topics {unknown}, expected some of {LABELS}")
    countries = record.get("countries") or []
    bad = [c for c in countries if not (isinstance(c, str) and len(c) == 2 and c.isupper())]
    if bad:
        raise DatasetError(f"{where}: countries must be alpha-2 codes, got {bad}")
    return Example(
        id=str(record["id"]),
        headline=headline,
        body=body,
        topics=tuple(t for t in LABELS if t in topics),
        countries=tuple(sorted(set(countries))),
    )
