"""Faults on a real broker: outages and restarts, malformed input at scale, backpressure."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream.broker import EmbeddedBroker, free_port
from stream.config import Settings
from stream.kafka_io import build_admin, ensure_topics
from tests.integration.harness import (
    ServiceProcess,
    Topics,
    article,
    consume,
    create_topics,
    produce,
    short_rebalance_chaos,
    start_service,
)

READY_LOST_WITHIN_S = 5.0
RECOVERY_WITHIN_S = 10.0


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of this test's own, on a fixed port, that the test may kill and restart."""
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _wait(predicate: object, timeout_s: float, interval_s: float = 0.1) -> float | None:
    """Seconds until `predicate()` held, or None when it never did within the timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if callable(predicate) and predicate():
            return time.monotonic() - started
        time.sleep(interval_s)
    return None


def _readyz(service: ServiceProcess) -> int:
    try:
        return service.get("/readyz")[0]
    except OSError:
        return 0


def _partitions(bootstrap: str, topic: str) -> int:
    """How many partitions the broker reports for `topic` (0 when it does not exist)."""
    admin = build_admin(Settings(bootstrap_servers=bootstrap))
    try:
        described = admin.describe_topics([topic])  # a missing topic has an error code
    finally:
        admin.close()
    for item in described:
        if item.get("name") == topic and not item.get("error_code"):
            return len(item.get("partitions", []))
    return 0


def _ids(records: list) -> list[str]:
    return [json.loads(r.value)["id"] for r in records]


class TestBrokerOutage:
    def test_service_survives_a_broker_restart_and_recreates_its_topics(
        self, private_broker: EmbeddedBroker, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """Broker killed: /readyz 503 in seconds; back: topics recreated, events flow in 10 s."""
        bootstrap = private_broker.bootstrap
        topics = Topics.unique()
        create_topics(bootstrap, topics)
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir,
                                GEOWIRE_CREATE_TOPICS="true", GEOWIRE_TOPIC_PARTITIONS="3")
        try:
            service.wait_ready()
            produce(bootstrap, topics.input, [article(f"before-{i}") for i in range(20)])
            assert len(consume(bootstrap, topics.output, 20)) == 20

            private_broker.stop(kill=True)
            lost = _wait(lambda: _readyz(service) == 503, READY_LOST_WITHIN_S + 5)
            assert lost is not None and lost < READY_LOST_WITHIN_S, f"/readyz after {lost}"
            time.sleep(2)  # an outage of a few seconds, as in a broker crash-restart
            assert service.proc.poll() is None

            private_broker.start()
            back = time.monotonic()
            # The restarted broker forgot everything; the service (create_topics on) makes
            # the topics again with its configured partition count, not auto-creation's 4.
            assert _wait(lambda: _partitions(bootstrap, topics.input) == 3, RECOVERY_WITHIN_S)
            produce(bootstrap, topics.input, [article(f"after-{i}") for i in range(20)])
            out = consume(bootstrap, topics.output, 20,
                          timeout_s=max(1.0, back + RECOVERY_WITHIN_S - time.monotonic()))
            recovered = time.monotonic() - back
            assert sorted(_ids(out)) == sorted(f"after-{i}" for i in range(20)), (
                f"{len(out)} of 20 events out {recovered:.1f} s after the broker returned\n"
                + service.log()[-4000:]
            )
            assert recovered < RECOVERY_WITHIN_S
            assert _wait(lambda: _readyz(service) == 200, 10) is not None
            assert service.proc.poll() is None
            print(f"readyz 503 after {lost:.1f} s; events out {recovered:.1f} s after return")
        finally:
            assert service.stop() == 0

    def test_without_create_topics_the_service_waits_for_the_topics(
        self, private_broker: EmbeddedBroker, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """create_topics off: after a restart nothing is auto-created; the service waits."""
        bootstrap = private_broker.bootstrap
        topics = Topics.unique()
        create_topics(bootstrap, topics)
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir)
        try:
            service.wait_ready()
            private_broker.stop(kill=True)
            assert _wait(lambda: _readyz(service) == 503, 10) is not None
            private_broker.start()
            time.sleep(8)  # longer than the service's wait before it would create topics
            for name in (topics.input, topics.output, topics.dlq):
                assert _partitions(bootstrap, name) == 0, f"{name} was created"
            assert _readyz(service) == 503
            assert service.proc.poll() is None

            create_topics(bootstrap, topics)  # the operator provisions them again
            produce(bootstrap, topics.input, [article(f"later-{i}") for i in range(10)])
            out = consume(bootstrap, topics.output, 10, timeout_s=30)
            assert sorted(_ids(out)) == sorted(f"later-{i}" for i in range(10))
        finally:
            assert service.stop() == 0


def _malformed(i: int) -> tuple[str, bytes]:
    """The i-th malformed event: every reason in turn, each value unique."""
    kinds: list[tuple[str, bytes]] = [
        ("not_utf8", b'{"id": "u-%d", "headline": "caf\xe9 \xff\xfe"}' % i),
        ("not_json", b'{"id": "j-%d", "headline": ' % i),
        ("not_object", b'["array", %d]' % i),
        ("missing_field", b'{"headline": "no id %d"}' % i),
        ("wrong_type", b'{"id": %d, "headline": "numeric id"}' % i),
        ("wrong_type", b'{"id": "t-%d", "headline": ["a", "list"]}' % i),
        ("invalid_value", b'{"id": "v-%d", "headline": "x", "published_at": "soon"}' % i),
        ("invalid_value", b'{"id": "   ", "headline": "blank id %d"}' % i),
        ("no_text", b'{"id": "n-%d", "headline": "", "body": null}' % i),
        ("too_large", b'{"id": "l-%d", "body": "%s"}' % (i, b"z" * 5000)),
        ("not_json", b"\x00\x00\x00%d" % i),
        ("not_json", b""),
    ]
    return kinds[(i // 3) % len(kinds)]


class TestMalformedAtScale:
    def test_ten_thousand_events_a_third_malformed_counts_match(
        self, bootstrap: str, topics: Topics, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """10,000 events, a third malformed: outputs, dead letters and metrics agree exactly."""
        total = 10_000
        rng = random.Random(7)
        headlines = ["Tariffs on Chinese steel", "Ceasefire talks in Gaza stall",
                     "Local bakery wins prize", "Sanctions on Russia widen",
                     "Élections en France : le vote", "  ‏مرحبا‎ news\u200b from Cairo  "]
        values: list[bytes] = []
        good_ids: list[str] = []
        expected_reasons: Counter[str] = Counter()
        bad_values: Counter[bytes] = Counter()
        for i in range(total):
            if i % 3 == 0:
                reason, value = _malformed(i)
                expected_reasons[reason] += 1
                bad_values[value] += 1
                values.append(value)
            else:
                good_ids.append(f"g-{i}")
                values.append(article(f"g-{i}", rng.choice(headlines),
                                      body=rng.choice(["", "More text.", "x" * 300])))
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir,
                                GEOWIRE_MAX_EVENT_BYTES="4096")
        try:
            service.wait_ready()
            assert produce(bootstrap, topics.input, values) == total
            out = consume(bootstrap, topics.output, len(good_ids), timeout_s=90)
            dead = consume(bootstrap, topics.dlq, sum(expected_reasons.values()), timeout_s=30)
            assert len(out) == len(good_ids)
            assert sorted(_ids(out)) == sorted(good_ids)
            assert len(dead) == sum(expected_reasons.values())
            assert Counter(r.value or b"" for r in dead) == bad_values
            reasons = Counter(dict(r.headers)["error.type"].decode() for r in dead)
            assert reasons == expected_reasons
            assert _wait(lambda: service.metric("geowire_events_consumed_total") == total, 10)
            assert service.metric("geowire_events_produced_total") == len(good_ids)
            for reason, count in expected_reasons.items():
                assert service.metric("geowire_events_dead_lettered_total",
                                      {"reason": reason}) == count, reason
            print(f"{total} in: {len(out)} enriched, {len(dead)} dead-lettered {dict(reasons)}")
        finally:
            assert service.stop() == 0


class TestBackpressure:
    def test_an_unwritable_output_stops_consumption_instead_of_buffering(
        self, bootstrap: str, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """Output topic missing (create_topics off): nothing is consumed or committed until
        it exists; then every event comes out."""
        topics = Topics.unique()
        settings = Settings(bootstrap_servers=bootstrap)
        ensure_topics(settings, [topics.input, topics.dlq], 3)
        total = 2000
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir,
                                GEOWIRE_BATCH_SIZE="100")
        try:
            service.wait_ready()
            assert produce(bootstrap, topics.input, [article(f"b-{i}") for i in range(total)])
            assert _wait(lambda: service.metric("geowire_broker_errors_total",
                                                {"kind": "delivery"}) >= 1, 30)
            time.sleep(3)
            assert service.metric("geowire_events_consumed_total") == 0
            assert service.metric("geowire_commits_total") == 0
            assert _partitions(bootstrap, topics.output) == 0, "output was auto-created"
            assert service.proc.poll() is None

            ensure_topics(settings, [topics.output], 3)
            out = consume(bootstrap, topics.output, total, timeout_s=60)
            assert sorted(set(_ids(out))) == sorted(f"b-{i}" for i in range(total))
            assert _wait(lambda: service.metric("geowire_events_consumed_total") >= total, 10)
        finally:
            assert service.stop() == 0


class TestOversizedOutput:
    def test_an_event_whose_enrichment_is_too_big_is_dead_lettered(
        self, bootstrap: str, topics: Topics, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """An event whose enrichment outgrows the producer's record limit (100 KB of "US "
        gave 1.9 MB of country evidence) is dead-lettered, not retried forever."""
        big = article("huge", "US", body="US " * 33_000)
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir,
                                GEOWIRE_MAX_EVENT_BYTES="262144")  # record limit: 1 MiB
        try:
            service.wait_ready()
            produce(bootstrap, topics.input, [big] + [article(f"s-{i}") for i in range(50)])
            out = consume(bootstrap, topics.output, 50, timeout_s=60)
            dead = consume(bootstrap, topics.dlq, 1, timeout_s=10)
            assert sorted(_ids(out)) == sorted(f"s-{i}" for i in range(50))
            assert [dict(r.headers)["error.type"] for r in dead] == [b"too_large"]
            assert dead[0].value == big
            assert service.metric("geowire_events_dead_lettered_total",
                                  {"reason": "too_large"}) == 1
        finally:
            assert service.stop() == 0


class TestRebalanceChaos:
    def test_sigterm_sigkill_and_new_instances_lose_nothing(
        self, bootstrap: str, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """3 instances over 6 partitions, one SIGTERMed, one SIGKILLed, two started: 3,000
        events, none missing (the short variant of `make chaos`)."""
        report = short_rebalance_chaos(bootstrap, tiny_model_dir, "at-least-once", log_dir)
        assert report.missing == 0
        assert report.notes["sigterm_exit"] == 0
        assert report.dead_lettered == 0
