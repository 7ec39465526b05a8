"""The harvester's own signals (Scrapy's signal manager carries them).

``walk_finished(outcome)``: sent by the spider when it closes, with the walk's
:class:`harvester.walk.WalkOutcome`: how the walk ended, and where moved rows stand now.
The publish gate and a job's extension use it to correct positions; the run report to
judge the run.

``run_ended(verdict, published)``: sent by :class:`harvester.finish.RunEnd` once the run is
judged, its files published or kept aside, and a job's run recorded: the run report writes
the summary on it (and returns it; the job keeps it in its history).

``run_closed()``: sent after that, the job's state closed: the run report writes the HTML page.

``not_modified_settled(request, response, confirms)``: sent by a job's
:class:`harvester.jobs.middleware.JobHttpMiddleware` once it has settled a ``304`` to a
request that carried validators: ``confirms`` is ``(capture_id, captured_at)`` of the record
the 304 confirms when the job trusts it, else None. The web archive writes a trusted 304 as a
``revisit`` record of that capture, any other as the plain response it was.
"""

walk_finished = object()
run_ended = object()
run_closed = object()
not_modified_settled = object()
