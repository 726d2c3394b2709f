"""The loop: poll → process → produce → flush → commit, with stop flag and broker retries."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from model import Classifier, InvalidEvent
from stream.batch_worker import BatchWorker, Classified, InlineWorker, wait_for
from stream.config import Settings
from stream.errors import BrokerUnavailable, DeliveryError
from stream.health import ServiceState
from stream.kafka_io import KafkaClientError, KafkaIO, broker_connected, max_record_bytes
from stream.metrics import Metrics
from stream.processor import (
    BatchResult,
    InputRecord,
    OutputRecord,
    ParsedBatch,
    add_enrichments,
    dead_letter,
    parse_batch,
)
from stream.recovery import TopicRecovery
from stream.summary import Summary
from stream.transactions import AtLeastOnce, ExactlyOnce

logger = logging.getLogger(__name__)
RETRY_PAUSE_S = 1.0


@dataclass
class _InFlight:
    """A polled batch whose events are with the worker, not yet delivered or committed."""

    records: list[InputRecord]
    parsed: ParsedBatch
    future: Future[Classified]
    started: float


class Service:
    """Runs the loop (at-least-once, or exactly-once with transactions) until stopped."""

    def __init__(
        self,
        settings: Settings,
        classifier: Classifier,
        metrics: Metrics,
        state: ServiceState,
        io_factory: Callable[[Settings], KafkaIO] = KafkaIO,
        worker: BatchWorker | None = None,
    ) -> None:
        self._settings = settings
        self._classifier = classifier
        self._metrics = metrics
        self._state = state
        self._io_factory = io_factory
        self._io: KafkaIO | None = None
        self._worker = worker or InlineWorker(classifier)
        self._in_flight: _InFlight | None = None
        self._stop = False
        self._committed: dict[tuple[str, int], int] = {}
        # Next offset to read per partition, for lag before this instance's first commit.
        self._consumed: dict[tuple[str, int], int] = {}
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
            self._finish(io)
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
        """Poll a batch and hand it to the worker, then deliver and commit the one before.

        One batch is classified while the previous one is produced, flushed and
        committed; nothing is held beyond those two, so a stalled output stops
        consumption (backpressure).
        """
        self._state.turned()
        s = self._settings
        # With a batch in flight, only take what has already arrived: waiting here
        # would add the whole wait to that batch's latency.
        wait_ms = 0 if self._in_flight else s.batch_wait_ms
        try:
            records = io.poll(s.batch_size, wait_ms)
        except KafkaClientError as exc:
            self._broker_trouble("poll", exc)
            return
        for r in records:
            key = (r.topic, r.partition)
            self._consumed[key] = max(self._consumed.get(key, 0), r.offset + 1)
        if io.take_revoked() and self._in_flight:
            self._abandon(io, self._in_flight, records)
            self._in_flight, records = None, []
        self._observe_connection(io)
        following = self._submit(records) if records else None
        if self._in_flight and not self._complete(io, self._in_flight, following):
            following = None  # rewound with the failed batch; read again
        self._in_flight = following
        self._summary.maybe_log()

    def _submit(self, records: list[InputRecord]) -> _InFlight:
        started = time.perf_counter()
        s = self._settings
        parsed = parse_batch(records, dlq_topic=s.dlq_topic, max_event_bytes=s.max_event_bytes)
        processed_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        return _InFlight(records, parsed, self._worker.submit(parsed.events, processed_at),
                         started)

    def _abandon(self, io: KafkaIO, flight: _InFlight, polled: list[InputRecord]) -> None:
        """Drop the undelivered batch and the one just polled after a rebalance.

        Partitions that moved away restart from their committed offsets at their new
        owner, so delivering the batch now would only duplicate it there. Partitions
        this instance got back keep their fetch positions (kafka-python 3 preserves
        them), so they are rewound to the first dropped record: nothing is skipped.
        """
        io.rewind([*flight.records, *polled])
        logger.info("rebalance: undelivered events dropped, to be read again",
                    extra={"events": len(flight.records) + len(polled)})

    def _finish(self, io: KafkaIO) -> None:
        """On stop: deliver and commit the batch still in flight."""
        if self._in_flight:
            flight, self._in_flight = self._in_flight, None
            self._complete(io, flight, None)

    def _complete(self, io: KafkaIO, flight: _InFlight, following: _InFlight | None) -> bool:
        """Deliver a processed batch and commit it; False when delivery failed.

        Raises:
            WorkerFailed: when the classification worker died (nothing is committed).
        """
        records = flight.records
        classified = wait_for(flight.future)
        s = self._settings
        result = add_enrichments(flight.parsed, classified.enrichments, s.output_topic)
        self._metrics.predict_duration.observe(classified.seconds)
        _divert_oversized(result, records, max_record_bytes(s), s.dlq_topic)
        try:
            self._delivery.deliver(io, result.outputs + result.dead_letters, records)
        except (DeliveryError, KafkaClientError) as exc:
            # Nothing of this batch is committed: rewind it, and the batch polled after
            # it, and send them again, so an unacknowledged output is repeated rather
            # than lost. Consumption stops here until delivery works (backpressure).
            self._broker_trouble("delivery", exc)
            self._delivery.recover(io)
            io.rewind([*records, *(following.records if following else [])])
            return False
        self._record_delivery(result, records)
        if self._delivery.commits_offsets:
            self._committed_ok(records)  # inside the transaction that just committed
        else:
            self._commit(io, records)
        self._metrics.batch_duration.observe(time.perf_counter() - flight.started)
        return True

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
        # Behind the committed offset where this instance has committed; until then,
        # behind what it has read (at most the two batches in hand fewer).
        for topic, partition, lag in io.lag({**self._consumed, **self._committed}):
            gauge.labels(topic=topic, partition=str(partition)).set(lag)
        for key in list(self._consumed.keys() | self._committed.keys()):
            if key not in assigned:
                self._consumed.pop(key, None)
                self._committed.pop(key, None)
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
    # Matched by position, not identity: the result may come from another process.
    rejected = {_position(record) for record, _ in result.rejected}
    valid = [record for record in records if _position(record) not in rejected]
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


def _position(record: InputRecord) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset
