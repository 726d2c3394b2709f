"""The periodic canonical log line: events consumed, produced and dead-lettered."""

from __future__ import annotations

import logging
import time

logger = logging.getLogger(__name__)
SUMMARY_EVERY_S = 30.0


class Summary:
    """Counts for the periodic canonical log line."""

    def __init__(self) -> None:
        self.consumed = self.produced = self.dead_lettered = self.batches = 0
        self._window = [0, 0, 0, 0]
        self._last = time.monotonic()

    def add(self, consumed: int, produced: int, dead_lettered: int) -> None:
        self.consumed += consumed
        self.produced += produced
        self.dead_lettered += dead_lettered
        self.batches += 1
        for i, n in enumerate((consumed, produced, dead_lettered, 1)):
            self._window[i] += n

    def totals(self) -> dict[str, int]:
        return {
            "consumed": self.consumed,
            "produced": self.produced,
            "dead_lettered": self.dead_lettered,
            "batches": self.batches,
        }

    def maybe_log(self) -> None:
        now = time.monotonic()
        if now - self._last < SUMMARY_EVERY_S or not self._window[3]:
            return
        consumed, produced, dead, batches = self._window
        logger.info(
            "progress",
            extra={
                "consumed": consumed,
                "produced": produced,
                "dead_lettered": dead,
                "batches": batches,
                "events_per_s": round(consumed / (now - self._last), 1),
            },
        )
        self._window = [0, 0, 0, 0]
        self._last = now
