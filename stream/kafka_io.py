"""The only importer of the Kafka client: build clients, poll, send, flush, commit, admin."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import (
    InvalidProducerEpochError,
    KafkaError,
    ProducerFencedError,
    TopicAlreadyExistsError,
)
from kafka.structs import MemberState, OffsetAndMetadata

from stream.config import Settings
from stream.deadline import call_with_deadline
from stream.errors import BrokerUnavailable, DeliveryError
from stream.processor import InputRecord, OutputRecord
from stream.tls import check_tls

logger = logging.getLogger(__name__)
T = TypeVar("T")
KafkaClientError = KafkaError
"""Re-exported so that callers can catch client errors without importing the client."""
FencedError = (ProducerFencedError, InvalidProducerEpochError)
"""Another producer took over this transactional id: this instance is a zombie."""
DELIVERY_TIMEOUT_S = 30.0
# Tansu (the embedded broker) and kafka-python's defaults both reconnect with a backoff
# that grows to 30 s; 1 s caps recovery after a broker restart at a few seconds.
RECONNECT_BACKOFF_MAX_MS = 1000
# Tansu answers a LeaveGroup only after the member's pending join (~3 s) completes;
# a member that leaves cleanly lets its replacement join alone, without waiting for
# the old member's session to expire.
LEAVE_GROUP_TIMEOUT_MS = 5000
# kafka-python gives up bootstrapping after 30 s by itself, except in one case: a TLS
# client talking to a plaintext listener (or the reverse) waits in its constructor
# forever (measured: > 70 s). Past this deadline that is reported as what it is.
CONNECT_TIMEOUT_S = 40.0


def security_config(settings: Settings) -> dict[str, Any]:
    """kafka-python security options from the settings (empty ones left out)."""
    config: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol.startswith("SASL"):
        config["sasl_mechanism"] = settings.sasl_mechanism
        if settings.sasl_username:
            config["sasl_plain_username"] = settings.sasl_username
            config["sasl_plain_password"] = settings.sasl_password
    if settings.security_protocol.endswith("SSL"):
        config["ssl_check_hostname"] = settings.ssl_check_hostname
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if getattr(settings, name):
                config[name] = getattr(settings, name)
    return config


def common_config(settings: Settings) -> dict[str, Any]:
    """Options every client shares: brokers, client id, reconnect backoff, security."""
    return {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": settings.effective_client_id,
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
        **security_config(settings),
    }


def build_consumer(settings: Settings, **overrides: Any) -> KafkaConsumer:
    """A group consumer that never commits on its own and reads raw bytes."""
    config: dict[str, Any] = {
        **common_config(settings),
        "group_id": settings.group_id,
        # Offsets are committed by the service after outputs are acknowledged.
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # Tansu hands out the first assignment after about session_timeout/2; 6 s with
        # 1 s heartbeats keeps joins near 3 s and still tolerates a GC pause.
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "max_poll_interval_ms": settings.max_poll_interval_ms,
        "max_poll_records": settings.batch_size,
        # Tansu does not answer a waiting fetch early when data arrives, so the wait
        # adds straight to latency at low rates (500 ms gave p50 ~130 ms at 20/s).
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
        # Topics are provisioned deliberately; auto-creation would give Tansu's
        # default 4 partitions and hide a misconfigured topic name.
        "allow_auto_create_topics": False,
        "isolation_level": "read_committed",
        # No value_deserializer: one that raises hangs kafka-python's fetcher, so raw
        # bytes are decoded per record in geowire's own code.
    }
    config.update(overrides)
    consumer = _construct(lambda: KafkaConsumer(**config), settings, "consumer")
    _honour_auto_create(consumer._client.cluster, config["allow_auto_create_topics"])
    return consumer


def build_producer(
    settings: Settings, transactional_id: str | None = None, *, auto_create_topics: bool = True
) -> KafkaProducer:
    """An acks=all producer with large batches (16 KB made flushing a third of the loop)."""
    config: dict[str, Any] = {
        **common_config(settings),
        "acks": "all",
        "batch_size": settings.producer_batch_bytes,
        "linger_ms": settings.linger_ms,
        "max_request_size": max_record_bytes(settings),
        "delivery_timeout_ms": int(DELIVERY_TIMEOUT_S * 1000),
        "request_timeout_ms": 10_000,
        "max_block_ms": 10_000,
    }
    if transactional_id:
        config["transactional_id"] = transactional_id
    producer = _construct(
        lambda: KafkaProducer(**config, allow_auto_create_topics=auto_create_topics),
        settings, "producer",
    )
    _honour_auto_create(producer._metadata, auto_create_topics)
    return producer


def max_record_bytes(settings: Settings) -> int:
    """The largest record the producer accepts (enriched events grow past their input)."""
    return max(1_048_576, settings.max_event_bytes * 2 + 65_536)


def transactional_id(settings: Settings) -> str | None:
    """<prefix>-<slot> in exactly-once mode: stable, so a replacement instance reuses it
    and its init_transactions() ends the transaction a killed predecessor left open."""
    if settings.delivery != "exactly-once":
        return None
    return f"{settings.transactional_id_prefix}-{settings.instance_slot}"


def _honour_auto_create(cluster: Any, allowed: bool) -> None:
    # kafka-python 3.0.12 does not pass allow_auto_create_topics on to the cluster
    # metadata object, so every metadata request asks for auto-creation and Tansu
    # obliges (measured: a subscribed, missing topic appeared with 4 partitions).
    # Topic creation must be deliberate (GEOWIRE_CREATE_TOPICS), so set it here.
    cluster.config["allow_auto_create_topics"] = allowed


def build_admin(settings: Settings) -> KafkaAdminClient:
    """An admin client for topic management."""
    config = common_config(settings)
    return _construct(lambda: KafkaAdminClient(**config, request_timeout_ms=10_000),
                      settings, "admin client")


def _construct(build: Callable[[], T], settings: Settings, what: str) -> T:
    check_tls(settings)
    try:
        return call_with_deadline(build, CONNECT_TIMEOUT_S, f"connecting the Kafka {what}")
    except TimeoutError as exc:
        raise BrokerUnavailable(
            f"the Kafka {what} got no answer from {settings.bootstrap_servers} within "
            f"{CONNECT_TIMEOUT_S:.0f} s using GEOWIRE_SECURITY_PROTOCOL="
            f"{settings.security_protocol}: a TLS client talking to a plaintext listener "
            "(or the reverse) waits like this; check the protocol against the listener"
        ) from exc


def ensure_topics(settings: Settings, names: Iterable[str], partitions: int) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = build_admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in names if name not in existing]
        for name in missing:
            try:
                admin.create_topics(
                    [NewTopic(name, num_partitions=partitions, replication_factor=1)]
                )
            except TopicAlreadyExistsError:
                continue
        return missing
    finally:
        admin.close()


def missing_topics(settings: Settings, names: Iterable[str]) -> list[str]:
    """The named topics the broker does not have (asked with a fresh admin client)."""
    admin = build_admin(settings)
    try:
        existing = set(admin.list_topics())
    finally:
        admin.close()
    return [name for name in names if name not in existing]


def wait_for_broker(settings: Settings, timeout_s: float) -> None:
    """Block until the brokers answer a metadata request.

    Raises:
        BrokerUnavailable: when they do not answer within `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            build_admin(settings).close()
            return
        except KafkaError as exc:
            last_error = exc
            time.sleep(0.2)
    raise BrokerUnavailable(
        f"no Kafka broker answered at {settings.bootstrap_servers} within "
        f"{timeout_s:.0f} s (last error: {last_error!r})"
    )


@dataclass
class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tracks which input partitions this instance owns."""

    partitions: set[TopicPartition] = field(default_factory=set)
    generation: int = 0
    revoked: set[tuple[str, int]] = field(default_factory=set)  # since the last take

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        revoked = set(revoked)
        self.partitions -= revoked
        self.revoked |= {(tp.topic, tp.partition) for tp in revoked}
        self.generation += 1
        logger.info("partitions revoked", extra={"partitions": _names(revoked)})

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.partitions |= set(assigned)
        self.generation += 1
        logger.info("partitions assigned", extra={"partitions": _names(assigned)})


def _names(partitions: Iterable[TopicPartition]) -> str:
    return ",".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions))


class KafkaIO:
    """The service's consumer and producer behind geowire's own record types."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._assignment = _Assignment()
        self.consumer = self._subscribe()
        self.producer = self._build_producer()

    def _subscribe(self) -> KafkaConsumer:
        consumer = build_consumer(self._settings)
        consumer.subscribe([self._settings.input_topic], listener=self._assignment)
        return consumer

    def _build_producer(self) -> KafkaProducer:
        # No auto-creation: a missing output topic fails delivery (and stops
        # consumption) instead of appearing with the broker's default partitions.
        return build_producer(
            self._settings, transactional_id(self._settings), auto_create_topics=False
        )

    @property
    def settings(self) -> Settings:
        """The settings these clients were built from."""
        return self._settings

    @property
    def assigned(self) -> frozenset[tuple[str, int]]:
        """(topic, partition) pairs currently owned."""
        return frozenset((tp.topic, tp.partition) for tp in self._assignment.partitions)

    @property
    def in_group(self) -> bool:
        """Whether the consumer has completed its latest group join."""
        return bool(self.consumer.group_metadata().state == MemberState.STABLE)

    def poll(self, max_records: int, wait_ms: int) -> list[InputRecord]:
        """Up to `max_records` records, waiting at most `wait_ms` for the first."""
        batches = self.consumer.poll(timeout_ms=wait_ms, max_records=max_records)
        return [
            InputRecord(
                topic=r.topic,
                partition=r.partition,
                offset=r.offset,
                key=r.key,
                value=r.value,
                timestamp_ms=r.timestamp,
                headers=[(k, v or b"") for k, v in (r.headers or [])],
            )
            for records in batches.values()
            for r in records
        ]

    def take_revoked(self) -> frozenset[tuple[str, int]]:
        """(topic, partition) pairs revoked or lost since the previous call.

        With the default (eager) assignors every partition is revoked at a rebalance;
        kafka-python 3 keeps the fetch position of each partition assigned again,
        and a partition new to this instance starts from its committed offset.
        """
        revoked = frozenset(self._assignment.revoked)
        self._assignment.revoked.clear()
        return revoked

    def send_all(self, outputs: Sequence[OutputRecord]) -> list[Any]:
        """Hand every record to the producer; returns futures to check after flush."""
        return [
            self.producer.send(
                out.topic, value=out.value, key=out.key, headers=out.headers or None
            )
            for out in outputs
        ]

    def flush_and_check(self, futures: Sequence[Any]) -> None:
        """Flush the producer and confirm every future succeeded.

        Raises:
            DeliveryError: when any record was not acknowledged.
        """
        try:
            self.producer.flush(timeout=DELIVERY_TIMEOUT_S)
        except KafkaError as exc:
            raise DeliveryError(f"flush failed: {exc!r}") from exc
        failed = [f for f in futures if not f.is_done or f.failed()]
        if failed:
            first = failed[0].exception if failed[0].is_done else "not acknowledged in time"
            raise DeliveryError(
                f"{len(failed)} of {len(futures)} records were not acknowledged "
                f"(first error: {first!r})"
            )

    def commit(self, records: Sequence[InputRecord]) -> None:
        """Commit, per partition, the offset after the last record of the batch."""
        offsets = self.offsets(records)
        if offsets:
            self.consumer.commit(offsets=offsets)

    def offsets(self, records: Sequence[InputRecord]) -> dict[Any, Any]:
        """The offsets to commit after a batch, in the client's types."""
        return {
            TopicPartition(topic, partition): OffsetAndMetadata(offset + 1, "", -1)
            for (topic, partition), offset in _last_offsets(records).items()
        }

    def rewind(self, records: Sequence[InputRecord]) -> None:
        """Seek back to the first offset of each partition of an uncommitted batch.

        Partitions are judged by the client's own assignment, not the listener's: in
        an eager rebalance a revoked partition stays in the client's assignment until
        the join completes, and keeps its position if it is assigned here again.
        """
        firsts: dict[tuple[str, int], int] = {}
        for r in records:
            key = (r.topic, r.partition)
            firsts[key] = min(firsts.get(key, r.offset), r.offset)
        owned = self.consumer.assignment()
        for (topic, partition), offset in firsts.items():
            tp = TopicPartition(topic, partition)
            if tp in owned:
                self.consumer.seek(tp, offset)

    def lag(self, committed: dict[tuple[str, int], int]) -> Iterator[tuple[str, int, int]]:
        """(topic, partition, events behind) for each owned partition."""
        for tp in list(self._assignment.partitions):
            highwater = self.consumer.highwater(tp)
            position = committed.get((tp.topic, tp.partition))
            if highwater is None or position is None:
                continue
            yield tp.topic, tp.partition, max(0, highwater - position)

    def recreate_producer(self) -> None:
        """Replace the producer: an idempotent one stays broken after a broker restart."""
        try:
            self.producer.close(timeout=1)
        except KafkaError:
            logger.debug("closing the old producer failed", exc_info=True)
        self.producer = self._build_producer()

    def recreate_consumer(self) -> None:
        """Replace the consumer with a new group member.

        After a broker restart lost the input topic, a member that rejoins once the
        topic is back gets no partitions from Tansu (measured: none within 20 s);
        a new member is assigned at its first join.
        """
        try:
            self.consumer.close(autocommit=False, timeout_ms=LEAVE_GROUP_TIMEOUT_MS)
        except KafkaError:
            logger.debug("closing the old consumer failed", exc_info=True)
        self._assignment.revoked |= self.assigned
        self._assignment.partitions.clear()
        self.consumer = self._subscribe()

    def close(self) -> None:
        """Flush and close the producer, then leave the group and close the consumer."""
        try:
            self.producer.close(timeout=DELIVERY_TIMEOUT_S)
        finally:
            self.consumer.close(autocommit=False)


def _last_offsets(records: Sequence[InputRecord]) -> dict[tuple[str, int], int]:
    last: dict[tuple[str, int], int] = {}
    for r in records:
        key = (r.topic, r.partition)
        last[key] = max(last.get(key, r.offset), r.offset)
    return last


def broker_connected(io: KafkaIO) -> bool:
    """Whether the consumer holds a live connection to at least one broker."""
    client = io.consumer._client  # kafka-python exposes connection state only here
    try:
        brokers = client.cluster.brokers()
        return any(
            client.connected(getattr(b, "node_id", getattr(b, "nodeId", None)))
            for b in brokers
        )
    except AttributeError:  # a client version without this surface: assume connected
        return True
