"""Local feed files, staged with the publish gate instead of written where consumers read.

Scrapy's ``FileFeedStorage`` writes the final path as the crawl goes: a killed run leaves
a truncated file exactly where consumers read it, and a failed run replaces a good file.
This storage writes ``.<name>.<random>.partial`` beside the final path and, when the feed
is closed, hands the finished file to the publish gate (:mod:`harvester.publish`), which
renames it into place only when the run did its job. Hidden ``.partial`` files that a
killed run left beside the same output are removed first.

A symlink is written through to its target; a character device or a FIFO (``/dev/null``,
``/dev/stdout``) is written to directly, as it is a stream that nothing can hold back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

from scrapy.crawler import Crawler
from scrapy.extensions.feedexport import FileFeedStorage
from scrapy.spiders import Spider

from harvester.files import partial_path, resolve_output, stale_partials
from harvester.publish import PublishGate


class GatedFileFeedStorage(FileFeedStorage):
    def __init__(
        self, uri: str, *, feed_options: dict[str, Any] | None = None, crawler: Crawler | None = None
    ) -> None:
        super().__init__(uri, feed_options=feed_options)
        self.format = (feed_options or {}).get("format", "")
        self.crawler = crawler
        self.gate: PublishGate | None = None
        self._tmp: Path | None = None

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
        if output.stream or self.gate is None:
            return output.path.open(self.write_mode)
        for stale in stale_partials(output.path):
            stale.unlink(missing_ok=True)
        self._final = output.path
        self._tmp = partial_path(output.path)
        return self._tmp.open("wb")

    def store(self, file: IO[Any]) -> None:
        if self._tmp is None or self.gate is None:
            file.close()
            return
        file.flush()
        os.fsync(file.fileno())
        file.close()
        self.gate.stage(self._tmp, self._final, self.format, append=self.write_mode == "ab")
