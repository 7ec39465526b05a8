"""The one owner of the end of a run (Spidermon's split: monitors judge, actions act).

On ``engine_stopped`` (after every ``spider_closed`` handler: the feed storages have staged
their files, the spider has sent how its walk ended) it does, in this order and nowhere
else:

1. **judges** the run once, as a value (:class:`Verdict`, from the pure
   :func:`harvester.report.verdict.judge` over the run's stats);
2. lets the **publish gate** put the staged files in place, or keep them aside
   (:class:`harvester.publish.PublishGate`); a file that cannot be written fails the verdict;
3. lets the **job record** the run (:meth:`harvester.jobs.extension.JobExtension.end`);
4. sets the verdict in the stats (the ``crawl`` command turns it into the exit status and the
   last line) and sends ``run_ended(verdict, published)``, on which the run report writes the
   summary (:mod:`harvester.report.extension`);
5. lets the job keep that summary in its history and release its lock, then sends
   ``run_closed``, on which the run report writes the HTML page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.spiders import Spider

from harvester import signals
from harvester import stats as keys
from harvester.jobs.extension import JobExtension
from harvester.publish import Published, PublishGate
from harvester.report.verdict import FAILED, OK, judge, status_of
from harvester.walk import WalkOutcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """Did the run do its job: ``ok``, ``failed`` or ``interrupted``, and why not."""

    status: str
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == OK

    def failed(self, reason: str) -> Verdict:
        return replace(self, status=FAILED, reasons=[*self.reasons, reason])


class RunEnd:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.outcome: WalkOutcome | None = None
        self.finish_reason = "finished"
        self.verdict: Verdict | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunEnd:
        ext = cls(crawler)
        crawler.signals.connect(ext.walk_finished, signal=signals.walk_finished)
        crawler.signals.connect(ext.spider_closed, signal=scrapy_signals.spider_closed)
        crawler.signals.connect(ext.engine_stopped, signal=scrapy_signals.engine_stopped)
        return ext

    def walk_finished(self, outcome: WalkOutcome) -> None:
        self.outcome = outcome

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self.finish_reason = reason

    def judge(self) -> Verdict:
        stats = self.crawler.stats
        assert stats is not None
        outcome = self.outcome
        reasons = judge(
            stats.get_stats(), self.finish_reason,
            bounded=outcome.bounded if outcome else False,
            unfinished=outcome.unfinished if outcome else None,
            min_completeness=self.crawler.settings.getfloat("HARVESTER_MIN_COMPLETENESS"),
            max_failing=self.crawler.settings.getint("HARVESTER_JOB_MAX_FAILING"),
        )  # fmt: skip
        return Verdict(status_of(reasons, self.finish_reason), reasons)

    def engine_stopped(self) -> None:
        stats = self.crawler.stats
        assert stats is not None
        gate = self.crawler.get_extension(PublishGate)
        if gate is not None:
            gate.check_unfinished()
        verdict = self.judge()
        published = gate.finish(verdict.ok) if gate is not None else Published()
        for error in published.errors:
            logger.error("%s", error)
        if published.errors:
            verdict = verdict.failed("; ".join(published.errors))
        job = self.crawler.get_extension(JobExtension)
        if job is not None:
            try:
                job.end(verdict.status, verdict.reasons)
            except OSError as exc:
                verdict = verdict.failed(f"could not close the job's state: {exc}")
        self.verdict = verdict
        stats.set_value(keys.VERDICT, OK if verdict.ok else FAILED)
        stats.set_value(keys.VERDICT_REASONS, list(verdict.reasons))
        stats.set_value(keys.OUTPUT_KEPT_ASIDE, published.aside)
        answers = self.crawler.signals.send_catch_log(signals.run_ended, verdict=verdict, published=published)
        summary = next((a for _, a in answers if isinstance(a, dict)), None)
        if job is not None:
            job.close(summary)  # the summary joins the job's history; the job's lock is released
        self.crawler.signals.send_catch_log(signals.run_closed)
