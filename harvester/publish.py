"""The publish gate: a run's files take their place only when the run did its job.

Feed storages (:mod:`harvester.feedstorage`) and a job (:mod:`harvester.jobs.extension`)
write complete files aside and *stage* them here. When the run is judged
(:mod:`harvester.report.extension`), the gate either puts every staged file in place
(``-o`` appends only then) or, when the verdict is not ok, leaves every published file byte
for byte as it was and keeps the run's records aside as ``<name>.failed<suffix>`` for
inspection.

When results moved during the walk, a single run's files are written again, before they are
put in place, from the run's records with each moved record's ``position`` and
``listing_url`` corrected (:mod:`harvester.corrections`), by the same exporter and options as
their feed (:mod:`harvester.outputs`): every format is corrected the same way. The records
are kept for that as the run goes, pickled in an unnamed temporary file beside the first
output (gone with the process, however it ends).
"""

from __future__ import annotations

import glob
import logging
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

from harvester import signals
from harvester import stats as keys
from harvester.corrections import corrected
from harvester.files import fsync_file, partial_path, release_outputs, replace_keeping_mode
from harvester.outputs import first_file_feed, write_file
from harvester.walk import WalkOutcome

logger = logging.getLogger(__name__)


@dataclass
class Staged:
    tmp: Path
    final: Path
    fmt: str = ""
    append: bool = False
    feed: dict[str, Any] | None = None
    """The feed's options when the file holds this run's records as its feed exported them
    (written again, corrected, when results moved); None for any other file."""


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
        self.opened: dict[Path, Path] = {}
        """Feed files opened and not yet handed back (final -> partial): one left at the end
        had its exporter fail while finishing it (:meth:`check_unfinished`)."""
        self.stats: StatsCollector | None = None
        self.run: object = None
        """The run's settings: the key of its outputs' locks (:func:`harvester.files.lock_output`)."""
        self.crawler: Crawler | None = None
        self.records: IO[bytes] | None = None
        """This run's records as its feeds received them (pickled), while a file feed may need them."""
        self.records_error: str | None = None
        self.records_folder: Path | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PublishGate:
        gate = cls()
        gate.stats = crawler.stats
        gate.run = crawler.settings
        gate.crawler = crawler
        crawler.signals.connect(gate.walk_finished, signal=signals.walk_finished)
        first = first_file_feed(crawler.settings.getdict("FEEDS"), crawler.spidercls.name)
        if first is not None and not crawler.settings.get("HARVESTER_JOB"):
            folder = first.parent
            while "%(" in str(folder):
                folder = folder.parent
            gate.records_folder = folder
            crawler.signals.connect(gate.spider_opened, signal=scrapy_signals.spider_opened)
            crawler.signals.connect(gate.item_scraped, signal=scrapy_signals.item_scraped)
        return gate

    def spider_opened(self) -> None:
        assert self.records_folder is not None
        try:
            self.records_folder.mkdir(parents=True, exist_ok=True)
            self.records = tempfile.TemporaryFile(dir=self.records_folder)  # closed in finish()
        except OSError as exc:
            self.records_error = exc.strerror or str(exc)

    def item_scraped(self, item: Any) -> None:
        if self.records is None:
            return
        try:
            pickle.dump(item, self.records, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError as exc:
            self.records_error = exc.strerror or str(exc)
            self.records.close()
            self.records = None

    def _kept_records(self) -> Iterator[Any]:
        assert self.records is not None
        self.records.flush()
        self.records.seek(0)
        while True:
            try:
                yield pickle.load(self.records)
            except EOFError:
                return

    def walk_finished(self, outcome: WalkOutcome) -> None:
        self.corrections = outcome.corrections

    def open_feed(self, tmp: Path, final: Path) -> None:
        """A feed storage started writing ``tmp`` for ``final``; it stages or loses it when closed."""
        self.opened[final] = tmp

    def stage(
        self, tmp: Path, final: Path, fmt: str = "", append: bool = False, feed: dict[str, Any] | None = None
    ) -> None:
        self.opened.pop(final, None)
        self.staged.append(Staged(tmp, final, fmt, append, feed))

    def lose(self, final: Path, reason: str) -> None:
        """An output whose file could not be written whole: nothing to publish or keep aside."""
        self.opened.pop(final, None)
        self.lost.append(f"{final} ({reason})")

    def check_unfinished(self) -> None:
        """A feed opened and never handed back: its exporter failed while finishing the file
        (Scrapy logs the exception and neither stores the file nor counts a failed feed).
        Lost, counted as an output error (the run fails), its partial file removed."""
        for final, tmp in list(self.opened.items()):
            tmp.unlink(missing_ok=True)
            self.lose(final, "its exporter failed before the file was finished")
            if self.stats is not None:
                self.stats.inc_value(keys.OUTPUT_ERRORS)
            logger.error(
                "Could not write %s: its exporter failed while finishing it (see the error above); "
                "the file is left as it was and the run fails",
                final,
            )

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
            # Every file corrected before any is put in place: one that cannot be (a full
            # disk) fails the run with nothing published.
            for item in self.staged:
                if self.corrections and item.feed is not None and not result.errors:
                    try:
                        self._write_corrected(item)
                    except OSError as exc:
                        result.errors.append(f"could not write {item.final}: {exc.strerror or exc}")
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
        if self.records is not None:
            self.records.close()
            self.records = None
        release_outputs(self.run)
        return result

    def _records(self) -> int:
        return int(self.stats.get_value(keys.ITEM_SCRAPED, 0)) if self.stats is not None else 1

    def _publish(self, item: Staged) -> None:
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

    def _write_corrected(self, item: Staged) -> None:
        """Write the feed's file again from the run's records, the moved ones corrected."""
        if self.records is None or self.crawler is None or item.feed is None:
            raise OSError(f"the run's records were not kept ({self.records_error or 'no records'})")
        tmp = partial_path(item.final)
        try:
            write_file(self.crawler, tmp, item.feed, corrected(self._kept_records(), self.corrections))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        item.tmp.unlink(missing_ok=True)
        item.tmp = tmp
        logger.info("%s: positions corrected where results moved during the walk", item.final)

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
