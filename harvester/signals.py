"""The harvester's own signals (Scrapy's signal manager carries them).

``walk_finished(outcome)``: sent by the spider when it closes, with the walk's
:class:`harvester.walk.WalkOutcome`: how the walk ended, and where moved rows stand now.
The publish gate and a job's extension use it to correct positions; the run report to
judge the run.
"""

walk_finished = object()
