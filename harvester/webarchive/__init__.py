"""Every page a harvest reads, kept as a web archive (WARC 1.1 in a WACZ), and replayed offline.

Shaped like Scrapy's ``HttpCacheMiddleware``: downloader middlewares do the work, through a
storage class, and the spider knows nothing of it (issue 17).

- :mod:`.warc`: :class:`~.warc.WarcStorage` writes each response the downloader returns,
  and the request that asked for it, as WARC 1.1 records (gzip per record, with warcio).
- :mod:`.wacz`: packages that WARC as a WACZ 1.1.1 (``archive/data.warc.gz``,
  ``indexes/index.cdx``, ``pages/pages.jsonl``, ``datapackage.json``).
- :mod:`.jobarchive`: a scheduled job's archive, grown night by night (one WARC a night, the
  index and pages merged), and a killed run's capture salvaged.
- :mod:`.partials`: the capture file a run locks while it writes, and those killed runs left.
- :mod:`.reader`: opens a WACZ, checks it (digests, index, pages, the site), answers a
  request from its index (a job's archive: a URL's latest capture, revisits resolved).
- :mod:`.middleware`: :class:`~.middleware.CaptureMiddleware` (capture, then stage the WACZ
  with the publish gate), :class:`~.middleware.ReplayMiddleware` (``-a replay=PATH``: answer
  every request from the archive, none from the network) and
  :class:`~.middleware.ProvenanceMiddleware` (stamp each record with the capture it was read
  from: ``capture_id``, ``captured_at``).
"""
