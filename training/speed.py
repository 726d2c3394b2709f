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
    """Speed of one contender: batch rate (median and fastest round), single-event latency."""

    name: str
    batch_events_per_s: float
    batch_best_events_per_s: float
    single_p50_ms: float
    single_p99_ms: float


@dataclass(frozen=True)
class Contender:
    """Something to time: a batch function and the items it reads."""

    name: str
    run: Callable[[Sequence[Any]], object]
    items: Sequence[Any]


def baseline_pipeline() -> Pipeline:
    """The stock comparison: TF-IDF words and bigrams, one logistic regression per label."""
    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
            ("clf", OneVsRestClassifier(LogisticRegression(max_iter=2000))),
        ]
    )


def measure(contenders: Sequence[Contender], rounds: int, singles: int) -> list[Timing]:
    """Batch rates over `rounds` passes in batches of `BATCH_SIZE`; per-item latency.

    The contenders take turns, round by round and item by item, so that a machine whose
    speed drifts (a shared host) slows them alike and their ratio stays meaningful.
    """
    passes = []
    for contender in contenders:
        batches = [
            contender.items[i : i + BATCH_SIZE] for i in range(0, len(contender.items), BATCH_SIZE)
        ]
        full = [b for b in batches if len(b) == BATCH_SIZE] or batches
        contender.run(full[0])  # warm-up: first-call caches are not steady state
        passes.append(full)
    rates: list[list[float]] = [[] for _ in contenders]
    for _ in range(rounds):
        for contender, full, contender_rates in zip(contenders, passes, rates, strict=True):
            start = time.perf_counter()
            for batch in full:
                contender.run(batch)
            contender_rates.append(sum(len(b) for b in full) / (time.perf_counter() - start))
    latencies: list[list[float]] = [[] for _ in contenders]
    for index in range(singles):
        for contender, contender_latencies in zip(contenders, latencies, strict=True):
            if index < len(contender.items):
                item = contender.items[index]
                start = time.perf_counter()
                contender.run([item])
                contender_latencies.append(time.perf_counter() - start)
    timings = []
    for contender, contender_rates, contender_latencies in zip(
        contenders, rates, latencies, strict=True
    ):
        ms = np.array(contender_latencies) * 1000.0
        timings.append(
            Timing(
                contender.name,
                float(np.median(contender_rates)),
                float(np.max(contender_rates)),
                float(np.percentile(ms, 50)),
                float(np.percentile(ms, 99)),
            )
        )
    return timings


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
    timings = measure(
        [
            Contender("baseline: sklearn Pipeline.predict_proba", baseline.predict_proba, texts),
            Contender(
                "geowire: Classifier.classify (full enrichment)",
                lambda batch: classifier.classify(batch, "bench"),
                events,
            ),
            Contender(
                "  of which countries: find_countries",
                lambda batch: [find_countries(t) for t in batch],
                texts,
            ),
        ],
        rounds,
        singles,
    )
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
                "measure": "fastest round",
                "pass": geowire.batch_best_events_per_s >= MIN_BATCH_RATE,
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
        f"{'':<46}{'batch of ' + str(BATCH_SIZE) + ', ev/s':>20}{'single event, ms':>18}",
        f"{'':<46}{'median':>10}{'fastest':>10}{'p50':>9}{'p99':>9}",
    ]
    for t in report["timings"]:
        lines.append(
            f"{t['name']:<46}{t['batch_events_per_s']:>10,.0f}"
            f"{t['batch_best_events_per_s']:>10,.0f}"
            f"{t['single_p50_ms']:>9.3f}{t['single_p99_ms']:>9.3f}"
        )
    baseline, geowire, countries = report["timings"][:3]
    share = geowire["batch_events_per_s"] / countries["batch_events_per_s"]
    relative_rate = geowire["batch_events_per_s"] / baseline["batch_events_per_s"]
    bars = report["bars"]
    lines += [
        "",
        "The contenders take turns round by round, so a drifting machine slows them alike.",
        f"geowire's batch rate is {relative_rate:.2f} of the baseline's (which only scores topics);"
        " on one event it is "
        f"{baseline['single_p50_ms'] / geowire['single_p50_ms']:.1f}x faster (p50).",
        f"countries' share of geowire's batch time: {share:.0%}",
        f"bar batch >= {bars['batch_events_per_s']['min']:,.0f} ev/s (fastest round, timeit's "
        "convention: noise only slows): "
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
    parser.add_argument(
        "--rounds", type=int, default=7, help="passes over the batches, contenders taking turns"
    )
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
