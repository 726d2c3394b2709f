"""Evaluation of a model artifact on any labelled JSON-lines file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model import Classifier, validate_event
from training.data import Example, load_examples
from training.scoring import label_prf, set_prf

WORST_ERRORS = 15


@dataclass(frozen=True)
class Evaluation:
    """Per-label and country figures plus the worst errors, ready to print or dump."""

    report: dict[str, Any]


def evaluate(classifier: Classifier, data: Path) -> Evaluation:
    """Score `classifier` on the labelled records in `data`."""
    examples = load_examples(data)
    events = [
        validate_event({"id": e.id, "headline": e.headline, "body": e.body})
        for e in examples
    ]
    enrichments = classifier.classify(events, processed_at="evaluation")
    gold_topics = [set(e.topics) for e in examples]
    predicted_topics = [{t["label"] for t in en["topics"]} for en in enrichments]
    gold_countries = [set(e.countries) for e in examples]
    predicted_countries = [{c["code"] for c in en["countries"]} for en in enrichments]
    per_label = {
        label: label_prf(gold_topics, predicted_topics, label).as_dict()
        for label in classifier.labels
    }
    macro = sum(float(m["f1"]) for m in per_label.values()) / len(per_label)
    report = {
        "data": str(data),
        "examples": len(examples),
        "model": enrichments[0]["model"] if enrichments else {},
        "topics": per_label,
        "macro_f1": macro,
        "countries": set_prf(gold_countries, predicted_countries).as_dict(),
        "worst_errors": _worst_errors(examples, enrichments, classifier.thresholds),
    }
    return Evaluation(report)


def format_report(report: dict[str, Any]) -> str:
    """Human-readable table of an evaluation report."""
    lines = [
        f"data: {report['data']} ({report['examples']} articles)",
        f"model: {report['model'].get('name', '?')} {report['model'].get('version', '?')}",
        "",
        f"{'label':<14}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}",
    ]
    for label, m in report["topics"].items():
        lines.append(
            f"{label:<14}{m['precision']:>10.3f}{m['recall']:>10.3f}"
            f"{m['f1']:>8.3f}{m['support']:>9}"
        )
    c = report["countries"]
    lines += [
        f"{'macro-F1':<14}{'':>20}{report['macro_f1']:>8.3f}",
        "",
        f"countries (micro over article x country): precision {c['precision']:.3f} "
        f"recall {c['recall']:.3f} F1 {c['f1']:.3f} "
        f"(tp {c['true_positives']}, fp {c['false_positives']}, fn {c['false_negatives']})",
        "",
        "worst errors:",
    ]
    for error in report["worst_errors"]:
        lines.append(f"  {error['id']}: {'; '.join(error['problems'])}")
    return "\n".join(lines)


def _worst_errors(
    examples: list[Example],
    enrichments: list[dict[str, Any]],
    thresholds: dict[str, float],
) -> list[dict[str, Any]]:
    errors = []
    for example, enrichment in zip(examples, enrichments, strict=True):
        problems, badness = [], 0.0
        for label, score in enrichment["scores"].items():
            gold = label in example.topics
            predicted = score >= thresholds[label]
            if gold != predicted:
                kind = "missed" if gold else "false"
                problems.append(f"{kind} {label} (score {score:.2f})")
                badness += abs(score - thresholds[label]) + 1.0
        got = {c["code"] for c in enrichment["countries"]}
        for code in sorted(set(example.countries) - got):
            problems.append(f"missed country {code}")
            badness += 0.5
        for code in sorted(got - set(example.countries)):
            problems.append(f"extra country {code}")
            badness += 0.5
        if problems:
            errors.append({"id": example.id, "problems": problems, "badness": badness})
    errors.sort(key=lambda e: -float(e["badness"]))
    return errors[:WORST_ERRORS]
