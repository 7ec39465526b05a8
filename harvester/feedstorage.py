"""Local feed files written aside and renamed into place when complete.

Scrapy's ``FileFeedStorage`` writes the final path as the crawl goes: a killed run leaves
a truncated JSON Lines file exactly where consumers read it. This storage writes
``.<name>.<random>.partial`` in the same folder and renames it over the final path only
when the feed is closed, so the final path holds the previous complete file or the new
complete file, never a partial one. (A rename within one folder is atomic on POSIX.)
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

from scrapy.extensions.feedexport import FileFeedStorage
from scrapy.spiders import Spider

from harvester.jobs import FILE_MODE


class AtomicFileFeedStorage(FileFeedStorage):
    def __init__(self, uri: str, *, feed_options: dict[str, Any] | None = None) -> None:
        super().__init__(uri, feed_options=feed_options)
        self.format = (feed_options or {}).get("format", "")
        self._spider: Spider | None = None

    def open(self, spider: Spider) -> IO[Any]:
        self._spider = spider
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
            corrections = getattr(self._spider, "corrections", None)
            if corrections:
                apply_corrections(Path(self._tmp), self.format, corrections)
            os.replace(self._tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            raise


def apply_corrections(path: Path, fmt: str, corrections: dict[str, tuple[int, str]]) -> int:
    """Set ``position`` and ``listing_url`` of moved documents in a finished feed file.

    When results move during a walk (new uploads at the top), rows read before the move
    were exported with their old place; the spider re-reads those pages and records where
    each row stands now. One streaming pass over the file, only when something moved.
    Returns how many records were corrected; formats other than JSON Lines and CSV are
    left as they are.
    """
    if fmt not in ("jsonlines", "jsonl", "jl", "csv"):
        return 0
    fixed = 0
    out = path.with_name(path.name + ".fix")
    with path.open("r", encoding="utf-8", newline="") as src, out.open("w", encoding="utf-8", newline="") as dst:
        if fmt == "csv":
            reader = csv.reader(src)
            writer = csv.writer(dst)
            header = next(reader, None)
            if header is None:
                return 0
            writer.writerow(header)
            at = {name: header.index(name) for name in ("url", "position", "listing_url") if name in header}
            for row in reader:
                moved = corrections.get(row[at["url"]]) if "url" in at else None
                if moved is not None:
                    if "position" in at:
                        row[at["position"]] = str(moved[0])
                    if "listing_url" in at:
                        row[at["listing_url"]] = moved[1]
                    fixed += 1
                writer.writerow(row)
        else:
            for line in src:
                record = json.loads(line)
                moved = corrections.get(record.get("url"))
                if moved is not None:
                    if "position" in record:
                        record["position"] = moved[0]
                    if "listing_url" in record:
                        record["listing_url"] = moved[1]
                    fixed += 1
                    line = json.dumps(record, ensure_ascii=False) + "\n"
                dst.write(line)
    os.replace(out, path)
    return fixed
