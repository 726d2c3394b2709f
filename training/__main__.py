"""`geowire train` and `geowire evaluate`: command-line flags only, no environment."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from model import ArtifactError, load_model
from training.data import DEFAULT_CORPUS_DIR, DatasetError
from training.evaluate import evaluate, format_report
from training.train import DEFAULT_FOLDS, train

DEFAULT_MODEL_DIR = Path("artifacts/model")


def train_main(argv: Sequence[str]) -> int:
    """Train the topic model and write the artifact and model card."""
    parser = argparse.ArgumentParser(
        prog="geowire train",
        description="Build the model artifact (model.joblib, manifest.json, MODEL_CARD.md) "
        "from labelled JSON lines: pick each label's threshold on held-out folds, then "
        "fit on everything. Deterministic for a given seed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_CORPUS_DIR,
                        help="labelled JSON-lines file, or a folder of *.jsonl files")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR,
                        help="artifact directory to write")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS,
                        help="cross-validation folds for thresholds and the model card")
    args = parser.parse_args(list(argv))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        result = train(args.data, args.out, seed=args.seed, folds=args.folds)
    except (DatasetError, ValueError) as exc:
        print(f"geowire train: error: {exc}", file=sys.stderr)
        return 1
    manifest = result.manifest
    print(f"trained {manifest.name} {manifest.version} on {result.examples} examples "
          f"-> {args.out}")
    for label in manifest.labels:
        m = result.cv_metrics[label]
        print(f"  {label:<12} threshold {manifest.thresholds[label]:.2f}  "
              f"CV P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f}")
    print(f"  CV macro-F1 {result.cv_metrics['macro']['f1']:.3f}")
    return 0


def evaluate_main(argv: Sequence[str]) -> int:
    """Print per-label and country figures of a model on a labelled file."""
    parser = argparse.ArgumentParser(
        prog="geowire evaluate",
        description="Score a model artifact on labelled JSON lines: per-label precision, "
        "recall and F1, macro-F1, country precision/recall/F1 (micro over article x "
        "country pairs) and the worst errors by id.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", type=Path, required=True, help="labelled JSON lines")
    parser.add_argument("--model-path", type=Path, default=DEFAULT_MODEL_DIR,
                        help="artifact directory")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(list(argv))
    try:
        classifier = load_model(args.model_path)
        report = evaluate(classifier, args.data).report
    except (ArtifactError, DatasetError) as exc:
        print(f"geowire evaluate: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(train_main(sys.argv[1:]))
