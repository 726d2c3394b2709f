"""Scripted faults with counted events: `python -m stream.chaos rebalance|kill|load`."""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stream.broker import EmbeddedBroker, free_port
from stream.config import Delivery, Settings
from stream.kafka_io import build_consumer, ensure_topics
from stream.produce import publish

PARTITIONS = 6
READY_TIMEOUT_S = 60.0


@dataclass
class Instance:
    """One `geowire serve` process of the group under test."""

    proc: subprocess.Popen[bytes]
    slot: int
    port: int
    log_path: Path

    def ready(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/readyz"
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.HTTPError):
            return False

    def metric(self, name: str) -> float:
        try:
            url = f"http://127.0.0.1:{self.port}/metrics"
            with urllib.request.urlopen(url, timeout=1) as response:
                text = response.read().decode()
        except OSError:
            return 0.0
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)


@dataclass
class Group:
    """Starts, signals and stops the instances of one consumer group."""

    bootstrap: str
    model_path: str
    delivery: Delivery
    log_dir: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    extra_env: dict[str, str] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)

    @property
    def topics(self) -> tuple[str, str, str]:
        return f"chaos-in-{self.tag}", f"chaos-out-{self.tag}", f"chaos-dlq-{self.tag}"

    def start(self, slot: int) -> Instance:
        port = free_port()
        source, output, dlq = self.topics
        env = {
            **os.environ,
            "GEOWIRE_BOOTSTRAP_SERVERS": self.bootstrap,
            "GEOWIRE_INPUT_TOPIC": source,
            "GEOWIRE_OUTPUT_TOPIC": output,
            "GEOWIRE_DLQ_TOPIC": dlq,
            "GEOWIRE_GROUP_ID": f"chaos-{self.tag}",
            "GEOWIRE_MODEL_PATH": self.model_path,
            "GEOWIRE_METRICS_HOST": "127.0.0.1",
            "GEOWIRE_METRICS_PORT": str(port),
            "GEOWIRE_LOG_FORMAT": "json",
            "GEOWIRE_DELIVERY": self.delivery,
            "GEOWIRE_TRANSACTIONAL_ID_PREFIX": f"chaos-{self.tag}",
            "GEOWIRE_INSTANCE_SLOT": str(slot),
            "GEOWIRE_CLIENT_ID": f"chaos-{slot}-{len(self.instances)}",
            **self.extra_env,
        }
        log_path = self.log_dir / f"instance-{len(self.instances)}-slot{slot}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "stream"], env=env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        instance = Instance(proc, slot, port, log_path)
        self.instances.append(instance)
        return instance

    def wait_ready(self, instances: Sequence[Instance]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(i.ready() for i in instances):
            dead = [i for i in instances if i.proc.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"instance not ready; see {instances[0].log_path.parent}")
            time.sleep(0.2)

    def stop_all(self) -> list[int | None]:
        for instance in self.instances:
            instance.signal(signal.SIGTERM)
        codes = []
        for instance in self.instances:
            try:
                codes.append(instance.proc.wait(timeout=30))
            except subprocess.TimeoutExpired:
                instance.proc.kill()
                codes.append(None)
        return codes


@dataclass
class Report:
    """What came out against what went in."""

    scenario: str
    delivery: str
    sent: int
    received: int
    unique: int
    missing: int
    duplicated: int
    dead_lettered: int
    seconds: float
    notes: dict[str, object] = field(default_factory=dict)

    def print(self) -> None:
        print(f"{self.scenario} ({self.delivery}): sent {self.sent}, received {self.received} "
              f"({self.unique} unique), missing {self.missing}, duplicated {self.duplicated}, "
              f"dead-lettered {self.dead_lettered}, {self.seconds:.1f} s")
        for key, value in self.notes.items():
            print(f"  {key}: {value}")
        print(json.dumps(self.__dict__, default=str))


def article(i: int) -> bytes:
    """The i-th test event: a valid article with id c-<i>."""
    return json.dumps({"id": f"c-{i}", "headline": f"Tariffs on steel, talks in Paris {i}",
                       "body": "Ministers met to discuss sanctions and trade."}).encode()


def read_topic(bootstrap: str, topic: str, expected: int, timeout_s: float,
               idle_s: float = 3.0) -> list[bytes]:
    """Values of `topic` from the start (read_committed) until `expected` arrived and it
    has been idle for `idle_s`, or `timeout_s` passed."""
    consumer = build_consumer(Settings(bootstrap_servers=bootstrap), group_id=None,
                              isolation_level="read_committed", max_poll_records=2000)
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=200)
            for records in batches.values():
                values.extend(r.value or b"" for r in records)
                last = time.monotonic()
            if len(values) >= expected and time.monotonic() - last > idle_s:
                break
    finally:
        consumer.close()
    return values


def count(scenario: str, group: Group, sent: int, started: float, timeout_s: float,
          notes: dict[str, object]) -> Report:
    """Read the output and dead-letter topics and count ids against c-0..c-(sent-1)."""
    _, output, dlq = group.topics
    values = read_topic(group.bootstrap, output, sent, timeout_s)
    ids = Counter(json.loads(v)["id"] for v in values)
    seconds = time.monotonic() - started
    dead = len(read_topic(group.bootstrap, dlq, 0, 5, idle_s=1.0))
    expected = {f"c-{i}" for i in range(sent)}
    duplicated = sorted(int(i[2:]) for i, n in ids.items() if n > 1 and i.startswith("c-"))
    if duplicated:
        notes["duplicate id runs (first, last, count)"] = _runs(duplicated)
    return Report(scenario, group.delivery, sent, len(values), len(ids),
                  len(expected - set(ids)), sum(n - 1 for n in ids.values() if n > 1),
                  dead, seconds, notes)


def _runs(numbers: list[int], gap: int = 1000) -> list[tuple[int, int, int]]:
    """Group sorted ids into runs: one run per interrupted batch, as a rule."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n - runs[-1][-1] <= gap:
            runs[-1].append(n)
        else:
            runs.append([n])
    return [(run[0], run[-1], len(run)) for run in runs]


def _produce_in_background(group: Group, events: int, rate: float) -> threading.Thread:
    settings = Settings(bootstrap_servers=group.bootstrap)
    lines = (article(i) for i in range(events))
    thread = threading.Thread(target=publish, args=(settings, lines, group.topics[0], rate),
                              daemon=True)
    thread.start()
    return thread


def rebalance(group: Group, events: int, rate: float) -> Report:
    """3 instances; SIGTERM one, SIGKILL one, start two more (reusing their slots)."""
    first = [group.start(slot) for slot in range(3)]
    group.wait_ready(first)
    started = time.monotonic()
    producer = _produce_in_background(group, events, rate)
    span = events / rate
    steps: list[tuple[float, str, Callable[[], object]]] = [
        (0.2, "SIGTERM slot 0", lambda: first[0].signal(signal.SIGTERM)),
        (0.4, "SIGKILL slot 1", lambda: first[1].signal(signal.SIGKILL)),
        (0.6, "start slots 0 and 1", lambda: (group.start(0), group.start(1))),
    ]
    for fraction, what, action in steps:
        time.sleep(max(0.0, started + fraction * span - time.monotonic()))
        print(f"{time.monotonic() - started:6.1f} s  {what}", flush=True)
        action()
    producer.join()
    report = count("rebalance", group, events, started, timeout_s=120 + span,
                   notes={"sigterm_exit": first[0].proc.wait(timeout=30)})
    report.notes["exit_codes"] = group.stop_all()
    return report


def kills(group: Group, events: int, rate: float, times: int, seed: int = 0) -> Report:
    """One instance (slot 0) SIGKILLed `times` times while busy, restarted at once.

    Each life is killed a random moment after it delivered its share of the events, so
    every kill lands mid-stream: in a batch, or in a transaction, or between them.
    """
    started = time.monotonic()
    producer = _produce_in_background(group, events, rate)
    share = events // (times + 2)  # the last life finishes the stream
    jitter = random.Random(seed)  # noqa: S311 - timing jitter, not cryptography
    for n in range(times + 1):
        current = group.start(0)
        group.wait_ready([current])
        if n == times:
            break
        _wait_for_progress(current, share)
        # A random moment in the next few batches: the threshold itself is crossed
        # right after an acknowledgement, which would bias where the kill lands.
        time.sleep(jitter.uniform(0.0, 0.3))
        print(f"{time.monotonic() - started:6.1f} s  SIGKILL #{n + 1}", flush=True)
        current.signal(signal.SIGKILL)
        current.proc.wait(timeout=10)
    producer.join()
    report = count("kill", group, events, started, timeout_s=180, notes={})
    report.notes["exit_codes"] = group.stop_all()
    return report


def _wait_for_progress(instance: Instance, delivered: int, stall_s: float = 15.0) -> None:
    """Until the instance delivered `delivered` events, or stopped making progress."""
    last, since = -1.0, time.monotonic()
    while (now := instance.metric("geowire_events_produced_total")) < delivered:
        if instance.proc.poll() is not None:
            raise RuntimeError(f"instance exited; see {instance.log_path}")
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > stall_s:
            return
        time.sleep(0.02)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one scenario against an embedded broker (or --bootstrap); exit 1 on a loss."""
    parser = argparse.ArgumentParser(prog="python -m stream.chaos", description=__doc__)
    parser.add_argument("scenario", choices=("rebalance", "kill", "load"))
    parser.add_argument("--events", type=int, default=0, help="default: 30,000 for "
                        "rebalance, 20,000 for kill, 200,000 for load")
    parser.add_argument("--rate", type=float, default=-1, help="events/s published "
                        "(default: 1,000 for rebalance; as fast as possible otherwise)")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="kill timing jitter seed")
    parser.add_argument("--delivery", choices=("at-least-once", "exactly-once"),
                        default="at-least-once")
    parser.add_argument("--model-path", default="artifacts/model")
    parser.add_argument("--bootstrap", default="", help="default: a private embedded broker")
    args = parser.parse_args(argv)
    defaults = {"rebalance": 30_000, "kill": 20_000, "load": 200_000}
    events = args.events or defaults[args.scenario]
    rate = args.rate if args.rate >= 0 else (1000.0 if args.scenario == "rebalance" else 0.0)
    log_dir = Path(tempfile.mkdtemp(prefix=f"geowire-chaos-{args.scenario}-"))
    broker = None if args.bootstrap else EmbeddedBroker(log_path=log_dir / "tansu.log")
    bootstrap = args.bootstrap or broker.start()  # type: ignore[union-attr]
    print(f"logs in {log_dir}", flush=True)
    try:
        group = Group(bootstrap, args.model_path, args.delivery, log_dir)
        ensure_topics(Settings(bootstrap_servers=bootstrap), list(group.topics), PARTITIONS)
        if args.scenario == "rebalance":
            report = rebalance(group, events, rate)
        elif args.scenario == "kill":
            report = kills(group, events, rate, args.kills, args.seed)
        else:
            from stream.load import load

            report = load(group, events)
    finally:
        if broker:
            broker.stop()
    report.print()
    return 1 if report.missing else 0


if __name__ == "__main__":
    sys.exit(main())
