"""Quality figures: per-label and country precision, recall and F1."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class PRF:
    """Precision, recall and F1 with the counts behind them."""

    precision: float
    recall: float
    f1: float
    support: int
    true_positives: int
    false_positives: int
    false_negatives: int

    def as_dict(self) -> dict[str, float | int]:
        """Plain-dict form for JSON output."""
        return asdict(self)


def prf(true_positives: int, false_positives: int, false_negatives: int) -> PRF:
    """Precision/recall/F1 from counts; an empty denominator counts as 0."""
    predicted = true_positives + false_positives
    actual = true_positives + false_negatives
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1, actual, true_positives, false_positives, false_negatives)


def set_prf(gold: Sequence[set[str]], predicted: Sequence[set[str]]) -> PRF:
    """Micro P/R/F1 over (item, member) pairs, e.g. article × country."""
    tp = sum(len(g & p) for g, p in zip(gold, predicted, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, predicted, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, predicted, strict=True))
    return prf(tp, fp, fn)


def label_prf(
    gold: Sequence[set[str]], predicted: Sequence[set[str]], label: str
) -> PRF:
    """P/R/F1 of one label over a multi-label set."""
    tp = sum(1 for g, p in zip(gold, predicted, strict=True) if label in g and label in p)
    fp = sum(1 for g, p in zip(gold, predicted, strict=True) if label not in g and label in p)
    fn = sum(1 for g, p in zip(gold, predicted, strict=True) if label in g and label not in p)
    return prf(tp, fp, fn)


def best_threshold(truth: Sequence[int], scores: Sequence[float]) -> tuple[float, float]:
    """The score cut-off that maximises F1 on (truth, scores); returns (threshold, F1)."""
    best = (0.5, -1.0)
    for step in range(5, 96):
        threshold = step / 100
        tp = sum(1 for t, s in zip(truth, scores, strict=True) if t and s >= threshold)
        fp = sum(1 for t, s in zip(truth, scores, strict=True) if not t and s >= threshold)
        fn = sum(1 for t, s in zip(truth, scores, strict=True) if t and s < threshold)
        f1 = prf(tp, fp, fn).f1
        if f1 > best[1] + 1e-12:
            best = (threshold, f1)
    return best
