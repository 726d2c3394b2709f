"""`geowire bench-model`: classification speed of the artifact beside a stock baseline.

Both sides read the same articles (the training corpus by default) in the same process:
a plain scikit-learn TF-IDF + logistic-regression `Pipeline` fitted on them
(`predict_proba` through the pipeline), and geowire's `Classifier.classify`, which does
the whole enrichment: topic scores, evidence terms and countries with their spans.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from model import ArtifactError, Event, load_model, validate_event
from model.countries import find_countries
from training.data import DEFAULT_CORPUS_DIR, DatasetError, label_matrix, load_examples

BATCH_SIZE = 256
MIN_BATCH_RATE = 3_000.0
"""Bar: events per second when classifying batches of `BATCH_SIZE`."""
MAX_SINGLE_P50_MS = 2.0
"""Bar: median milliseconds to classify one event on its own."""


@dataclass(frozen=True)
class Timing:
    """Speed of one contender."""

    name: str
    batch_events_per_s: float
    single_p50_ms: float
    single_p99_ms: float


def baseline_pipeline() -> Pipeline:
    """The stock comparison: TF-IDF words and bigrams, one logistic regression per label."""
    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
            ("clf", OneVsRestClassifier(LogisticRegression(max_iter=2000))),
        ]
    )


def measure(
    name: str,
    run: Callable[[Sequence[Any]], object],
    items: Sequence[Any],
    rounds: int,
    singles: int,
) -> Timing:
    """Batch rate over `rounds` passes in batches of `BATCH_SIZE`; per-item latency."""
    batches = [items[i : i + BATCH_SIZE] for i in range(0, len(items), BATCH_SIZE)]
    full = [b for b in batches if len(b) == BATCH_SIZE] or batches
    run(full[0])  # warm-up: first-call caches (regexes, tokenizers) are not steady state
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for batch in full:
            run(batch)
        rates.append(sum(len(b) for b in full) / (time.perf_counter() - start))
    latencies = []
    for item in items[:singles]:
        start = time.perf_counter()
        run([item])
        latencies.append(time.perf_counter() - start)
    ms = np.array(latencies) * 1000.0
    return Timing(
        name, float(np.median(rates)), float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
    )


def bench(model_path: Path, data: Path, rounds: int, singles: int) -> dict[str, Any]:
    """Time the baseline, geowire's classifier and, within it, the country finder."""
    examples = load_examples(data)
    texts = [e.text for e in examples]
    events: list[Event] = [
        validate_event({"id": e.id, "headline": e.headline, "body": e.body}) for e in examples
    ]
    classifier = load_model(model_path)
    with threadpool_limits(limits=1):
        baseline = baseline_pipeline().fit(texts, np.array(label_matrix(examples)))
    timings = [
        measure(
            "baseline: sklearn Pipeline.predict_proba",
            baseline.predict_proba,
            texts,
            rounds,
            singles,
        ),
        measure(
            "geowire: Classifier.classify (full enrichment)",
            lambda batch: classifier.classify(batch, "bench"),
            events,
            rounds,
            singles,
        ),
        measure(
            "  of which countries: find_countries",
            lambda batch: [find_countries(t) for t in batch],
            texts,
            rounds,
            singles,
        ),
    ]
    geowire = timings[1]
    return {
        "data": str(data),
        "articles": len(texts),
        "mean_chars": float(np.mean([len(t) for t in texts])),
        "cpus": os.cpu_count(),
        "batch_size": BATCH_SIZE,
        "timings": [asdict(t) for t in timings],
        "bars": {
            "batch_events_per_s": {
                "min": MIN_BATCH_RATE,
                "pass": geowire.batch_events_per_s >= MIN_BATCH_RATE,
            },
            "single_p50_ms": {
                "max": MAX_SINGLE_P50_MS,
                "pass": geowire.single_p50_ms <= MAX_SINGLE_P50_MS,
            },
        },
    }


def format_report(report: dict[str, Any]) -> str:
    """The timings as a table, with the bars and the countries' share of geowire's time."""
    lines = [
        f"{report['articles']} articles from {report['data']} "
        f"(mean {report['mean_chars']:.0f} chars), {report['cpus']} CPUs",
        "",
        f"{'':<50}{f'batch {BATCH_SIZE} ev/s':>16}{'single p50 ms':>15}{'p99 ms':>9}",
    ]
    for t in report["timings"]:
        lines.append(
            f"{t['name']:<50}{t['batch_events_per_s']:>16,.0f}"
            f"{t['single_p50_ms']:>15.3f}{t['single_p99_ms']:>9.3f}"
        )
    geowire, countries = report["timings"][1], report["timings"][2]
    share = geowire["batch_events_per_s"] / countries["batch_events_per_s"]
    bars = report["bars"]
    lines += [
        "",
        f"countries' share of geowire's batch time: {share:.0%}",
        f"bar batch >= {bars['batch_events_per_s']['min']:,.0f} ev/s: "
        f"{'pass' if bars['batch_events_per_s']['pass'] else 'FAIL'}; "
        f"bar single p50 <= {bars['single_p50_ms']['max']} ms: "
        f"{'pass' if bars['single_p50_ms']['pass'] else 'FAIL'}",
    ]
    return "\n".join(lines)


def bench_model_main(argv: Sequence[str]) -> int:
    """`geowire bench-model`: print the timings; exit 1 only on unusable input."""
    parser = argparse.ArgumentParser(
        prog="geowire bench-model",
        description="Classification speed without a broker: batches of 256 and single "
        "events through geowire's Classifier (topics, evidence, countries) beside a stock "
        "scikit-learn TF-IDF + LogisticRegression pipeline, in the same run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--model-path", type=Path, default=Path("artifacts/model"), help="artifact directory"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_CORPUS_DIR,
        help="labelled JSON lines (file or folder) whose texts are timed",
    )
    parser.add_argument("--rounds", type=int, default=5, help="passes over the batches")
    parser.add_argument("--singles", type=int, default=1000, help="events timed one at a time")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(list(argv))
    if args.rounds < 1 or args.singles < 1:
        parser.error("--rounds and --singles must be at least 1")
    try:
        report = bench(args.model_path, args.data, args.rounds, args.singles)
    except (ArtifactError, DatasetError) as exc:
        print(f"geowire bench-model: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
