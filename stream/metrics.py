"""Every Prometheus metric geowire exports, built on a registry given to `build_metrics`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import generate_latest

BROKER_ERROR_KINDS = ("poll", "delivery", "commit", "connect")
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0
)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


@dataclass(frozen=True)
class Metrics:
    """The service's metrics; label values come from closed sets only."""

    registry: CollectorRegistry
    consumed: Counter
    produced: Counter
    dead_lettered: Counter
    labels_assigned: Counter
    countries: Counter
    batch_size: Histogram
    batch_duration: Histogram
    predict_duration: Histogram
    end_to_end_latency: Histogram
    consumer_lag: Gauge
    assigned_partitions: Gauge
    ready: Gauge
    commits: Counter
    commit_failures: Counter
    last_commit: Gauge
    broker_errors: Counter
    model_info: Info


def build_metrics(
    registry: CollectorRegistry, labels: Iterable[str], reasons: Iterable[str]
) -> Metrics:
    """Create every metric on `registry`, with known label values initialised to zero."""
    metrics = Metrics(
        registry=registry,
        consumed=Counter("geowire_events_consumed", "Input events read from Kafka.",
                         registry=registry),
        produced=Counter("geowire_events_produced", "Enriched events acknowledged by "
                         "the broker.", registry=registry),
        dead_lettered=Counter("geowire_events_dead_lettered", "Invalid events written "
                              "to the dead-letter topic, by reason.", ["reason"],
                              registry=registry),
        labels_assigned=Counter("geowire_labels_assigned", "Topic labels assigned to "
                                "enriched events, by label.", ["label"], registry=registry),
        countries=Counter("geowire_countries", "Countries found in enriched events, by "
                          "ISO 3166-1 alpha-2 code.", ["code"], registry=registry),
        batch_size=Histogram("geowire_batch_size_events", "Events per processed batch.",
                             buckets=BATCH_SIZE_BUCKETS, registry=registry),
        batch_duration=Histogram("geowire_batch_duration_seconds", "Time from a batch's "
                                 "poll to its commit.", buckets=LATENCY_BUCKETS,
                                 registry=registry),
        predict_duration=Histogram("geowire_predict_duration_seconds", "Time of one "
                                   "model call on a batch.", buckets=LATENCY_BUCKETS,
                                   registry=registry),
        end_to_end_latency=Histogram("geowire_end_to_end_latency_seconds", "From an "
                                     "input event's Kafka timestamp to its enriched "
                                     "output being acknowledged.",
                                     buckets=LATENCY_BUCKETS, registry=registry),
        consumer_lag=Gauge("geowire_consumer_lag_events", "Events behind per assigned "
                           "partition: the broker's high watermark seen in fetches (or "
                           "the last consumed offset + 1 if higher) minus the committed "
                           "offset (before this instance's first commit on the partition: "
                           "minus the next offset to read); computed from what this "
                           "instance consumes and commits, not from end_offsets().",
                           ["topic", "partition"], registry=registry),
        assigned_partitions=Gauge("geowire_assigned_partitions", "Input partitions "
                                  "assigned to this instance.", registry=registry),
        ready=Gauge("geowire_ready", "1 when the model is loaded, the broker reachable "
                    "and partitions assigned.", registry=registry),
        commits=Counter("geowire_commits", "Offset commits that succeeded.",
                        registry=registry),
        commit_failures=Counter("geowire_commit_failures", "Offset commits that failed "
                                "(the batch will be re-read).", registry=registry),
        last_commit=Gauge("geowire_last_commit_timestamp_seconds", "Unix time of the "
                          "last successful commit.", registry=registry),
        broker_errors=Counter("geowire_broker_errors", "Errors talking to the broker, "
                              "by kind.", ["kind"], registry=registry),
        model_info=Info("geowire_model", "The loaded model artifact.", registry=registry),
    )
    for reason in reasons:
        metrics.dead_lettered.labels(reason=reason)
    for label in labels:
        metrics.labels_assigned.labels(label=label)
    for kind in BROKER_ERROR_KINDS:
        metrics.broker_errors.labels(kind=kind)
    return metrics


def render(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus text exposition format."""
    return generate_latest(registry)
