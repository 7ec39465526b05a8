"""The job's HTTP protocol, in a downloader middleware, as Scrapy keeps HTTP caching policy
(``HttpCacheMiddleware`` + ``RFC2616Policy``) away from spiders.

On the way out it puts the validators (``If-None-Match`` / ``If-Modified-Since``) on a
document request for which the job holds a page and whose row is unchanged this run. On the
way back, after Scrapy's retries and redirects (it sits below both), it settles what only
the job can judge, and marks the response settled (``meta["harvester_settled"]``: the
spider reads nothing from it):

- ``304 Not Modified`` counts only as the answer to a conditional request the job sent, for
  a document it holds and whose row this run did not show changed, and (when it names one)
  for the entity tag the request named. Any other 304 is not
  trusted: the page is asked again without validators (within ``RETRY_TIMES``), and a 304
  past them is a failed page.
- ``404``/``410`` for a document the job holds: it is gone, and leaves the dataset with
  this run. A document that now redirects to another document is gone too.
- A document the job holds whose page still fails after retries (5xx, a 304 it did not ask
  for, a connection that fails) keeps its last good record: the job names it and tries it
  again on a later night instead of failing the run.

Anything else, and every request of a run that is not a job, passes through untouched.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.misc import load_object

from harvester import signals, stats
from harvester.identity import canonical_document_url
from harvester.jobs.extension import ROW_META, SETTLED_META, JobExtension

logger = logging.getLogger(__name__)

#: ``Request.meta``: the job put validators on this request.
SENT_META = "harvester_validators_sent"
#: ``Request.meta``: ask without validators (a 304 was not trusted).
UNCONDITIONAL_META = "harvester_unconditional"
VALIDATOR_HEADERS = (b"If-None-Match", b"If-Modified-Since")
#: Failures after retries that are the page's, not the site's (429 is the rate-limit breaker's).
FAILING_STATUSES = range(500, 600)


class JobHttpMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._job: JobExtension | None = None
        self.failures: tuple[type[BaseException], ...] = tuple(
            load_object(path) if isinstance(path, str) else path
            for path in crawler.settings.getlist("RETRY_EXCEPTIONS")
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JobHttpMiddleware:
        if not crawler.settings.get("HARVESTER_JOB"):
            raise NotConfigured  # not a scheduled run
        return cls(crawler)

    @property
    def job(self) -> JobExtension | None:
        if self._job is None:
            self._job = self.crawler.get_extension(JobExtension)
        return self._job

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        key = request.meta.get(ROW_META)
        job = self.job
        if key is None or job is None or request.meta.get(UNCONDITIONAL_META):
            return
        headers = job.validators(key)
        for name, value in headers.items():
            request.headers[name] = value
        if headers:
            request.meta[SENT_META] = True

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        key = request.meta.get(ROW_META)
        job = self.job
        if key is None or job is None:
            return response
        status = response.status
        if status == 304:
            return self._not_modified(job, key, request, response)
        if status in (404, 410):
            return _settle(request, response) if job.gone_away(key, f"HTTP {status}") else response
        if status in FAILING_STATUSES and job.failed(key, f"HTTP {status}"):
            return _settle(request, response)
        redirects = request.meta.get("redirect_urls") or []
        if redirects and redirects[0] == key and canonical_document_url(response.url) != key:
            if job.gone_away(key, f"it now redirects to {response.url}"):
                return _settle(request, response)
        return response

    def _not_modified(
        self, job: JobExtension, key: str, request: Request, response: Response
    ) -> Request | Response:
        if request.meta.get(SENT_META) and _same_entity(request, response) and job.not_modified(key):
            self._settled(request, response, job.held_capture(key))
            return _settle(request, response)
        self._settled(request, response, None)
        self.crawler.stats.inc_value(stats.JOB_UNTRUSTED_304)
        assert self.crawler.spider is not None  # responses only arrive while a spider runs
        retry = get_retry_request(request, spider=self.crawler.spider, reason="untrusted 304")
        if retry is not None:
            logger.warning(
                "%s answered 304 Not Modified to a request the job %s: asking again without validators",
                request.url, "cannot trust it for" if request.meta.get(SENT_META) else "sent no validators with",
            )  # fmt: skip
            for name in VALIDATOR_HEADERS:
                retry.headers.pop(name, None)
            retry.meta.pop(SENT_META, None)
            retry.meta[UNCONDITIONAL_META] = True
            return retry
        if job.failed(key, "HTTP 304 to a request without validators"):
            return _settle(request, response)
        return response

    def _settled(self, request: Request, response: Response, confirms: tuple[str, str] | None) -> None:
        """Tell the web archive how this 304 was settled (a revisit of ``confirms``, or not)."""
        self.crawler.signals.send_catch_log(
            signals.not_modified_settled, request=request, response=response, confirms=confirms
        )

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Response | None:
        key = request.meta.get(ROW_META)
        job = self.job
        if key is None or job is None or isinstance(exception, IgnoreRequest):
            return None
        if not isinstance(exception, self.failures):
            return None
        if job.failed(key, f"{type(exception).__name__}: {exception}"):
            return _settle(request, Response(request.url, status=200, request=request))
        return None


def _same_entity(request: Request, response: Response) -> bool:
    """A 304 that names an entity (its ``ETag``) must name the one the request asked about
    (RFC 9110 13.1.2): one that names another contradicts itself."""
    etag = response.headers.get(b"ETag")
    asked = request.headers.get(b"If-None-Match")
    if not etag or not asked:
        return True
    return etag.strip().removeprefix(b"W/") in {t.strip().removeprefix(b"W/") for t in asked.split(b",")}


def _settle(request: Request, response: Response) -> Response:
    # The response is tied to its request (response.meta) only after the middlewares.
    meta: dict[str, Any] = request.meta
    meta[SETTLED_META] = True
    meta["handle_httpstatus_all"] = True
    return response
