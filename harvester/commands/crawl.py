"""``scrapy crawl``, with an exit status that says whether the run did its job.

Scrapy's own ``crawl`` exits 0 even when it harvested nothing. This one exits 1 when the
run's verdict (``harvester.extensions.RunReport``) is ``failed`` or the spider could not
start (a wrong argument), and 0 only when the run did its job.
"""

from __future__ import annotations

import argparse
import logging

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

logger = logging.getLogger("harvester")


class Command(ScrapyCrawl):
    def short_desc(self) -> str:
        return "Run a spider; exit 1 when the run did not do its job"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider name, e.g. 'scrapy crawl archive'")
        assert self.crawler_process
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
            return
        try:
            verdict = crawler.stats.get_value("harvester/verdict")
            reasons = crawler.stats.get_value("harvester/verdict_reasons") or []
        except RuntimeError:  # the crawl never started (e.g. a wrong argument)
            verdict, reasons = "failed", ["the run could not start (see the error above)"]
        # The verdict is the last line of the log, where a scheduler's mail shows it.
        if verdict != "ok":
            self.exitcode = 1
            logger.error("Run FAILED: %s", "; ".join(reasons) or "see the errors above")
        else:
            logger.info("Run OK")
