"""The publish gate: a run's files take their place only when the run did its job.

Feed storages (:mod:`harvester.feedstorage`) and a job (:mod:`harvester.jobs.extension`)
write complete files aside and *stage* them here. When the run is judged
(:mod:`harvester.report.extension`), the gate either puts every staged file in place
(``-o`` appends only then) or, when the verdict is not ok, leaves every published file byte
for byte as it was and keeps the run's records aside as ``<name>.failed<suffix>`` for
inspection. Files whose results moved during the walk get their ``position`` and
``listing_url`` corrected first.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

from harvester import signals
from harvester import stats as keys
from harvester.corrections import apply_corrections
from harvester.files import fsync_file, partial_path, release_outputs, replace_keeping_mode
from harvester.walk import WalkOutcome

logger = logging.getLogger(__name__)


@dataclass
class Staged:
    tmp: Path
    final: Path
    fmt: str = ""
    append: bool = False


@dataclass
class Published:
    files: list[str] = field(default_factory=list)
    aside: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    """Outputs whose records could not be kept at all ("path (reason)"), e.g. on a full disk."""
    errors: list[str] = field(default_factory=list)


def aside_path(final: Path, number: int = 1) -> Path:
    """Where a failed run's records for ``final`` are kept: ``archive.jsonl`` ->
    ``archive.failed.jsonl``, and when that one is taken ``archive.failed-2.jsonl``, ...

    >>> aside_path(Path("out/x.jsonl")), aside_path(Path("out/x.jsonl"), 2)
    (PosixPath('out/x.failed.jsonl'), PosixPath('out/x.failed-2.jsonl'))
    """
    tag = "failed" if number == 1 else f"failed-{number}"
    return final.with_name(f"{final.stem}.{tag}{final.suffix}")


def asides_of(final: Path) -> list[Path]:
    """The asides failed runs left for ``final``, oldest first."""
    found = []
    for path in final.parent.glob(f"{glob.escape(final.stem)}.failed*{glob.escape(final.suffix)}"):
        tag = path.name[len(final.stem) + 1 : len(path.name) - len(final.suffix)]
        if tag == "failed" or (tag.startswith("failed-") and tag[7:].isdigit()):
            found.append(path)
    return sorted(found, key=lambda p: (len(p.name), p.name))


def keep_aside(tmp: Path, final: Path) -> Path:
    """Move ``tmp`` to the first free aside of ``final``: an older aside is never replaced."""
    number = 1
    while True:
        aside = aside_path(final, number)
        try:
            os.link(tmp, aside)  # fails if the name is taken, unlike a rename
        except FileExistsError:
            number += 1
            continue
        tmp.unlink()
        return aside


class PublishGate:
    """Holds a run's finished files until the verdict; one per crawl (a Scrapy extension)."""

    def __init__(self) -> None:
        self.staged: list[Staged] = []
        self.producers: list[Callable[[], None]] = []
        self.corrections: dict[str, tuple[int, str]] = {}
        self.lost: list[str] = []
        self.stats: StatsCollector | None = None
        self.run: object = None
        """The run's settings: the key of its outputs' locks (:func:`harvester.files.lock_output`)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PublishGate:
        gate = cls()
        gate.stats = crawler.stats
        gate.run = crawler.settings
        crawler.signals.connect(gate.walk_finished, signal=signals.walk_finished)
        return gate

    def walk_finished(self, outcome: WalkOutcome) -> None:
        self.corrections = outcome.corrections

    def stage(self, tmp: Path, final: Path, fmt: str = "", append: bool = False) -> None:
        self.staged.append(Staged(tmp, final, fmt, append))

    def lose(self, final: Path, reason: str) -> None:
        """An output whose file could not be written whole: nothing to publish or keep aside."""
        self.lost.append(f"{final} ({reason})")

    def on_ok(self, produce: Callable[[], None]) -> None:
        """``produce()`` stages more files when the verdict is ok (a job's dataset)."""
        self.producers.append(produce)

    def finish(self, ok: bool) -> Published:
        """Publish every staged file (``ok``), or keep them aside."""
        result = Published(lost=list(self.lost))
        if self.lost:
            ok = False
        if ok:
            for produce in self.producers:
                try:
                    produce()
                except OSError as exc:
                    result.errors.append(f"could not write the run's files: {exc}")
            if result.errors:
                ok = False
        for item in self.staged:
            try:
                if ok:
                    self._publish(item)
                    result.files.append(str(item.final))
                elif self._records():
                    result.aside.append(str(keep_aside(item.tmp, item.final)))
                else:  # nothing harvested: nothing to keep
                    item.tmp.unlink(missing_ok=True)
            except OSError as exc:
                result.errors.append(f"could not write {item.final}: {exc.strerror or exc}")
                item.tmp.unlink(missing_ok=True)
        if self.stats is not None and result.lost:
            self.stats.set_value(keys.OUTPUT_LOST, result.lost)
        release_outputs(self.run)
        return result

    def _records(self) -> int:
        return int(self.stats.get_value(keys.ITEM_SCRAPED, 0)) if self.stats is not None else 1

    def _publish(self, item: Staged) -> None:
        if self.corrections:
            apply_corrections(item.tmp, item.fmt, self.corrections)
        if item.append and item.final.exists() and item.final.stat().st_size:
            self._append(item)
        else:
            fsync_file(item.tmp)
            replace_keeping_mode(item.tmp, item.final)
        old = asides_of(item.final)
        for aside in old:
            aside.unlink(missing_ok=True)
        if old:
            logger.info(
                "Removed %s, kept aside by failed runs: %s is complete now",
                ", ".join(str(p) for p in old), item.final,
            )  # fmt: skip

    @staticmethod
    def _append(item: Staged) -> None:
        """``-o``: the old file, then this run's records (a CSV's header once), in one rename."""
        combined = partial_path(item.final)
        try:
            with combined.open("wb") as out:
                with item.final.open("rb") as old:
                    shutil.copyfileobj(old, out)
                with item.tmp.open("rb") as new:
                    if item.fmt == "csv":
                        new.readline()  # the header: the old file has it
                    shutil.copyfileobj(new, out)
                out.flush()
                os.fsync(out.fileno())
            replace_keeping_mode(combined, item.final)
        finally:
            combined.unlink(missing_ok=True)
        item.tmp.unlink(missing_ok=True)
