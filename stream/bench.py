"""`geowire bench`: end-to-end throughput and latency on the embedded broker, with baselines."""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from model import Classifier, load_model, validate_event
from stream.broker import EmbeddedBroker, free_port
from stream.config import Settings
from stream.kafka_io import build_consumer, build_producer, ensure_topics
from stream.produce import publish

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "training" / "data"
SAMPLES = REPO / "samples" / "articles.jsonl"


def bench(argv: Sequence[str]) -> int:
    """Run the benchmark and print its figures; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="geowire bench",
        description="Publish a backlog to an embedded broker, run `geowire serve` over it "
        "and print end-to-end throughput beside the raw kafka-python consume rate and the "
        "model's batch rate from the same run, then p50/p99 latency at a fixed rate.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=20_000, help="backlog size")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s for latency")
    parser.add_argument("--latency-seconds", type=float, default=15.0,
                        help="how long to send at --rate")
    parser.add_argument("--batch-size", type=int, default=256, help="service batch size")
    parser.add_argument("--partitions", type=int, default=3, help="input partitions")
    parser.add_argument("--model-path", default="artifacts/model", help="artifact directory")
    parser.add_argument("--worker-process", action=argparse.BooleanOptionalAction, default=True,
                        help="run the service with GEOWIRE_WORKER_PROCESS (--no-worker-process: "
                        "classify in the loop's own process)")
    args = parser.parse_args(list(argv))
    texts = _article_texts()
    backlog = [_event(f"bench-{i}", texts[i % len(texts)]) for i in range(args.events)]
    classifier = load_model(args.model_path)
    model_before = _model_rate(classifier, backlog, args.batch_size)
    with EmbeddedBroker() as broker:
        settings = Settings(bootstrap_servers=broker.bootstrap)
        ensure_topics(settings, ["bench.in", "bench.out", "bench.dlq"], args.partitions)
        publish(settings, backlog, "bench.in")
        consume_rate = _raw_consume_rate(settings, "bench.in", args.events)
        port = free_port()
        service = _start_service(broker.bootstrap, port, args)
        try:
            e2e_rate, steady_rate = _drain_rate(settings, port, args.events, service)
            # Measured again right after the drain: on a shared virtual machine the CPU's
            # speed drifts within minutes, and the ratio should compare like with like.
            model_after = _model_rate(classifier, backlog, args.batch_size)
            speedup = _parallel_speedup()
            latencies = _latency_at_rate(settings, texts, args.rate, args.latency_seconds)
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=60)
    _report(args, (model_before, model_after), consume_rate, (e2e_rate, steady_rate), latencies)
    print(f"  CPUs: {os.cpu_count()}; two busy processes ran {speedup:.2f}x as fast as one "
          "(the service's loop and its classification worker need two)")
    return 0


def _article_texts() -> list[tuple[str, str]]:
    """(headline, body) pairs from our own corpus, falling back to the samples."""
    pairs = []
    for file in sorted(CORPUS.glob("*.jsonl")) or [SAMPLES]:
        for line in file.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                pairs.append((record.get("headline") or "", record.get("body") or ""))
            except (ValueError, AttributeError):
                continue
    return [p for p in pairs if p[0] or p[1]]


def _event(event_id: str, text: tuple[str, str], **extra: object) -> bytes:
    return json.dumps({"id": event_id, "headline": text[0], "body": text[1], **extra}).encode()


def _model_rate(classifier: Classifier, backlog: list[bytes], batch_size: int) -> float:
    events = [validate_event(json.loads(raw)) for raw in backlog[:5000]]
    started = time.perf_counter()
    for i in range(0, len(events), batch_size):
        classifier.classify(events[i:i + batch_size], "bench")
    return len(events) / (time.perf_counter() - started)


SPIN = "import time\nt = time.perf_counter()\nx = 0\nfor i in range(3_000_000):\n    x += i\n" \
    "print(time.perf_counter() - t)"


def _parallel_speedup() -> float:
    """How much faster two CPU-bound processes finish their work than one doing both."""
    def spin(copies: int) -> float:
        procs = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE)  # noqa: S603
                 for _ in range(copies)]
        return max(float(p.communicate()[0]) for p in procs)

    one = spin(1)
    return 2 * one / spin(2)


def _read_topic(settings: Settings, topic: str, expected: int) -> Iterator[list[Any]]:
    """The topic's records from the start, a fetched list at a time, up to `expected`.

    Stops early after two minutes; the caller compares what came with what it expected.
    """
    consumer = build_consumer(settings, group_id=None, max_poll_records=2000)
    consumer.subscribe([topic])
    seen = 0
    deadline = time.monotonic() + 120
    try:
        while seen < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                seen += len(records)
                yield records
    finally:
        consumer.close()


def _raw_consume_rate(settings: Settings, topic: str, expected: int) -> float:
    seen, started = 0, None
    for records in _read_topic(settings, topic, expected):
        started = started or time.perf_counter()
        seen += len(records)
    return seen / (time.perf_counter() - (started or time.perf_counter()))


def _start_service(bootstrap: str, port: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GEOWIRE_BOOTSTRAP_SERVERS": bootstrap,
           "GEOWIRE_INPUT_TOPIC": "bench.in", "GEOWIRE_OUTPUT_TOPIC": "bench.out",
           "GEOWIRE_DLQ_TOPIC": "bench.dlq", "GEOWIRE_GROUP_ID": "bench",
           "GEOWIRE_METRICS_PORT": str(port), "GEOWIRE_METRICS_HOST": "127.0.0.1",
           "GEOWIRE_MODEL_PATH": args.model_path, "GEOWIRE_BATCH_SIZE": str(args.batch_size),
           "GEOWIRE_LOG_FORMAT": "json",
           "GEOWIRE_WORKER_PROCESS": "true" if args.worker_process else "false"}
    log = Path(tempfile.gettempdir()) / f"geowire-bench-{port}.log"
    with log.open("wb") as handle:
        return subprocess.Popen([sys.executable, "-m", "stream"], env=env,
                                stdout=handle, stderr=subprocess.STDOUT)


def _metric(port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(f"{name} "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


# Scraping /metrics costs the service ~4 ms of its loop's interpreter each time: waiting
# for the drain polls it rarely, and the rate comes from the outputs' own timestamps.
DRAIN_POLL_S = 0.25
STEADY_FROM = 0.1
"""The steady drain rate counts from the time this share of the outputs existed."""


def _drain_rate(
    settings: Settings, port: int, expected: int, service: subprocess.Popen[bytes]
) -> tuple[float, float]:
    """Events/s while the service drains the backlog, whole and steady, from timestamps.

    Every enriched record carries the time the service produced it (Kafka CreateTime).
    The whole-drain rate counts the outputs after the first batch over the span from
    the first output to the last; the steady rate starts where `STEADY_FROM` of them
    existed. Both are exact to a batch and unaffected by how often this process looks.
    """
    deadline = time.monotonic() + 600
    while _metric(port, "geowire_events_produced_total") < expected:
        if time.monotonic() > deadline or service.poll() is not None:
            raise RuntimeError(f"service did not drain the backlog (exit code {service.poll()})")
        time.sleep(DRAIN_POLL_S)
    stamps = sorted(_output_timestamps_ms(settings, "bench.out", expected))
    steady_start = stamps[int(len(stamps) * STEADY_FROM)]
    whole = outputs_per_second_after(stamps, stamps[0])
    return whole, outputs_per_second_after(stamps, steady_start)


def outputs_per_second_after(stamps: list[int], start: int) -> float:
    """Outputs produced after `start` (ms) per second, up to the last one."""
    counted = sum(1 for stamp in stamps if stamp > start)
    return counted / max(1e-3, (stamps[-1] - start) / 1000.0)


def _output_timestamps_ms(settings: Settings, topic: str, expected: int) -> list[int]:
    stamps = [r.timestamp for records in _read_topic(settings, topic, expected) for r in records]
    if len(stamps) < expected:
        raise RuntimeError(f"read {len(stamps)} of {expected} outputs from {topic}")
    return stamps


def _latency_at_rate(
    settings: Settings, texts: list[tuple[str, str]], rate: float, seconds: float
) -> list[float]:
    """Send at `rate` and measure send → enriched-output-received, in seconds."""
    total = int(rate * seconds)
    lines = [_event(f"lat-{i}", texts[i % len(texts)]) for i in range(total)]
    reader = build_consumer(settings, group_id=None)
    reader.subscribe(["bench.out"])
    while not reader.assignment():
        reader.poll(timeout_ms=100)
    reader.seek_to_end()
    sent_at: dict[str, float] = {}
    latencies: list[float] = []

    def on_send(i: int) -> None:
        sent_at[f"lat-{i}"] = time.time()

    sender = threading.Thread(target=_paced_send, args=(settings, lines, rate, on_send))
    sender.start()
    deadline = time.monotonic() + seconds + 30
    try:
        while len(latencies) < total and time.monotonic() < deadline:
            for records in reader.poll(timeout_ms=50).values():
                now = time.time()
                for record in records:
                    event_id = json.loads(record.value)["id"]
                    if event_id in sent_at:
                        latencies.append(now - sent_at[event_id])
    finally:
        sender.join()
        reader.close()
    return latencies


def _paced_send(
    settings: Settings, lines: list[bytes], rate: float, on_send: Callable[[int], None]
) -> None:
    producer = build_producer(settings)
    interval = 1.0 / rate
    next_at = time.monotonic()
    for i, line in enumerate(lines):
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        on_send(i)
        producer.send("bench.in", value=line, key=f"lat-{i}".encode())
        producer.flush()
    producer.close()


def _report(
    args: argparse.Namespace,
    model_rates: tuple[float, float],
    consume_rate: float,
    e2e_rates: tuple[float, float],
    latencies: list[float],
) -> None:
    mode = "worker process" if args.worker_process else "no worker process"
    print(f"geowire bench: {args.events} events backlog, batch {args.batch_size}, "
          f"{args.partitions} partitions, embedded Tansu broker, {mode}")
    model_rate = statistics.mean(model_rates)
    print(f"  model batch rate (in-process, batches of {args.batch_size}): "
          f"{model_rate:10,.0f} events/s (before the drain {model_rates[0]:,.0f}, "
          f"after {model_rates[1]:,.0f})")
    print(f"  raw kafka-python consume rate:                {consume_rate:10,.0f} events/s")
    e2e_rate, steady_rate = e2e_rates
    print(f"  end-to-end service throughput:                {e2e_rate:10,.0f} events/s "
          f"({e2e_rate / model_rate:.2f} of the model's batch rate; first to last output)")
    print(f"    steady, past the first {STEADY_FROM:.0%} of outputs:      {steady_rate:10,.0f} "
          f"events/s ({steady_rate / model_rate:.2f})")
    if latencies:
        ordered = sorted(latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(f"  latency at {args.rate:.0f} events/s over {len(latencies)} events: "
              f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    else:
        print("  latency: no enriched events received")
