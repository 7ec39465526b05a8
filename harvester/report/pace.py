"""Pages per minute over a run, in a fixed amount of memory.

Responses are counted in time buckets that start a hundredth of a second wide; when a run
outlasts :data:`MAX_BUCKETS` buckets, neighbours are merged into the next width of
:data:`WIDTHS` (then doubling). A run of any length keeps at most that many counts, and a
short run still shows its shape.
"""

from __future__ import annotations

from typing import Any

#: Most buckets kept: a 2.5-minute run has 2-second buckets, an hour one-minute ones.
MAX_BUCKETS = 120
#: Bucket widths (seconds), each a whole multiple of the one before.
WIDTHS = (0.01, 0.02, 0.1, 0.2, 1, 2, 10, 20, 60, 120, 600, 1200, 3600)


class PaceSeries:
    """Responses counted over time.

    >>> pace = PaceSeries(start=100.0)
    >>> for t in (100.001, 100.002, 100.015, 100.039):
    ...     pace.add(t)
    >>> pace.summary(end=100.04)
    {'bucket_s': 0.01, 'series': [12000.0, 6000.0, 0.0, 6000.0]}
    >>> long = PaceSeries(start=0.0)
    >>> for t in range(300):
    ...     long.add(t + 0.5)
    >>> s = long.summary(end=300.0)
    >>> s["bucket_s"], len(s["series"]), set(s["series"])
    (10, 30, {60.0})
    """

    def __init__(self, start: float) -> None:
        self.start = start
        self.level = 0
        self.counts: list[int] = []

    @property
    def bucket_s(self) -> float:
        if self.level < len(WIDTHS):
            return WIDTHS[self.level]
        return float(WIDTHS[-1] * 2 ** (self.level - len(WIDTHS) + 1))

    def reset(self, start: float) -> None:
        self.start, self.level, self.counts = start, 0, []

    def add(self, now: float) -> None:
        ticks = max(0, int((now - self.start) * 100))  # whole hundredths: no float floor surprises
        index = ticks // round(self.bucket_s * 100)
        while index >= MAX_BUCKETS:
            self._merge()
            index = ticks // round(self.bucket_s * 100)
        if index >= len(self.counts):
            self.counts.extend([0] * (index + 1 - len(self.counts)))
        self.counts[index] += 1

    def _merge(self) -> None:
        factor = round(WIDTHS[self.level + 1] / WIDTHS[self.level]) if self.level + 1 < len(WIDTHS) else 2
        self.counts = [sum(self.counts[i : i + factor]) for i in range(0, len(self.counts), factor)]
        self.level += 1

    def summary(self, end: float) -> dict[str, Any]:
        """``{"bucket_s": B, "series": [pages per minute in each B-second bucket]}``, up to ``end``
        (the last bucket's rate over the part of it the run lasted)."""
        duration = max(end - self.start, 0.0)
        while duration / self.bucket_s > MAX_BUCKETS:
            self._merge()
        buckets = max(len(self.counts), -(-round(duration * 100) // round(self.bucket_s * 100)))
        counts = self.counts + [0] * (buckets - len(self.counts))
        series = []
        for i, count in enumerate(counts):
            width = min(self.bucket_s, duration - i * self.bucket_s)
            series.append(round(count * 60 / max(width, WIDTHS[0]), 1))
        return {"bucket_s": self.bucket_s, "series": series}
