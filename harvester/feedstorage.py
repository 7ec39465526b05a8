"""Local feed files written aside and renamed into place when complete.

Scrapy's ``FileFeedStorage`` writes the final path as the crawl goes: a killed run leaves
a truncated JSON Lines file exactly where consumers read it. This storage writes
``.<name>.<random>.partial`` in the same folder and renames it over the final path only
when the feed is closed, so the final path holds the previous complete file or the new
complete file, never a partial one. (A rename within one folder is atomic on POSIX.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

from scrapy.extensions.feedexport import FileFeedStorage
from scrapy.spiders import Spider

from harvester.jobs import FILE_MODE


class AtomicFileFeedStorage(FileFeedStorage):
    def open(self, spider: Spider) -> IO[Any]:
        final = Path(self.path)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
        os.fchmod(fd, FILE_MODE)
        os.close(fd)
        self._tmp = tmp
        if self.write_mode == "ab" and final.exists():
            # -o appends: start from a copy of what is there.
            shutil.copyfile(final, tmp)
        return open(tmp, self.write_mode)

    def store(self, file: IO[Any]) -> None:
        try:
            file.flush()
            os.fsync(file.fileno())
            file.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            raise
