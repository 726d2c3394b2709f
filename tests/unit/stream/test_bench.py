"""`geowire bench`'s throughput arithmetic, from the enriched records' timestamps."""

from __future__ import annotations

from stream.bench import outputs_per_second_after


class TestOutputsPerSecondAfter:
    def test_counts_the_batches_produced_after_the_start_over_their_span(self) -> None:
        """Three batches 100 ms apart: the two after the first, over 0.2 s."""
        stamps = [1_000] * 256 + [1_100] * 256 + [1_200] * 256
        assert outputs_per_second_after(stamps, 1_000) == 512 / 0.2

    def test_a_later_start_leaves_out_what_came_before(self) -> None:
        """Starting at the second batch counts only the third, over 0.1 s."""
        stamps = [1_000] * 256 + [1_100] * 256 + [1_200] * 256
        assert outputs_per_second_after(stamps, 1_100) == 256 / 0.1

    def test_one_instant_gives_no_rate_rather_than_a_division_by_zero(self) -> None:
        """All outputs in one millisecond: nothing after the start, rate 0."""
        assert outputs_per_second_after([5] * 10, 5) == 0.0
