"""``scrapy crawl``, with an exit status that says whether the run did its job.

Scrapy's own ``crawl`` exits 0 even when it harvested nothing. This one exits 1 when the
run's verdict (:mod:`harvester.report`) is not ok or the run could not start, and 0 only
when the run did its job. Its last log line says which, and why: a refusal (a wrong
argument or setting, a locked job, an unknown spider) is one line, with no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError
from twisted.python.failure import Failure

from harvester import stats
from harvester.exceptions import HarvesterError
from harvester.streams import stream_kind

logger = logging.getLogger("harvester")


def say_verdict(level: int, line: str) -> None:
    """The verdict is the last line at every LOG_LEVEL: logged when the log shows its level,
    else written to standard error as it is (a quiet cron job still mails why it failed)."""
    handlers = logging.getLogger().handlers
    if any(handler.level <= level for handler in handlers):
        logger.log(level, "%s", line)
    else:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _with_stream_format(value: str) -> str:
    """``-`` -> ``-:jsonlines``; a stream path without a format suffix likewise.

    >>> _with_stream_format("-"), _with_stream_format("/dev/stdout"), _with_stream_format("x.csv")
    ('-:jsonlines', '/dev/stdout:jsonlines', 'x.csv')
    >>> _with_stream_format("/dev/stdout:csv")
    '/dev/stdout:csv'
    """
    if value == "-" or (stream_kind(value) is not None and not Path(value).suffix and ":" not in value):
        return f"{value}:jsonlines"
    return value


class Command(ScrapyCrawl):
    def short_desc(self) -> str:
        return "Run a spider; exit 1 when the run did not do its job"

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        # A stream named without a format (-O -, -O /dev/stdout, a FIFO) gets JSON Lines:
        # one record a line, what `| jq` and `| wc -l` read.
        for name in ("output", "overwrite_output"):
            given = getattr(opts, name, None)
            if given:
                setattr(opts, name, [_with_stream_format(value) for value in given])
        super().process_options(args, opts)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider name, e.g. 'scrapy crawl archive'")
        assert self.crawler_process
        try:
            crawler = self._create_crawler(args[0])
        except KeyError:
            known = ", ".join(sorted(self.crawler_process.spider_loader.list()))
            say_verdict(logging.ERROR, f"Run FAILED: no spider named {args[0]!r}; known spiders: {known}")
            self.exitcode = 1
            return
        refused: list[str] = []

        def refuse(exc: BaseException) -> None:
            if isinstance(exc, HarvesterError):
                refused.append(str(exc))
            else:
                logger.error("The run could not start", exc_info=exc)
                refused.append(f"the run could not start: {exc}")

        running: Any = self.crawler_process.crawl(crawler, **opts.spargs)
        if isinstance(running, asyncio.Future):  # AsyncCrawlerProcess (Scrapy >= 2.14)

            def done(task: asyncio.Future[Any]) -> None:
                error = None if task.cancelled() else task.exception()
                if error is not None:
                    refuse(error)

            running.add_done_callback(done)
        else:

            def errback(failure: Failure) -> None:
                if failure.value is not None:
                    refuse(failure.value)

            running.addErrback(errback)
        self.crawler_process.start()
        if refused:
            self.exitcode = 1
            say_verdict(logging.ERROR, f"Run FAILED: {refused[0]}")
            return
        verdict = crawler.stats.get_value(stats.VERDICT) if crawler.stats else None
        reasons = list(crawler.stats.get_value(stats.VERDICT_REASONS) or []) if crawler.stats else []
        aside = crawler.stats.get_value(stats.OUTPUT_KEPT_ASIDE) if crawler.stats else None
        lost = crawler.stats.get_value(stats.OUTPUT_LOST) if crawler.stats else None
        # The verdict is the last line of the log, where a scheduler's mail shows it.
        if verdict != "ok":
            self.exitcode = 1
            if aside:
                reasons.append(
                    f"the published files are unchanged; this run's records are kept aside in {', '.join(aside)}"
                )
            if lost:
                reasons.append(f"this run's records for {', '.join(lost)} could not be kept")
            say_verdict(logging.ERROR, f"Run FAILED: {'; '.join(reasons) or 'see the errors above'}")
        elif (
            crawler.stats is not None
            and crawler.stats.get_value(stats.PLAN_REQUESTS) is not None
            and (opts.spargs.get("plan", "").lower() == "true")
        ):
            pass  # -a plan=true: the plan, printed once on stdout, is the whole answer
        else:
            say_verdict(logging.INFO, "Run OK")
