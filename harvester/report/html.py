"""The report as one self-contained HTML page: the verdict first, then the dataset, the run,
and a job's history. Inline CSS and inline SVG charts (:mod:`.charts`), no script, and a
Content-Security-Policy that forbids every fetch, so the page opens from ``file://`` with
no network and no server. Every chart has its numbers in a table beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from harvester.report import charts
from harvester.report.dataset import FACETS, PRECISIONS, TEXT_BINS, DatasetProfile, histogram, year_axis
from harvester.report.markup import (
    _CSS,
    Markup,
    _num,
    _pair,
    _pct,
    _since,
    _text,
    _tiles,
    chart_slots,
    duration,
    table,
)

logger = logging.getLogger(__name__)

#: Rows of the last change set listed in the page; the rest are in ``changes.jsonl``.
MAX_CHANGES = 500
#: The pace chart is drawn for runs at least this long, with at least this many responses.
PACE_MIN_SECONDS = 120
PACE_MIN_RESPONSES = 60
FACET_TITLES = {
    "languages": "Languages",
    "places": "Places",
    "topics": "Topics",
    "authors": "Authors",
    "original_archive": "Original archives",
}


@dataclass
class ReportData:
    """Everything the page shows."""

    summary: dict[str, Any]
    profile: DatasetProfile | None = None
    #: Where the dataset's records were read (a path), or what they were.
    dataset: str | None = None
    dataset_note: str | None = None
    #: A job's runs, oldest first (:func:`harvester.jobs.store.read_history`).
    history: list[dict[str, Any]] | None = None
    #: The first :data:`MAX_CHANGES` entries of the job's last change set, and how many it has.
    changes: list[dict[str, Any]] = field(default_factory=list)
    changes_total: int = 0
    #: Whether the job has published a change set (``changes.jsonl``) at all.
    changes_published: bool = False
    #: url -> title, to name the documents of the change set.
    titles: dict[str, str] = field(default_factory=dict)
    built: str = ""
    version: str = ""
    sources: list[str] = field(default_factory=list)


# --- small pieces ------------------------------------------------------------------------------


def _headline(summary: dict[str, Any]) -> str:
    if summary.get("job"):
        return f"job {summary['job']}, run {summary.get('run')}"
    arguments = summary.get("arguments") or {}
    if arguments.get("query"):
        return f"search “{arguments['query']}”"
    if arguments.get("start_url"):
        return f"results of {arguments['start_url']}"
    return "the whole archive" if arguments else "a run"


def _verdict(data: ReportData) -> str:
    s = data.summary
    status = str(s.get("status") or "unknown")
    reasons = s.get("reasons") or []
    parts = ['<section id="verdict" aria-labelledby="verdict-h">']
    parts.append(
        f'<h2 id="verdict-h">Verdict: <span class="status {escape(status)}">{escape(status.upper())}</span></h2>'
    )
    if reasons:
        parts.append(
            '<div class="why" role="alert"><h3>Why the run did not do its job</h3><ul>'
            + "".join(f"<li>{escape(str(r))}</li>" for r in reasons)
            + "</ul></div>"
        )
        aside = (s.get("files") or {}).get("kept_aside")
        kept = (
            " The run's records were kept aside in "
            + ", ".join(f"<code>{escape(str(p))}</code>" for p in aside)
            + "."
            if aside
            else ""
        )
        parts.append(f"<p>No published file was changed.{kept}</p>")
    docs = s.get("documents") or {}
    found = (docs.get("harvested") or 0) + (docs.get("kept_unchanged") or 0) + (docs.get("already_done") or 0)
    reported = s.get("reported_total")
    completeness = s.get("completeness")
    tiles = [
        ("documents", f"{_num(found)} <small>of {_num(reported)} reported</small>", ""),
        (
            "completeness",
            _pct(completeness),
            "" if completeness is None else "good" if completeness >= 1 else "bad",
        ),
        ("duration", duration(s.get("duration_s")), ""),
        ("requests", _num(s.get("requests")), ""),
    ]
    if s.get("job"):
        tiles.append(("dataset", f"{_num(docs.get('dataset'))} <small>documents</small>", ""))
        tiles.append(("fetched this run", f"{_num(docs.get('harvested'))} <small>documents</small>", ""))
    parts.append(_tiles(tiles))
    arguments = s.get("arguments") or {}
    facts = [
        ("started", s.get("started")),
        ("ended", s.get("ended")),
        ("mode", s.get("mode")),
        ("stopped by", s.get("stopped_by")),
        ("site", s.get("base_url")),
    ] + [(f"-a {k}", v) for k, v in arguments.items() if v not in (None, "", False)]
    parts.append(
        '<dl class="facts">'
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(_text(v))}</dd>" for k, v in facts if v not in (None, ""))
        + "</dl>"
    )
    parts.append("</section>")
    return "".join(parts)


def _dataset(data: ReportData) -> str:
    profile = data.profile
    parts = ['<section id="dataset" aria-labelledby="dataset-h"><h2 id="dataset-h">The dataset</h2>']
    if data.dataset:
        parts.append(f"<p>Read from <code>{escape(data.dataset)}</code>.</p>")
    if data.dataset_note:
        parts.append(f"<p class=note>{escape(data.dataset_note)}</p>")
    if profile is None or not profile.records:
        parts.append("<p>No records: the run harvested no document.</p></section>")
        return "".join(parts)
    parts.append(f"<p><strong>{_num(profile.records)}</strong> records.</p>")

    years = profile.years()
    year_rows = [(str(year), *(counts[p] for p in PRECISIONS), sum(counts.values()))
                 for year, counts in years if sum(counts.values())]  # fmt: skip
    if profile.undated:
        year_rows.append((Markup("undated"), "", "", "", profile.undated))
    dated = sum(sum(counts.values()) for _, counts in years)
    axis = year_axis(years)
    apart = [(year, sum(counts.values())) for year, counts in years
             if axis and not axis[0] <= year <= axis[1] and sum(counts.values())]  # fmt: skip
    apart_note = (
        f" {_num(sum(n for _, n in apart))} document(s) of {', '.join(str(y) for y, _ in apart[:8])}"
        f"{' ...' if len(apart) > 8 else ''} are drawn apart, beside {axis[0]}–{axis[1]}, so that a few "
        "documents do not stretch the axis; every year is in the table."
        if apart and axis else ""
    )  # fmt: skip
    parts.append(
        _pair(
            "years", "Documents per year, by date precision",
            charts.chart(charts.years_chart, "years", years, profile.undated, axis),
            table("Documents per year", ["year", *PRECISIONS, "all"], year_rows),
            f"{_num(dated)} dated (the precision is what the archive states), {_num(profile.undated)} undated."
            + apart_note,
        )
    )  # fmt: skip

    coverage = profile.coverage()
    parts.append(
        _pair(
            "coverage", "Field coverage: the share of records that have each field",
            charts.chart(
                charts.hbar_chart, "coverage", [c[0] for c in coverage], [c[3] for c in coverage], percent=True,
                colors=[charts.KIND_COLORS[c[1]] for c in coverage],
                legend={k: v for k, v in charts.KIND_COLORS.items() if any(c[1] == k for c in coverage)},
                label="Field coverage",
            ),
            table("Field coverage", ["field", "from", "records", "share"],
                  [(c[0], Markup(c[1]), c[2], Markup(_pct(c[3]))) for c in coverage], numeric_from=2),
            "Listing fields come from the results pages; details fields from each document's page"
            + ("." if profile.details else " (not in this dataset: the run did not follow the results)."),
        )
    )  # fmt: skip

    if profile.details:
        for facet in FACETS:
            top = profile.top(facet)
            title = FACET_TITLES[facet]
            distinct = len(profile.facets[facet])
            numbers = table(
                f"{title}: most frequent", [facet, "records"], [(Markup(escape(v)), n) for v, n in top]
            )
            parts.append(
                _pair(
                    f"top-{facet}", f"{title}: the {len(top)} most frequent",
                    charts.chart(charts.hbar_chart, f"top-{facet}", [v for v, _ in top], [n for _, n in top],
                            label=f"{title}: most frequent") if top else None,
                    numbers if top else "<p>None in the dataset.</p>",
                    f"{_num(distinct)} distinct; a document may have several.",
                )
            )  # fmt: skip
        texts = len(profile.text_lengths)
        bins = histogram(profile.text_lengths, max(5, min(TEXT_BINS, round(2 * texts ** (1 / 3)))))
        stats = profile.text_summary()
        rows: list[tuple[Any, ...]] = [(Markup(f"{low:,}–{high - 1:,}"), n) for low, high, n in bins]
        if profile.no_text:
            rows.insert(0, (Markup("no text"), profile.no_text))
        note = (
            f"{_num(stats['texts'])} texts; median {_num(stats['median'])} characters, "
            f"shortest {_num(stats['shortest'])}, longest {_num(stats['longest'])}; "
            f"{_num(profile.no_text)} records without text."
            if stats else "No record has a text."
        )  # fmt: skip
        parts.append(
            _pair(
                "text-length", "Length of the text (characters)",
                charts.chart(charts.histogram_chart, "text-length", bins, label="Distribution of text length",
                             xlabel="characters of text")
                if bins else None,
                table("Text length", ["characters", "documents"], rows),
                note,
            )
        )  # fmt: skip
    parts.append("</section>")
    return "".join(parts)


def _run(data: ReportData) -> str:
    s = data.summary
    parts = ['<section id="run" aria-labelledby="run-h"><h2 id="run-h">The run</h2>']
    pages = s.get("pages") or {}
    skipped = s.get("skipped") or {}
    waits = s.get("waits") or {}

    def bad(n: Any) -> str:
        return "bad" if n else ""

    parts.append(
        _tiles([
            ("results pages", f"{_num(pages.get('search'))} <small>of {_num(pages.get('search_expected'))}</small>", ""),
            ("document pages", _num(pages.get("document")), ""),
            ("pages failed", _num(pages.get("failed", 0)), bad(pages.get("failed"))),
            ("pages blocked", _num(pages.get("blocked", 0)), bad(pages.get("blocked"))),
            ("pages oversize", _num(skipped.get("oversize_pages", 0)), bad(skipped.get("oversize_pages"))),
            ("retries", _num(s.get("retries", 0)), ""),
            ("Retry-After waits", f"{_num(waits.get('retry_after', 0))} <small>{duration(waits.get('retry_after_seconds') or 0)}</small>", ""),
            ("back-off waits", f"{_num(waits.get('backoff', 0))} <small>{duration(waits.get('backoff_seconds') or 0)}</small>", ""),
        ])
    )  # fmt: skip

    statuses = sorted((s.get("responses_by_status") or {}).items())
    status_colors = [charts.VERDICT_COLORS["ok"] if k.startswith(("2", "3")) else charts.VERDICT_COLORS["failed"]
                     for k, _ in statuses]  # fmt: skip
    parts.append(
        _pair(
            "statuses", "Responses by HTTP status",
            charts.chart(charts.hbar_chart, "statuses", [k for k, _ in statuses], [v for _, v in statuses],
                         colors=status_colors, label="Responses by status")
            if statuses else None,
            table("Responses by status", ["status", "responses"], statuses) if statuses else "<p>No responses.</p>",
        )
    )  # fmt: skip

    retries = sorted((s.get("retries_by_reason") or {}).items(), key=lambda kv: -kv[1])
    parts.append(
        _pair(
            "retries", "Retries by reason",
            charts.chart(charts.hbar_chart, "retries", [k for k, _ in retries], [v for _, v in retries],
                         label="Retries by reason")
            if retries else None,
            table("Retries by reason", ["reason", "retries"], retries) if retries else "<p>No retries.</p>",
            f"{_num(s.get('retries_exhausted', 0))} request(s) gave up after the last retry.",
        )
    )  # fmt: skip

    wait_rows = [
        (Markup("Retry-After (429/503)"), waits.get("retry_after", 0), Markup(duration(waits.get("retry_after_seconds") or 0))),
        (Markup("back-off without Retry-After"), waits.get("backoff", 0), Markup(duration(waits.get("backoff_seconds") or 0))),
    ]  # fmt: skip
    trouble = [
        (Markup("failed after retries"), pages.get("failed", 0)),
        (Markup("blocked (challenge or block page)"), pages.get("blocked", 0)),
        (Markup("over the size limit"), skipped.get("oversize_pages", 0)),
        (Markup("incomplete, asked again"), pages.get("incomplete_retried", 0)),
        (Markup("not UTF-8"), skipped.get("invalid_utf8_pages", 0)),
        (Markup("rows linking off the site"), skipped.get("offsite_rows", 0)),
        (Markup("new rows beyond their count line"), skipped.get("rows_beyond_count", 0)),
        (Markup("canonical links rejected"), skipped.get("canonical_rejected", 0)),
        (Markup("links off the site dropped (scans, download, related)"), skipped.get("links_dropped", 0)),
    ]
    parts.append(
        '<div class="two">'
        + table("Waits imposed by the site", ["wait", "times", "total"], wait_rows)
        + table("Pages that went wrong", ["pages", "count"], trouble)
        + "</div>"
    )

    pace = s.get("pages_per_minute") or {}
    series = pace.get("series") or []
    bucket = float(pace.get("bucket_s") or 60)
    pace_rows = [(Markup(_since(i * bucket, bucket)), Markup(f"{v:,.1f}")) for i, v in enumerate(series)]
    responses = round(sum(series) * bucket / 60)
    lasted = bucket * len(series)
    if series and (lasted < PACE_MIN_SECONDS or responses < PACE_MIN_RESPONSES):
        # A pace over a few seconds is noise: 13 responses in 0.03 s read as 26,000 pages/min.
        parts.append(
            _pair(
                "pace", "Pages per minute over the run", None,
                f"<p>Too short a run for a pace: {_num(responses)} responses in {_since(lasted, bucket)}. "
                f"It is drawn for runs of at least {PACE_MIN_SECONDS // 60} minutes and "
                f"{PACE_MIN_RESPONSES} responses.</p>",
            )
        )  # fmt: skip
    else:
        parts.append(
            _pair(
                "pace", "Pages per minute over the run",
                charts.chart(charts.pace_chart, "pace", bucket, series) if series else None,
                table("Pages per minute", ["from", "pages/min"], pace_rows) if series
                else "<p>No time series in this summary.</p>",
                f"Responses received, in steps of {bucket:g} s." if series else "",
            )
        )  # fmt: skip
    parts.append("</section>")
    return "".join(parts)


def history_runs(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A job's runs as the history chart and table read them."""
    runs = []
    for row in history:
        summary = row.get("summary") or {}
        runs.append(
            {
                "run": row.get("run"),
                "started": row.get("started"),
                "full": row.get("full"),
                "status": summary.get("status") or row.get("status"),
                "changes": summary.get("changes"),
                "requests": summary.get("requests"),
                "duration_s": summary.get("duration_s"),
                "documents": (summary.get("documents") or {}).get("dataset"),
                "reasons": summary.get("reasons") or [],
            }
        )
    return runs


def _job(data: ReportData) -> str:
    s = data.summary
    parts = [
        f'<section id="job" aria-labelledby="job-h"><h2 id="job-h">The job {escape(str(s.get("job")))}</h2>'
    ]
    runs = history_runs(data.history or [])
    rows = []
    for run in runs:
        changes = run["changes"] or {}
        rows.append((
            Markup(f"run {run['run']}"), Markup(escape(str(run["started"] or "").replace("T", " ").rstrip("Z"))),
            Markup("full" if run["full"] else "incremental"),
            Markup(f'<span class="status {escape(str(run["status"]))}">{escape(str(run["status"]))}</span>'),
            changes.get("added"), changes.get("changed"), changes.get("removed"), run["requests"],
            Markup(duration(run["duration_s"])), Markup(escape("; ".join(run["reasons"]))),
        ))  # fmt: skip
    parts.append(
        _pair(
            "history", f"History: {len(runs)} run{'s' if len(runs) != 1 else ''}",
            charts.chart(charts.history_chart, "history", runs) if runs else None,
            table("The job's runs", ["run", "started", "mode", "verdict", "added", "changed", "removed",
                                     "requests", "duration", "why"], rows, numeric_from=4)
            if runs else "<p>No run recorded.</p>",
            "Added, changed and removed: documents, since the run before (log scale).",
            wide=True,
        )
    )  # fmt: skip
    stale = s.get("stale_documents") or []
    if stale:
        stale_rows = [
            (
                Markup(
                    f'<a href="{escape(str(d.get("url") or ""), quote=True)}">{escape(str(d.get("id") or d.get("url")))}</a>'
                ),
                Markup(escape(str(d.get("since") or "").replace("T", " ").rstrip("Z"))),
                Markup(escape(str(d.get("error") or ""))),
                d.get("attempts"),
                Markup(escape(str(d.get("next_try") or "").replace("T", " ").rstrip("Z"))),
            )
            for d in stale
        ]
        parts.append(
            f'<div class="stale" id="stale"><h3>Failing documents: {len(stale):,}, kept with their last good record</h3>'
            "<p class=note>Known documents whose page failed on their last try. The dataset keeps their "
            "last good record; each is tried again on a later night (the next, then after 2, 4, ... nights).</p>"
            + table("Failing documents", ["document", "failing since", "last error", "runs in a row", "next try"],
                    stale_rows, numeric_from=3)
            + "</div>"
        )  # fmt: skip
    total = data.changes_total
    if data.changes:
        changes_run = data.changes[0].get("run")
        change_rows = []
        for entry in data.changes:
            url = str(entry.get("url") or "")
            name = escape(str(entry.get("id") or url))
            title = data.titles.get(url)
            link = Markup(
                f'<a href="{escape(url, quote=True)}">{name}</a>'
                + (f"<br><small>{escape(title)}</small>" if title else "")
            )
            change_rows.append((Markup(escape(str(entry.get("change")))), link, Markup(escape(", ".join(entry.get("fields") or [])))))  # fmt: skip
        more = (
            f" The first {len(data.changes):,} of {total:,} are listed; all are in <code>changes.jsonl</code>."
            if total > len(data.changes)
            else ""
        )
        parts.append(
            f'<div class="changes" id="changes"><h3>The last change set (run {escape(str(changes_run))}): {total:,} documents</h3>'
            f"<p class=note>What the last complete run found added, changed or removed since the one before.{more}</p>"
            + table("The last change set", ["change", "document", "changed fields"], change_rows, numeric_from=99)
            + "</div>"
        )  # fmt: skip
    else:
        said = "Empty: nothing changed." if data.changes_published else "No change set published yet."
        parts.append(f'<div class="changes" id="changes"><h3>The last change set</h3><p>{said}</p></div>')
    parts.append("</section>")
    return "".join(parts)


def render(
    data: ReportData, draw: Callable[[Sequence[charts.Chart]], charts.Drawn] = charts.draw_here
) -> str:
    """The whole page; its charts drawn together by ``draw`` (here, or
    :func:`.charts.draw_apart` in a child process)."""
    s = data.summary
    status = str(s.get("status") or "unknown")
    headline = _headline(s)
    title = f"{status.upper()}: harvest of {headline}"
    nav = ['<a href="#verdict">Verdict</a>', '<a href="#dataset">Dataset</a>', '<a href="#run">Run</a>']
    with chart_slots() as slots:
        sections = [_verdict(data), _dataset(data), _run(data)]
        if s.get("job"):
            sections.append(_job(data))
            nav.append('<a href="#job">Job history</a>')
    body, drawn = slots.fill("".join(sections), draw)
    notice = ""
    if drawn.missing is not None:
        notice = (
            '<p class="nochart" id="no-charts">The charts are not drawn: matplotlib is not installed. '
            f"Install the plotting extra (<code>{charts.INSTALL_HINT}</code>), then rebuild this page with "
            "<code>python -m harvester.report PATH</code>. Every number is in the tables.</p>"
        )
    sources = ", ".join(f"<code>{escape(p)}</code>" for p in data.sources)
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        # Nothing may be fetched: the page is whole, and opens offline from file://.
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<header><p>harvester report</p><h1>Harvest of {escape(headline)}</h1>"
        f"<nav>{''.join(nav)}</nav></header>{notice}"
        + body
        + f"<footer>Built {escape(data.built)} by harvester {escape(data.version)}"
        + (f" from {sources}" if sources else "")
        + ". Self-contained: no script, nothing fetched. Rebuild it with "
        "<code>python -m harvester.report PATH</code> (a dataset, a run summary or a job folder).</footer>"
        "</main></body></html>\n"
    )
