"""Exactly-once mode on a real broker, and the broker's transaction behaviour it relies on."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from stream.config import Settings
from stream.kafka_io import build_consumer, build_producer, ensure_topics
from tests.integration.harness import (
    Topics,
    article,
    produce,
    short_rebalance_chaos,
    start_service,
)

EXACTLY_ONCE = {"GEOWIRE_DELIVERY": "exactly-once"}


def _read_committed(bootstrap: str, topic: str, seconds: float = 3.0) -> list[bytes]:
    """Everything a read_committed reader gets from `topic` within `seconds`."""
    consumer = build_consumer(Settings(bootstrap_servers=bootstrap), group_id=None,
                              isolation_level="read_committed")
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                values.extend(r.value for r in records)
    finally:
        consumer.close()
    return values


@pytest.fixture
def topic(bootstrap: str) -> str:
    """A fresh one-partition topic."""
    name = f"txn-{uuid.uuid4().hex[:10]}"
    ensure_topics(Settings(bootstrap_servers=bootstrap), [name], 1)
    return name


class TestBrokerTransactions:
    """What Tansu 0.6.0 does with transactions: the part of exactly-once that is its."""

    @pytest.mark.xfail(strict=True, reason="Tansu 0.6.0 sends no aborted-transaction list "
                       "in fetch responses, so read_committed readers (kafka-python and "
                       "confluent-kafka alike) get aborted records: the broker's fault, "
                       "see docs/RELIABILITY.md")
    def test_aborted_records_are_hidden_from_read_committed_readers(
        self, bootstrap: str, topic: str
    ) -> None:
        """Records of an aborted transaction never reach a read_committed reader."""
        producer = build_producer(Settings(bootstrap_servers=bootstrap), f"t-{topic}")
        try:
            producer.init_transactions()
            producer.begin_transaction()
            producer.send(topic, b"aborted")
            producer.flush()
            producer.abort_transaction()
            producer.begin_transaction()
            producer.send(topic, b"committed")
            producer.flush()
            producer.commit_transaction()
        finally:
            producer.close(timeout=5)
        assert _read_committed(bootstrap, topic) == [b"committed"]

    def test_an_abandoned_transaction_blocks_readers_until_its_id_is_reused(
        self, bootstrap: str, topic: str
    ) -> None:
        """A killed producer's open transaction holds read_committed readers back until a
        producer with the same transactional id calls init_transactions(): hence slots."""
        settings = Settings(bootstrap_servers=bootstrap)
        killed = build_producer(settings, f"slot-{topic}")
        killed.init_transactions()
        killed.begin_transaction()
        killed.send(topic, b"in the open transaction")
        killed.flush()  # then the process "dies": no commit, no abort
        other = build_producer(settings)
        other.send(topic, b"written after it").get(timeout=10)
        other.close(timeout=5)
        assert _read_committed(bootstrap, topic, seconds=2) == []

        replacement = build_producer(settings, f"slot-{topic}")
        replacement.init_transactions()
        replacement.close(timeout=5)
        seen = _read_committed(bootstrap, topic)
        assert b"written after it" in seen
        # The aborted record is delivered too (see the xfail above): the broker's fault.
        assert b"in the open transaction" in seen
        killed.close(timeout=0)


class TestExactlyOnceService:
    def test_each_event_comes_out_once_and_offsets_commit_in_the_transaction(
        self, bootstrap: str, topics: Topics, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """exactly-once mode: N events in, the same N ids out once each; valid and invalid
        alike; the group's offsets advance with the transactions."""
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir, **EXACTLY_ONCE)
        try:
            service.wait_ready()
            values = [article(f"x-{i}") for i in range(500)] + [b"not json"] * 20
            assert produce(bootstrap, topics.input, values) == 520
            deadline = time.monotonic() + 60
            while (service.metric("geowire_events_consumed_total") < 520
                   and time.monotonic() < deadline):
                time.sleep(0.2)
            out = _read_committed(bootstrap, topics.output)
            ids = Counter(json.loads(v)["id"] for v in out)
            assert set(ids) == {f"x-{i}" for i in range(500)}
            assert max(ids.values()) == 1
            assert len(_read_committed(bootstrap, topics.dlq, 2)) == 20
            assert service.metric("geowire_commits_total") >= 1
            assert '"delivery": "exactly-once"' in service.log()
        finally:
            assert service.stop() == 0

    def test_rebalance_chaos_loses_nothing(
        self, bootstrap: str, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """The short rebalance scenario in exactly-once mode: 3,000 events, none missing;
        duplicates only from a transaction a SIGKILL cut short (Tansu shows its records)."""
        report = short_rebalance_chaos(bootstrap, tiny_model_dir, "exactly-once", log_dir)
        assert report.missing == 0
        assert report.duplicated <= Settings().batch_size  # at most the one killed batch
        assert report.notes["sigterm_exit"] == 0
