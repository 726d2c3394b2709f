"""The loop: poll → process → produce → flush → commit, with stop flag and broker retries."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from model import Classifier, InvalidEvent
from stream.config import Settings
from stream.errors import BrokerUnavailable, DeliveryError
from stream.health import ServiceState
from stream.kafka_io import KafkaClientError, KafkaIO, broker_connected, max_record_bytes
from stream.metrics import Metrics
from stream.processor import BatchResult, InputRecord, OutputRecord, dead_letter, process_batch
from stream.recovery import TopicRecovery
from stream.summary import Summary
from stream.transactions import AtLeastOnce, ExactlyOnce

logger = logging.getLogger(__name__)
RETRY_PAUSE_S = 1.0


class Service:
    """Runs the loop (at-least-once, or exactly-once with transactions) until stopped."""

    def __init__(
        self,
        settings: Settings,
        classifier: Classifier,
        metrics: Metrics,
        state: ServiceState,
        io_factory: Callable[[Settings], KafkaIO] = KafkaIO,
    ) -> None:
        self._settings = settings
        self._classifier = classifier
        self._metrics = metrics
        self._state = state
        self._io_factory = io_factory
        self._io: KafkaIO | None = None
        self._stop = False
        self._committed: dict[tuple[str, int], int] = {}
        self._down_since: float | None = None
        self._summary = Summary()
        self._delivery = ExactlyOnce() if settings.delivery == "exactly-once" else AtLeastOnce()
        self._recovery = TopicRecovery(settings, self._broker_trouble,
                                       replace_producer=not self._delivery.commits_offsets)

    def stop(self) -> None:
        """Ask the loop to finish its batch, commit and return (signal-handler safe)."""
        self._stop = True
        self._state.stopping = True

    def run(self) -> None:
        """Connect, then poll and process batches until stopped.

        Raises:
            BrokerUnavailable: when the broker stays away past `broker_timeout_s`.
        """
        io = self._connect()
        if io is None:
            return
        try:
            while not self._stop:
                self._turn(io)
        finally:
            logger.info("closing Kafka clients")
            io.close()
            logger.info("stopped", extra=self._summary.totals())

    def _connect(self) -> KafkaIO | None:
        while not self._stop:
            try:
                self._io = self._io or self._io_factory(self._settings)
                self._delivery.prepare(self._io)
                logger.info("connected", extra={"bootstrap": self._settings.bootstrap_servers,
                                                "delivery": self._settings.delivery})
                return self._io
            except (KafkaClientError, DeliveryError) as exc:
                self._broker_trouble("connect", exc)
        return None

    def _turn(self, io: KafkaIO) -> None:
        self._state.turned()
        try:
            records = io.poll(self._settings.batch_size, self._settings.batch_wait_ms)
        except KafkaClientError as exc:
            self._broker_trouble("poll", exc)
            return
        self._observe_connection(io)
        if records:
            self._handle(io, records)
        self._summary.maybe_log()

    def _handle(self, io: KafkaIO, records: Sequence[InputRecord]) -> None:
        started = time.perf_counter()
        s = self._settings
        result = process_batch(
            records,
            self._classifier,
            output_topic=s.output_topic,
            dlq_topic=s.dlq_topic,
            max_event_bytes=s.max_event_bytes,
            processed_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
        self._metrics.predict_duration.observe(time.perf_counter() - started)
        _divert_oversized(result, records, max_record_bytes(s), s.dlq_topic)
        try:
            self._delivery.deliver(io, result.outputs + result.dead_letters, records)
        except (DeliveryError, KafkaClientError) as exc:
            # Nothing of this batch is committed: rewind and send it again, so an
            # unacknowledged output is repeated rather than lost. Consumption stops
            # here until delivery works (backpressure): one batch is all we hold.
            self._broker_trouble("delivery", exc)
            self._delivery.recover(io)
            io.rewind(records)
            return
        self._record_delivery(result, records)
        if self._delivery.commits_offsets:
            self._committed_ok(records)  # inside the transaction that just committed
        else:
            self._commit(io, records)
        self._metrics.batch_duration.observe(time.perf_counter() - started)

    def _record_delivery(self, result: BatchResult, records: Sequence[InputRecord]) -> None:
        now_ms = time.time() * 1000
        m = self._metrics
        m.consumed.inc(len(records))
        m.batch_size.observe(len(records))
        m.produced.inc(len(result.outputs))
        for out in result.outputs:
            m.end_to_end_latency.observe(max(0.0, now_ms - out.source_timestamp_ms) / 1000)
        for reason, count in result.invalid.items():
            m.dead_lettered.labels(reason=reason).inc(count)
        for label, count in result.labels.items():
            m.labels_assigned.labels(label=label).inc(count)
        for code, count in result.countries.items():
            m.countries.labels(code=code).inc(count)
        for record, error in result.rejected:
            logger.warning(
                "event dead-lettered",
                extra={
                    "reason": error.reason,
                    "detail": error.message,
                    "partition": f"{record.topic}[{record.partition}]",
                    "offset": record.offset,
                },
            )
        self._summary.add(len(records), len(result.outputs), len(result.dead_letters))

    def _commit(self, io: KafkaIO, records: Sequence[InputRecord]) -> None:
        try:
            io.commit(records)
        except KafkaClientError as exc:
            # The outputs are out; the records will be re-read by whoever owns the
            # partition next, so this costs duplicates, never losses.
            self._metrics.commit_failures.inc()
            self._metrics.broker_errors.labels(kind="commit").inc()
            logger.warning("commit failed; batch will be re-read", extra={"error": repr(exc)})
            return
        self._committed_ok(records)

    def _committed_ok(self, records: Sequence[InputRecord]) -> None:
        self._metrics.commits.inc()
        self._metrics.last_commit.set(time.time())
        for r in records:
            key = (r.topic, r.partition)
            self._committed[key] = max(self._committed.get(key, 0), r.offset + 1)
        self._down_since = None

    def _observe_connection(self, io: KafkaIO) -> None:
        connected = broker_connected(io)
        assigned = io.assigned
        self._state.broker_connected = connected
        self._state.assigned_partitions = len(assigned)
        self._metrics.assigned_partitions.set(len(assigned))
        ready, _ = self._state.ready()
        self._metrics.ready.set(1 if ready else 0)
        if connected:
            self._down_since = None
        self._update_lag(io, assigned)
        if assigned:
            self._recovery.assigned()
        elif connected:
            self._recovery.unassigned(io)

    def _update_lag(self, io: KafkaIO, assigned: frozenset[tuple[str, int]]) -> None:
        gauge = self._metrics.consumer_lag
        for topic, partition, lag in io.lag(self._committed):
            gauge.labels(topic=topic, partition=str(partition)).set(lag)
        for key in list(self._committed):
            if key not in assigned:
                del self._committed[key]
                try:
                    gauge.remove(key[0], str(key[1]))
                except KeyError:
                    continue

    def _broker_trouble(self, kind: str, exc: Exception) -> None:
        self._metrics.broker_errors.labels(kind=kind).inc()
        self._state.broker_connected = False
        self._metrics.ready.set(0)
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            logger.warning("broker unavailable; retrying", extra={"kind": kind, "error": repr(exc)})
        timeout = self._settings.broker_timeout_s
        if timeout and now - self._down_since > timeout:
            raise BrokerUnavailable(
                f"broker at {self._settings.bootstrap_servers} unavailable for more than "
                f"{timeout:.0f} s (GEOWIRE_BROKER_TIMEOUT_S); last error: {exc!r}"
            ) from exc
        self._state.turned()
        time.sleep(RETRY_PAUSE_S)


def _divert_oversized(
    result: BatchResult, records: Sequence[InputRecord], limit: int, dlq_topic: str
) -> None:
    """Dead-letter, as too_large, any enriched event the producer would refuse.

    Enrichment can outgrow its input many times over (every country mention carries
    evidence: a 1 MB body of one repeated name gave 9.5 MB); unsent, such a record
    would fail its batch on every retry and stop the partition for good.
    """
    if all(_record_bytes(out) <= limit for out in result.outputs):
        return
    rejected = {id(record) for record, _ in result.rejected}
    valid = [record for record in records if id(record) not in rejected]
    kept: list[OutputRecord] = []
    for record, out in zip(valid, result.outputs, strict=True):
        size = _record_bytes(out)
        if size <= limit:
            kept.append(out)
            continue
        error = InvalidEvent("too_large", f"enriched event is {size} bytes, limit {limit}")
        result.dead_letters.append(dead_letter(record, error, dlq_topic))
        result.invalid[error.reason] += 1
        result.rejected.append((record, error))
    result.outputs = kept


def _record_bytes(out: OutputRecord) -> int:
    headers = sum(len(k) + len(v) for k, v in out.headers)
    return len(out.value) + len(out.key or b"") + headers + 512  # 512: batch overhead
