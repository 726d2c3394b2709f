"""The service end to end on a real broker: delivery, dead letters, kills, shutdown, metrics."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from tests.integration.harness import (
    ServiceProcess,
    Topics,
    article,
    consume,
    produce,
    start_service,
)

BAD_INPUTS: dict[str, bytes] = {
    "not_utf8": b'{"id": "bad-1", "headline": "caf\xe9 \xff"}',
    "not_json": b"this is not json",
    "not_object": b'["an", "array"]',
    "missing_field": b'{"headline": "no id here"}',
    "wrong_type": b'{"id": 42, "headline": "numeric id"}',
    "invalid_value": b'{"id": "bad-6", "headline": "x", "published_at": "yesterday"}',
    "no_text": b'{"id": "bad-7", "headline": "", "body": "  "}',
    "too_large": b'{"id": "bad-8", "body": "' + b"y" * 5000 + b'"}',
}


def _ids(records: list) -> list[str]:
    return [json.loads(r.value)["id"] for r in records]


class TestDelivery:
    def test_every_event_comes_out_enriched_with_its_id(
        self, bootstrap: str, topics: Topics, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """N valid events in give N enriched events out, same ids, input fields intact."""
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir)
        try:
            service.wait_ready()
            sent = [article(f"a-{i}", "Tariffs on Chinese steel", section="World")
                    for i in range(200)]
            assert produce(bootstrap, topics.input, sent) == 200
            out = consume(bootstrap, topics.output, 200)
            assert sorted(_ids(out)) == sorted(f"a-{i}" for i in range(200))
            first = json.loads(out[0].value)
            assert first["section"] == "World"
            assert first["enrichment"]["schema_version"] == 1
            assert {r.key for r in out} == {f"a-{i}".encode() for i in range(200)}
        finally:
            assert service.stop() == 0

    def test_metrics_show_the_counts(
        self, bootstrap: str, topics: Topics, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """/metrics counts consumed, produced and dead-lettered events."""
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir)
        try:
            service.wait_ready()
            produce(bootstrap, topics.input, [article(f"m-{i}") for i in range(30)]
                    + [b"garbage"] * 4)
            consume(bootstrap, topics.output, 30)
            deadline = time.monotonic() + 10
            while (service.metric("geowire_events_consumed_total") < 34
                   and time.monotonic() < deadline):
                time.sleep(0.2)
            assert service.metric("geowire_events_consumed_total") == 34
            assert service.metric("geowire_events_produced_total") == 30
            assert service.metric("geowire_events_dead_lettered_total",
                                  {"reason": "not_json"}) == 4
            assert service.metric("geowire_ready") == 1
            assert service.metric("geowire_commits_total") >= 1
            assert _lag_once_caught_up(service) == {"0": 0.0, "1": 0.0, "2": 0.0}
        finally:
            service.stop()


def _lag_once_caught_up(service: ServiceProcess, timeout_s: float = 10) -> dict[str, float]:
    """geowire_consumer_lag_events by partition, once every series reads 0 (or at timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        _, text = service.get("/metrics")
        lag = {
            line.split('partition="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("geowire_consumer_lag_events{")
        }
        if (lag and not any(lag.values())) or time.monotonic() > deadline:
            return lag
        time.sleep(0.2)


class TestDeadLetters:
    def test_each_kind_of_bad_input_lands_with_its_reason(
        self, bootstrap: str, topics: Topics, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """Every kind of bad input is dead-lettered with its reason and original bytes."""
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir,
                                GEOWIRE_MAX_EVENT_BYTES="4096")
        try:
            service.wait_ready()
            values = []
            for i, bad in enumerate(BAD_INPUTS.values()):
                values += [article(f"good-{i}"), bad]
            produce(bootstrap, topics.input, values)
            good = consume(bootstrap, topics.output, len(BAD_INPUTS))
            dead = consume(bootstrap, topics.dlq, len(BAD_INPUTS))
            assert len(good) == len(BAD_INPUTS)
            by_reason = {dict(r.headers)["error.type"].decode(): r for r in dead}
            assert set(by_reason) == set(BAD_INPUTS)
            for reason, record in by_reason.items():
                headers = dict(record.headers)
                assert record.value == BAD_INPUTS[reason]
                assert headers["source.topic"].decode() == topics.input
                assert int(headers["source.offset"]) >= 0
                assert headers["error.message"]
            assert service.proc.poll() is None
        finally:
            service.stop()


class TestCrashAndShutdown:
    def test_kill_minus_nine_and_restart_lose_nothing(
        self, bootstrap: str, topics: Topics, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """SIGKILL mid-stream, then a restart: every input id reaches the output."""
        total = 3000
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir,
                                GEOWIRE_BATCH_SIZE="50")
        service.wait_ready()
        produce(bootstrap, topics.input, [article(f"k-{i}") for i in range(total)])
        deadline = time.monotonic() + 30
        while (service.metric("geowire_events_produced_total") < 300
               and time.monotonic() < deadline):
            time.sleep(0.05)
        service.stop(signal.SIGKILL)
        restarted = start_service(bootstrap, topics, tiny_model_dir, log_dir)
        try:
            restarted.wait_ready()
            out = consume(bootstrap, topics.output, total, timeout_s=120)
            ids = set(_ids(out))
            missing = {f"k-{i}" for i in range(total)} - ids
            assert not missing, f"{len(missing)} events lost"
        finally:
            restarted.stop()

    def test_sigterm_exits_zero_after_a_final_commit(
        self, bootstrap: str, topics: Topics, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """SIGTERM: the service exits 0 and its group's committed offsets cover all input."""
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir)
        service.wait_ready()
        produce(bootstrap, topics.input, [article(f"t-{i}") for i in range(100)])
        consume(bootstrap, topics.output, 100)
        assert service.stop(signal.SIGTERM) == 0
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=topics.group,
                                 enable_auto_commit=False)
        try:
            partitions = [TopicPartition(topics.input, p) for p in range(3)]
            committed = sum(consumer.committed(tp) or 0 for tp in partitions)
        finally:
            consumer.close()
        assert committed == 100
        assert '"message": "stopped"' in service.log()
