"""The run report: progress while the crawl runs (:mod:`.progress`), the verdict
(:mod:`.verdict`, a pure function), the summary (:mod:`.summary`), and the extension that
judges the run when the engine stops and publishes or keeps aside its files (:mod:`.extension`)."""
