"""Local feed files, staged with the publish gate instead of written where consumers read.

Scrapy's ``FileFeedStorage`` writes the final path as the crawl goes: a killed run leaves
a truncated file exactly where consumers read it, and a failed run replaces a good file.
This storage writes ``.<name>.<random>.partial`` beside the final path and, when the feed
is closed, hands the finished file to the publish gate (:mod:`harvester.publish`), which
renames it into place only when the run did its job. Hidden ``.partial`` files that a
killed run left beside the same output are removed first.

A symlink is written through to its target. A stream (standard output, ``-O -``, a FIFO, a
character device: :mod:`harvester.streams`) is written to directly, as the run goes, and
never replaced. A write that fails (a full disk, a reader that went away) is logged once
and counted (``harvester/output/errors``), which fails the run; a partial file that could
not be written whole is removed, not kept aside.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO, Any

from scrapy.crawler import Crawler
from scrapy.extensions.feedexport import FileFeedStorage
from scrapy.spiders import Spider

from harvester import stats
from harvester.files import partial_path, resolve_output, stale_partials
from harvester.publish import PublishGate
from harvester.streams import GuardedWriter, guarded_file, open_stream

logger = logging.getLogger(__name__)


class GatedFileFeedStorage(FileFeedStorage):
    def __init__(
        self, uri: str, *, feed_options: dict[str, Any] | None = None, crawler: Crawler | None = None
    ) -> None:
        super().__init__(uri, feed_options=feed_options)
        self.feed_options = dict(feed_options or {})
        self.format = self.feed_options.get("format", "")
        self.crawler = crawler
        self.gate: PublishGate | None = None
        self._tmp: Path | None = None
        self._final: Path | None = None
        self._raw: GuardedWriter | None = None

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> GatedFileFeedStorage:
        return cls(uri, feed_options=feed_options, crawler=crawler)

    def open(self, spider: Spider) -> IO[Any]:
        # Storages are built while the extensions are (the feed exporter checks its URIs):
        # the gate is looked up when the feed opens.
        self.gate = self.crawler.get_extension(PublishGate) if self.crawler is not None else None
        output = resolve_output(Path(self.path))
        if output.stream:
            wait = self.crawler.settings.getfloat("HARVESTER_STREAM_WAIT") if self.crawler else 0.0
            label = "standard output" if self.path in ("-", "stdout:") else str(output.path)
            file, self._raw = guarded_file(open_stream(output.path, wait), self._failed(label, stream=True))
            return file
        if self.gate is None:
            return output.path.open(self.write_mode)
        for stale in stale_partials(output.path):
            stale.unlink(missing_ok=True)
        self._final = output.path
        self._tmp = partial_path(output.path)
        fd = os.open(self._tmp, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        self.gate.open_feed(self._tmp, self._final)
        file, self._raw = guarded_file(fd, self._failed(str(output.path), stream=False))
        return file

    def _failed(self, label: str, *, stream: bool) -> Any:
        def failed(exc: OSError) -> None:
            if self.crawler is not None and self.crawler.stats is not None:
                self.crawler.stats.inc_value(stats.OUTPUT_ERRORS)
            if stream:
                logger.error(
                    "Could not write to %s (%s): the records from here on did not reach it; the run fails",
                    label, exc.strerror or exc,
                )  # fmt: skip
            else:
                logger.error(
                    "Could not write %s (%s): the file is left as it was, and this run's records for it "
                    "could not be kept; free space or choose another output, then run again",
                    label, exc.strerror or exc,
                )  # fmt: skip

        return failed

    def store(self, file: IO[Any]) -> None:
        raw = self._raw
        if raw is None:
            file.close()
            return
        file.flush()
        if self._tmp is None or self._final is None or self.gate is None:
            file.close()
            return
        raw.fsync()
        file.close()
        if raw.error is not None:
            self._tmp.unlink(missing_ok=True)
            self.gate.lose(self._final, raw.error.strerror or str(raw.error))
            return
        self.gate.stage(
            self._tmp, self._final, self.format, append=self.write_mode == "ab", feed=self.feed_options
        )
