"""Helpers for integration tests: run `geowire serve` as a real process, move records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stream import chaos
from stream.broker import free_port
from stream.config import Settings
from stream.kafka_io import build_consumer, ensure_topics
from stream.produce import publish

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Topics:
    """A unique input/output/dead-letter topic triple and group id for one test."""

    input: str
    output: str
    dlq: str
    group: str

    @classmethod
    def unique(cls) -> Topics:
        tag = uuid.uuid4().hex[:10]
        return cls(f"in-{tag}", f"out-{tag}", f"dlq-{tag}", f"group-{tag}")


@dataclass
class ServiceProcess:
    """A `geowire serve` subprocess with its metrics port and log file."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    env: dict[str, str] = field(repr=False)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"service not ready after {timeout_s} s:\n{self.log()}")

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        """Value of one sample on /metrics (0 when absent)."""
        _, text = self.get("/metrics")
        wanted = name
        if labels:
            wanted += "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
        for line in text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_service(
    bootstrap: str, topics: Topics, model_dir: Path, log_dir: Path, **env_overrides: str
) -> ServiceProcess:
    """Start `python -m stream` against the broker with this test's topics."""
    port = free_port()
    env = {
        **os.environ,
        "GEOWIRE_BOOTSTRAP_SERVERS": bootstrap,
        "GEOWIRE_INPUT_TOPIC": topics.input,
        "GEOWIRE_OUTPUT_TOPIC": topics.output,
        "GEOWIRE_DLQ_TOPIC": topics.dlq,
        "GEOWIRE_GROUP_ID": topics.group,
        "GEOWIRE_MODEL_PATH": str(model_dir),
        "GEOWIRE_METRICS_HOST": "127.0.0.1",
        "GEOWIRE_METRICS_PORT": str(port),
        "GEOWIRE_LOG_FORMAT": "json",
        "GEOWIRE_BATCH_WAIT_MS": "50",
        **env_overrides,
    }
    log_path = log_dir / f"service-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stream"], env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=REPO,
        )
    return ServiceProcess(proc, port, log_path, env)


def create_topics(bootstrap: str, topics: Topics, partitions: int = 3) -> None:
    """Create this test's three topics."""
    ensure_topics(Settings(bootstrap_servers=bootstrap),
                  [topics.input, topics.output, topics.dlq], partitions)


def produce(bootstrap: str, topic: str, values: Iterable[bytes]) -> int:
    """Publish raw values; returns how many the broker acknowledged."""
    return publish(Settings(bootstrap_servers=bootstrap), list(values), topic)


def article(event_id: str, headline: str = "Tariff row deepens", **extra: Any) -> bytes:
    """A valid article event as bytes."""
    return json.dumps({"id": event_id, "headline": headline, **extra}).encode()


def consume(bootstrap: str, topic: str, expected: int, timeout_s: float = 60) -> list[Any]:
    """Read `topic` from the beginning until `expected` records arrived or time is up."""
    consumer = build_consumer(Settings(bootstrap_servers=bootstrap), group_id=None,
                              isolation_level="read_uncommitted")
    consumer.subscribe([topic])
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        # a short grace period shows whether more than expected arrive
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            for batch in consumer.poll(timeout_ms=100).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def short_rebalance_chaos(
    bootstrap: str, model_dir: Path, delivery: str, log_dir: Path
) -> chaos.Report:
    """The short variant of `make chaos`: 3 instances over 6 partitions, one SIGTERMed,
    one SIGKILLed, two started, 3,000 events at 300/s; prints and returns the counts."""
    group = chaos.Group(bootstrap, str(model_dir), delivery, log_dir)
    ensure_topics(Settings(bootstrap_servers=bootstrap), list(group.topics), chaos.PARTITIONS)
    try:
        report = chaos.rebalance(group, events=3000, rate=300)
    finally:
        group.stop_all()
    report.print()
    return report
