"""Delivery modes: at-least-once (send, flush, commit) or exactly-once (a transaction)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from stream.deadline import call_with_deadline as _call_with_deadline
from stream.errors import DeliveryError, StreamError
from stream.kafka_io import FencedError, KafkaClientError, KafkaIO, transactional_id
from stream.processor import InputRecord, OutputRecord

logger = logging.getLogger(__name__)
T = TypeVar("T")
# commit_transaction()/abort_transaction() wait without a deadline of their own and
# were measured to block forever when the broker went away mid-call.
TRANSACTION_TIMEOUT_S = 30.0


class ProducerFenced(StreamError):
    """Another instance took over this instance's transactional id: stop, don't fight."""


def call_with_deadline(call: Callable[[], T], timeout_s: float, what: str) -> T:
    """`stream.deadline.call_with_deadline`, timing out as a DeliveryError.

    Raises:
        DeliveryError: when the call did not return in time.
    """
    try:
        return _call_with_deadline(call, timeout_s, what)
    except TimeoutError as exc:
        raise DeliveryError(str(exc)) from exc


class AtLeastOnce:
    """Send, flush, confirm every ack, then commit: a crash repeats, never loses."""

    commits_offsets = False

    def prepare(self, io: KafkaIO) -> None:
        """Nothing to set up before the first batch."""

    def deliver(
        self, io: KafkaIO, outputs: Sequence[OutputRecord], records: Sequence[InputRecord]
    ) -> None:
        """Send the outputs and wait for every acknowledgement.

        Raises:
            DeliveryError: when any output was not acknowledged.
        """
        io.flush_and_check(io.send_all(outputs))

    def recover(self, io: KafkaIO) -> None:
        """After a failed delivery: a fresh producer (idempotent ones stay broken)."""
        io.recreate_producer()


class ExactlyOnce:
    """One transaction per batch holding its outputs, dead letters and input offsets.

    Readers on isolation_level=read_committed see a batch's outputs only when its
    offsets were committed with them. The transactional id is a stable slot
    (`transactional_id`), so a replacement's init_transactions() aborts whatever its
    killed predecessor left open.
    """

    commits_offsets = True

    def __init__(self, timeout_s: float = TRANSACTION_TIMEOUT_S) -> None:
        self._timeout_s = timeout_s
        self._initialised: object | None = None

    def prepare(self, io: KafkaIO) -> None:
        """Initialise transactions at startup, before joining the group: this ends a
        killed predecessor's open transaction, which blocks read_committed readers of
        every partition it wrote to, as early as possible."""
        self._ensure_initialised(io)

    def deliver(
        self, io: KafkaIO, outputs: Sequence[OutputRecord], records: Sequence[InputRecord]
    ) -> None:
        """Send the batch and its offsets in one transaction and commit it.

        Raises:
            DeliveryError: when the transaction could not be committed (it is aborted).
        """
        self._ensure_initialised(io)
        producer = io.producer
        try:
            producer.begin_transaction()
            io.flush_and_check(io.send_all(outputs))
            offsets, group = io.offsets(records), io.consumer.group_metadata()
            call_with_deadline(lambda: producer.send_offsets_to_transaction(offsets, group),
                               self._timeout_s, "send_offsets_to_transaction")
            call_with_deadline(producer.commit_transaction, self._timeout_s,
                               "commit_transaction")
        except FencedError as exc:
            raise self._fenced(io) from exc
        except (DeliveryError, KafkaClientError):
            self._abort(io)
            raise

    @staticmethod
    def _fenced(io: KafkaIO) -> ProducerFenced:
        return ProducerFenced(
            f"another producer uses transactional id {transactional_id(io.settings)!r}; "
            "give every instance its own GEOWIRE_INSTANCE_SLOT"
        )

    def recover(self, io: KafkaIO) -> None:
        """After a failed transaction: nothing more, it was aborted (or its producer
        replaced, whose successor aborts it at init_transactions)."""

    def _ensure_initialised(self, io: KafkaIO) -> None:
        if self._initialised is io.producer:
            return
        # init_transactions() fences an older producer with this transactional id and
        # aborts its open transaction, which unblocks read_committed readers.
        call_with_deadline(io.producer.init_transactions, self._timeout_s,
                           "init_transactions")
        self._initialised = io.producer

    def _abort(self, io: KafkaIO) -> None:
        try:
            call_with_deadline(io.producer.abort_transaction, self._timeout_s,
                               "abort_transaction")
        except FencedError as exc:
            raise self._fenced(io) from exc
        except (DeliveryError, KafkaClientError) as exc:
            # A producer that cannot abort is replaced; the new one's init_transactions
            # aborts the transaction on the broker instead.
            logger.warning("abort failed; replacing the transactional producer",
                           extra={"error": repr(exc)})
            io.recreate_producer()
