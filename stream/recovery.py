"""Recovery from a broker that lost its topics: recreate them (if allowed) and rejoin."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from stream.config import Settings
from stream.kafka_io import KafkaClientError, KafkaIO, ensure_topics, missing_topics

logger = logging.getLogger(__name__)
# While no partitions are assigned, look at most this often for lost topics.
TOPIC_CHECK_EVERY_S = 2.0
# Tansu completes a join in ~session_timeout/2 (3 s with our settings).
JOIN_EXPECTED_S = 4.0


class TopicRecovery:
    """Watches for lost topics while the instance owns no partitions.

    A restarted in-memory broker has forgotten every topic. Topics are created again
    only with GEOWIRE_CREATE_TOPICS (auto-creation is off in every client), so on a
    production cluster a lost topic waits for its operator; once the input topic is
    back, the consumer rejoins as a new member.
    """

    def __init__(self, settings: Settings, on_trouble: Callable[[str, Exception], None],
                 replace_producer: bool) -> None:
        self._settings = settings
        self._on_trouble = on_trouble
        self._replace_producer = replace_producer
        self._next_check = 0.0
        self._input_lost = False
        self._rejoin_pending: float | None = None  # since when

    def assigned(self) -> None:
        """The consumer owns partitions again: nothing to recover."""
        self._rejoin_pending = None

    def unassigned(self, io: KafkaIO) -> None:
        """Called on each turn while connected without partitions."""
        pending = self._rejoin_pending
        if pending is not None and (io.in_group or time.monotonic() - pending > JOIN_EXPECTED_S):
            # A member that joined while the input topic was missing stays without
            # partitions on Tansu; a new member is assigned at its first join. Waiting
            # for the pending join first matters: a member leaving mid-join stays the
            # group's leader on Tansu and stalls its replacement until its session
            # ends. But not forever: kafka-python 3.0.12 can leave a join that
            # completed between two short polls unapplied (measured after a topic
            # came back), and then the member never leaves "rebalancing".
            logger.info("input topic is back; rejoining the group",
                        extra={"topic": self._settings.input_topic})
            io.recreate_consumer()
            self._rejoin_pending = None
        elif time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + TOPIC_CHECK_EVERY_S
            self._check(io)

    def _check(self, io: KafkaIO) -> None:
        s = self._settings
        try:
            missing = missing_topics(s, [s.input_topic, s.output_topic, s.dlq_topic])
            if missing and s.create_topics:
                ensure_topics(s, missing, s.topic_partitions)
                logger.warning("created missing topics", extra={"topics": ",".join(missing)})
        except KafkaClientError as exc:
            self._on_trouble("connect", exc)
            return
        if s.input_topic in missing and not s.create_topics:
            if not self._input_lost:
                logger.warning("input topic missing; waiting for it",
                               extra={"topic": s.input_topic})
            self._input_lost = True
        elif self._input_lost or s.input_topic in missing:
            self._input_lost = False
            self._rejoin_pending = time.monotonic()
            if self._replace_producer:
                # The broker lost its state, so the idempotent producer's sequence
                # numbers are unknown to it: replace it now rather than after a
                # failed batch. (A transactional one is replaced if its abort fails.)
                io.recreate_producer()
