"""Training: thresholds picked on held-out folds, final fit, artifact and model card."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from model import LABELS, build_pipeline, save_artifact
from model.artifact import Manifest
from model.topics import TopicScorer
from training.data import Example, dataset_sha256, label_matrix, load_examples
from training.scoring import prf

logger = logging.getLogger(__name__)
MODEL_SERIES = "1"
DEFAULT_FOLDS = 5
DEFAULT_REPEATS = 3
"""Cross-validation runs, each with its own shuffle, whose held-out scores are pooled."""
THRESHOLD_GRID = tuple(step / 100 for step in range(5, 96))
THRESHOLD_WINDOW = 5
"""Grid steps each side of a threshold whose held-out F1 is averaged in choosing it."""


@dataclass(frozen=True)
class TrainingResult:
    """What a training run produced."""

    manifest: Manifest
    cv_metrics: dict[str, dict[str, float]]
    examples: int


def train(
    data: Path,
    out_dir: Path,
    *,
    seed: int = 0,
    folds: int = DEFAULT_FOLDS,
    repeats: int = DEFAULT_REPEATS,
) -> TrainingResult:
    """Train on the labelled records under `data` and write the artifact to `out_dir`.

    Thresholds and the card's figures come from `repeats` runs of `folds`-fold
    cross-validation pooled together: one run's fold assignment alone moves a label's
    chosen threshold by up to 0.1.
    """
    examples = load_examples(data)
    texts = [e.text for e in examples]
    truth = np.array(label_matrix(examples))
    _check_label_counts(truth, folds)
    # One BLAS thread: the solver's small dense products only lose to thread start-up
    # and contention (one 5-fold run here: 57 s with threads, 6 s without), and a fixed
    # thread count keeps the floating-point sums, hence the artifact, reproducible.
    with threadpool_limits(limits=1):
        held_out = np.vstack(
            [
                _cross_validated_scores(texts, truth, seed, folds, split=seed * repeats + r)
                for r in range(repeats)
            ]
        )
        pipeline = build_pipeline(seed).fit(texts, truth)
    truth = np.vstack([truth] * repeats)
    thresholds: dict[str, float] = {}
    cv_metrics: dict[str, dict[str, float]] = {}
    for j, label in enumerate(LABELS):
        threshold = stable_threshold(truth[:, j], held_out[:, j])
        thresholds[label] = threshold
        cv_metrics[label] = _metrics_at(truth[:, j], held_out[:, j], threshold)
    cv_metrics["macro"] = {"f1": float(np.mean([cv_metrics[label]["f1"] for label in LABELS]))}
    data_hash = dataset_sha256(data)
    manifest = save_artifact(
        out_dir,
        {"scorer": TopicScorer(pipeline, LABELS)},
        version=f"{MODEL_SERIES}.{data_hash[:8]}.s{seed}",
        labels=LABELS,
        thresholds=thresholds,
        extra={
            "data_sha256": data_hash,
            "examples": len(examples),
            "seed": seed,
            "folds": folds,
            "cv_repeats": repeats,
            "cv_metrics": cv_metrics,
        },
    )
    (out_dir / "MODEL_CARD.md").write_text(model_card(manifest, cv_metrics, examples, data))
    return TrainingResult(manifest, cv_metrics, len(examples))


def model_card(
    manifest: Manifest,
    cv_metrics: dict[str, dict[str, float]],
    examples: list[Example],
    data: Path,
) -> str:
    """A short Markdown card: what the model is, what it was trained on, how it scored."""
    lines = [
        f"# Model card: {manifest.name} {manifest.version}",
        "",
        f"- scikit-learn {sklearn.__version__}; artifact sha256 `{manifest.sha256}`",
        f"- training data: `{data}` ({len(examples)} examples), "
        f"sha256 `{manifest.extra['data_sha256']}`",
        f"- seed {manifest.extra['seed']}, thresholds chosen on "
        f"{manifest.extra['cv_repeats']} x {manifest.extra['folds']}-fold held-out predictions "
        "(F1 averaged over a "
        "±0.05 window)",
        "",
        "| label | positives | threshold | CV precision | CV recall | CV F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label in manifest.labels:
        m = cv_metrics[label]
        positives = sum(1 for e in examples if label in e.topics)
        lines.append(
            f"| {label} | {positives} | {manifest.thresholds[label]:.2f} | "
            f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |"
        )
    lines += ["", f"Macro-F1 (cross-validated): {cv_metrics['macro']['f1']:.3f}", ""]
    return "\n".join(lines)


def stable_threshold(truth: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> float:
    """The grid threshold whose neighbourhood has the best mean held-out F1.

    The single F1-maximising cut-off on a few thousand held-out scores jumps by 0.1 or
    more between seeds; averaging F1 over a window of neighbouring cut-offs picks the
    middle of a broad plateau instead, which carries over better to new articles.
    """
    f1 = np.array([_metrics_at(truth, scores, t)["f1"] for t in THRESHOLD_GRID])
    window = np.ones(2 * THRESHOLD_WINDOW + 1)
    smoothed = np.convolve(f1, window, "same") / np.convolve(np.ones_like(f1), window, "same")
    return THRESHOLD_GRID[int(np.argmax(smoothed))]


def _cross_validated_scores(
    texts: list[str], truth: np.ndarray[Any, Any], seed: int, folds: int, split: int
) -> np.ndarray[Any, Any]:
    held_out = np.zeros(truth.shape, dtype=np.float64)
    splitter = KFold(n_splits=folds, shuffle=True, random_state=split)
    template = build_pipeline(seed)
    text_array = np.array(texts, dtype=object)
    for fold, (train_idx, test_idx) in enumerate(splitter.split(texts)):
        fitted = clone(template).fit(list(text_array[train_idx]), truth[train_idx])
        scorer = TopicScorer(fitted, LABELS)
        held_out[test_idx] = scorer.scores(list(text_array[test_idx]))
        logger.info("fold done", extra={"fold": fold + 1, "folds": folds})
    return held_out


def _metrics_at(
    truth: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], threshold: float
) -> dict[str, float]:
    predicted = scores >= threshold
    result = prf(
        int(np.sum(predicted & (truth == 1))),
        int(np.sum(predicted & (truth == 0))),
        int(np.sum(~predicted & (truth == 1))),
    )
    return {"precision": result.precision, "recall": result.recall, "f1": result.f1}


def _check_label_counts(truth: np.ndarray[Any, Any], folds: int) -> None:
    for j, label in enumerate(LABELS):
        positives = int(truth[:, j].sum())
        if positives < folds or len(truth) - positives < folds:
            raise ValueError(
                f"label {label!r} has {positives} positives of {len(truth)} examples; "
                f"{folds}-fold training needs at least {folds} positives and negatives"
            )
