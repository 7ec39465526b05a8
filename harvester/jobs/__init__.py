"""Scheduled runs (``-a job=NAME``): the job's state (:mod:`.store`), its decisions
(:mod:`.policy`), its published files (:mod:`.files`), and the one Scrapy extension that
owns them during a run (:mod:`.extension`)."""
