"""Benchmarks of the harvester against a bare Scrapy spider, over the bundled replica.

Test and benchmark tooling: not part of the ``harvester`` package a scheduled run needs.
"""
