"""Companion commands on Kafka: produce, tail, demo, bench and a foreground broker."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from model import read_manifest
from model.errors import ArtifactError
from stream.__main__ import load_settings
from stream.broker import EmbeddedBroker, free_port
from stream.config import Settings, build_parser
from stream.kafka_io import build_consumer
from stream.logs import configure_logging
from stream.produce import describe, follow, print_records, publish, read_lines

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "articles.jsonl"
DEMO_PARTITIONS = 3


def produce_main(argv: Sequence[str]) -> int:
    """`geowire produce FILE`: publish article JSON lines to the input topic."""
    parser = build_parser("geowire produce", "Publish each line of FILE (JSON lines, or "
                          "anything: lines are sent as raw bytes) to the input topic, "
                          "keyed by the event id.")
    parser.add_argument("file", help="JSON-lines file, - for stdin")
    parser.add_argument("--topic", help="topic to publish to (default: the input topic)")
    parser.add_argument("--rate", type=float, default=0.0, help="events per second (0: "
                        "as fast as possible)")
    settings, args = load_settings(parser, argv, os.environ)
    if not settings.bootstrap_servers:
        parser.exit(2, "geowire produce: error: set GEOWIRE_BOOTSTRAP_SERVERS or "
                    "--bootstrap-servers\n")
    handle = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    with handle:
        sent = publish(settings, read_lines(handle), args.topic or settings.input_topic,
                       args.rate)
    print(f"published {sent} events to {args.topic or settings.input_topic}")
    return 0


def tail_main(argv: Sequence[str]) -> int:
    """`geowire tail`: print the enriched topic (or another) until interrupted."""
    parser = build_parser("geowire tail", "Print enriched events as readable lines (id, "
                          "topics with scores, countries), from the beginning of the "
                          "topic, until Ctrl-C.")
    parser.add_argument("--topic", help="topic to read (default: the output topic)")
    parser.add_argument("--json", action="store_true", help="print raw JSON values")
    parser.add_argument("--idle-exit", type=float, default=0.0, metavar="SECONDS",
                        help="exit after this long without new records (0: never)")
    settings, args = load_settings(parser, argv, os.environ)
    if not settings.bootstrap_servers:
        parser.exit(2, "geowire tail: error: set GEOWIRE_BOOTSTRAP_SERVERS or "
                    "--bootstrap-servers\n")
    records = follow(settings, args.topic or settings.output_topic, group_id=None,
                     idle_exit_s=args.idle_exit)
    try:
        print_records(records, args.json)
    except KeyboardInterrupt:
        return 0
    return 0


def broker_main(argv: Sequence[str]) -> int:
    """`geowire broker`: an embedded broker in the foreground, for local experiments."""
    parser = argparse.ArgumentParser(prog="geowire broker", description="Run the "
                                     "embedded in-memory Tansu broker on loopback until "
                                     "Ctrl-C. It forgets everything when it stops.")
    parser.add_argument("--port", type=int, default=9092, help="loopback port")
    parser.add_argument("--topics", default="articles,articles.enriched,articles.dlq",
                        help="comma-separated topics to create")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic")
    args = parser.parse_args(list(argv))
    broker = EmbeddedBroker(port=args.port)
    broker.start()
    # Block the stop signals (after the start: a child inherits the mask) so that
    # sigwait receives them instead of their default action orphaning the broker.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    broker.create_topics([t for t in args.topics.split(",") if t], args.partitions)
    print(f"broker ready at {broker.bootstrap} (pid {broker.pid}); Ctrl-C stops it",
          flush=True)
    try:
        received = signal.sigwait({signal.SIGINT, signal.SIGTERM})
        print(f"{signal.Signals(received).name}: stopping the broker", flush=True)
    finally:
        broker.stop()
    return 0


def demo_main(argv: Sequence[str]) -> int:
    """`geowire demo` (make run): everything on an embedded broker, printed live."""
    parser = build_parser("geowire demo", "Start an embedded broker and the service, "
                          "publish the bundled sample articles (a few malformed on "
                          "purpose) and print each enriched event and dead letter as it "
                          "arrives, until Ctrl-C.")
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="articles to publish")
    parser.add_argument("--idle-exit", type=float, default=0.0, metavar="SECONDS",
                        help="stop after this long without new output (0: wait for Ctrl-C)")
    settings, args = load_settings(parser, argv, os.environ)
    configure_logging("WARNING", "console")
    try:
        version = read_manifest(Path(settings.model_path)).version
    except ArtifactError as exc:
        parser.exit(1, f"geowire demo: error: {exc}\n")
    port = settings.metrics_port or free_port()
    with EmbeddedBroker() as broker:
        broker.create_topics([settings.input_topic, settings.output_topic,
                              settings.dlq_topic], DEMO_PARTITIONS)
        settings = replace(settings, bootstrap_servers=broker.bootstrap, metrics_port=port)
        log_path = Path(tempfile.gettempdir()) / f"geowire-demo-{port}.log"
        service = _start_service(settings, log_path)
        print(f"broker  {broker.bootstrap} (embedded, in memory)\n"
              f"model   {version}\n"
              f"service pid {service.pid}, log {log_path}\n"
              f"metrics http://127.0.0.1:{port}/metrics  (/healthz, /readyz)\n", flush=True)
        try:
            return _demo_traffic(settings, args, service, port)
        except KeyboardInterrupt:
            # The interrupted reader's sockets close mid-read; the client's tracebacks
            # about that would only alarm whoever pressed Ctrl-C.
            logging.getLogger("kafka").setLevel(logging.CRITICAL)
            print("\nstopping…")
            return 0
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=30)


def _start_service(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GEOWIRE_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "GEOWIRE_METRICS_PORT": str(settings.metrics_port),
           "GEOWIRE_MODEL_PATH": settings.model_path, "GEOWIRE_LOG_FORMAT": "console"}
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "stream"], env=env, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )


def _demo_traffic(
    settings: Settings, args: argparse.Namespace, service: subprocess.Popen[bytes], port: int
) -> int:
    print("waiting for the service to join its consumer group…", flush=True)
    if not _wait_ready(port, service, 60):
        print("the service did not become ready; see its log", file=sys.stderr)
        return 1
    lines = list(read_lines(args.samples.open("rb"))) + _malformed_extras()
    sent = publish(settings, lines, settings.input_topic)
    print(f"published {sent} sample events to {settings.input_topic}\n", flush=True)
    counts = {"enriched": 0, "dead-lettered": 0}
    for record in _follow_outputs(settings, args.idle_exit):
        if record.topic == settings.dlq_topic:
            counts["dead-lettered"] += 1
            headers = dict(record.headers or [])
            print(f"{'DEAD LETTER':<14} {headers.get('error.type', b'?').decode()}: "
                  f"{headers.get('error.message', b'').decode('utf-8', 'replace')}",
                  flush=True)
        else:
            counts["enriched"] += 1
            print(describe(record.value), flush=True)
    print(f"\n{counts['enriched']} enriched, {counts['dead-lettered']} dead-lettered")
    return 0


def _follow_outputs(settings: Settings, idle_exit_s: float) -> Iterator[Any]:
    yield from _merge(settings, [settings.output_topic, settings.dlq_topic], idle_exit_s)


def _merge(settings: Settings, topics: list[str], idle_exit_s: float) -> Iterator[Any]:

    consumer = build_consumer(settings, group_id=None, enable_auto_commit=False)
    consumer.subscribe(topics)
    last = time.monotonic()
    try:
        while not idle_exit_s or time.monotonic() - last < idle_exit_s:
            for records in consumer.poll(timeout_ms=200).values():
                yield from records
                last = time.monotonic()
    finally:
        consumer.close()


def _wait_ready(port: int, service: subprocess.Popen[bytes], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and service.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def _malformed_extras() -> list[bytes]:
    """Bad records a text file cannot hold: invalid UTF-8 and an oversized event."""
    return [
        b'{"id": "demo-bad-utf8", "headline": "caf\xe9 \xff\xfe"}',
        b'{"id": "demo-oversized", "body": "' + b"x" * 1_100_000 + b'"}',
    ]


def bench_main(argv: Sequence[str]) -> int:
    """`geowire bench`: see stream/bench.py."""
    from stream.bench import bench

    return bench(argv)
