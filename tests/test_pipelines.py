"""Item pipelines on plain items: no crawl, no network. Stats from an unstarted crawler.

Every case is real: the seed search's records (``../shared/data/seed-search.json``) and the
date strings the archive shows. Each protection is also shown off, to prove it bites.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pytest
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from harvester.items import DocumentItem
from harvester.pipelines import DatePipeline, DuplicatesPipeline, TitlePipeline
from harvester.stats import (
    DATE_ABSENT,
    DATE_UNREADABLE,
    DUPLICATES_DROPPED,
    TITLE_EMPTY,
    date_precision,
)
from replica.dataset import slugify
from tests.conftest import shared_data

BASE = "https://digitalarchive.wilsoncenter.org"
MIKOYAN = "Telegram from A. Mikoyan to the CPSU Central Committee"
# Pathauto slugs of the two documents that share that title (ARCHIVE.md: stop words dropped,
# "-0" for the second one).
MIKOYAN_SLUGS = ("telegram-mikoyan-cpsu-central-committee", "telegram-mikoyan-cpsu-central-committee-0")


def crawler(**settings: Any) -> Crawler:
    return get_crawler(settings_dict=settings)


def seed_items() -> list[DocumentItem]:
    """The seed search's 11 records as the spider yields them, slugs made like the site's."""
    seed = shared_data("seed-search.json")
    items = []
    used: dict[str, int] = {}
    for record in seed["results"]:
        slug = slugify(record["title"])
        count = used.get(slug, 0)
        used[slug] = count + 1
        if count:
            slug = f"{slug}-{count - 1}"
        items.append(
            DocumentItem(
                id=slug,
                url=f"{BASE}/document/{slug}",
                title=record["title"],
                date_raw=record["date_raw"],
                summary=record["summary"],
                position=record["position"],
            )
        )
    return items


def run(pipeline: Any, items: Iterable[DocumentItem]) -> tuple[list[DocumentItem], list[DropItem]]:
    """Items that passed, and the drops, in order."""
    passed: list[DocumentItem] = []
    dropped: list[DropItem] = []
    for item in items:
        try:
            passed.append(pipeline.process_item(item))
        except DropItem as exc:
            dropped.append(exc)
    return passed, dropped


def again(item: DocumentItem, url: str | None = None, **changes: Any) -> DocumentItem:
    """The same document listed a second time (a later position, maybe another address form)."""
    fields = {**item.__dict__, "url": url or item.url, "position": (item.position or 0) + 100, **changes}
    return DocumentItem(**fields)


# --- DuplicatesPipeline -------------------------------------------------------------------------


def test_the_seed_slugs_are_the_documented_ones() -> None:
    mikoyan = [item for item in seed_items() if item.title == MIKOYAN]
    assert tuple(item.id for item in mikoyan) == MIKOYAN_SLUGS
    assert [item.date_raw for item in mikoyan] == ["September 21, 1956", "September 23, 1956"]


def test_two_documents_with_one_title_are_both_kept() -> None:
    c = crawler()
    passed, dropped = run(DuplicatesPipeline.from_crawler(c), seed_items())
    assert len(passed) == 11 and dropped == []
    assert [item.id for item in passed if item.title == MIKOYAN] == list(MIKOYAN_SLUGS)
    assert c.stats.get_value(DUPLICATES_DROPPED) is None


def test_a_document_listed_again_is_dropped_and_each_drop_counted() -> None:
    items = seed_items()
    first, second = (item for item in items if item.title == MIKOYAN)
    repeats = [
        again(second),
        # The same address in other forms is the same document.
        again(second, url=f"HTTPS://DigitalArchive.WilsonCenter.org/document/{second.id}/"),
        again(first, url=f"{BASE}:443/document/{first.id}?utm_source=x#top"),
    ]
    c = crawler()
    passed, dropped = run(DuplicatesPipeline.from_crawler(c), [*items, *repeats])
    assert passed == items  # the first time each is seen
    assert len(dropped) == 3
    assert c.stats.get_value(DUPLICATES_DROPPED) == 3
    assert all(drop.log_level == "INFO" for drop in dropped)  # expected: quiet, counted
    assert f"{BASE}/document/{second.id}" in str(dropped[0]) and "position 107" in str(dropped[0])


def test_identity_is_the_url_never_the_title() -> None:
    first, second = (item for item in seed_items() if item.title == MIKOYAN)
    pipeline = DuplicatesPipeline(crawler().stats)
    # A retitled listing of the same URL is still the same document...
    _, dropped = run(pipeline, [first, again(first, title="Telegram from Mikoyan (retitled)")])
    assert len(dropped) == 1
    # ...and another URL with the same title is another document.
    passed, dropped = run(pipeline, [second])
    assert passed == [second] and dropped == []


def test_dedupe_is_on_by_default_and_with_the_project_settings() -> None:
    project = Settings()
    project.setmodule("harvester.settings", priority="project")
    assert project.getbool("HARVESTER_DEDUPE") is True
    assert DuplicatesPipeline(crawler().stats).enabled
    assert DuplicatesPipeline.from_crawler(crawler()).enabled
    assert DuplicatesPipeline.from_crawler(crawler(HARVESTER_DEDUPE=True)).enabled


def test_protection_off_the_duplicate_is_exported_twice() -> None:
    """HARVESTER_DEDUPE=False shows what the pipeline protects against."""
    items = seed_items()
    repeat = again(items[5])
    c = crawler(HARVESTER_DEDUPE=False)
    pipeline = DuplicatesPipeline.from_crawler(c)
    assert not pipeline.enabled
    passed, dropped = run(pipeline, [*items, repeat])
    assert len(passed) == 12 and dropped == []
    assert [item.url for item in passed].count(repeat.url) == 2
    assert c.stats.get_value(DUPLICATES_DROPPED) is None


def test_dict_items_go_through_itemadapter() -> None:
    pipeline = DuplicatesPipeline(crawler().stats)
    url = f"{BASE}/document/{MIKOYAN_SLUGS[0]}"
    passed, dropped = run(pipeline, [{"url": url}, {"url": url + "/"}])  # type: ignore[list-item]
    assert len(passed) == 1 and len(dropped) == 1


# --- TitlePipeline ---------------------------------------------------------------------------


def test_seed_titles_pass_unchanged() -> None:
    c = crawler()
    items = seed_items()
    titles = [item.title for item in items]
    passed, _ = run(TitlePipeline.from_crawler(c), items)
    assert [item.title for item in passed] == titles
    assert c.stats.get_value(TITLE_EMPTY) is None


def test_untidy_title_is_normalised() -> None:
    c = crawler()
    # As the page parser hands it over (entities already decoded once, as a reader sees them).
    raw = "Telegram\u00a0from A.\u00a0Mikoyan\u200b to  the\nCPSU Central Committee "
    item = DocumentItem(id=MIKOYAN_SLUGS[0], url=f"{BASE}/document/{MIKOYAN_SLUGS[0]}", title=raw)
    TitlePipeline.from_crawler(c).process_item(item)
    assert item.title == MIKOYAN


@pytest.mark.parametrize("raw", [None, "", "  \u200b ", "\u00a0", "\u2063\u3164"])
def test_an_empty_title_is_null_counted_and_logged(raw: str | None, caplog: pytest.LogCaptureFixture) -> None:
    c = crawler()
    url = f"{BASE}/document/untitled-0"
    item = DocumentItem(id="untitled-0", url=url, title=raw)
    with caplog.at_level(logging.WARNING, logger="harvester.pipelines"):
        TitlePipeline.from_crawler(c).process_item(item)
    assert item.title is None
    assert c.stats.get_value(TITLE_EMPTY) == 1
    assert url in caplog.text


# --- DatePipeline ----------------------------------------------------------------------------

# Real strings (../shared/data and ARCHIVE.md), the ISO form written by hand.
REAL_DATES = [
    ("January 3, 1962", "1962-01-03", "day"),  # seed, position 1
    ("September 1956", "1956-09", "month"),  # fixture: Mao's conversation
    ("September, 1956", "1956-09", "month"),  # the same document on the old layout
    ("1958", "1958", "year"),  # fixture: Shumays
    ("April 05, 1956", "1956-04-05", "day"),  # old layout (ARCHIVE.md)
]


def dated(raw: str | None, slug: str = "x") -> DocumentItem:
    return DocumentItem(id=slug, url=f"{BASE}/document/{slug}", date_raw=raw)


@pytest.mark.parametrize(("raw", "iso", "precision"), REAL_DATES)
def test_real_dates_at_their_precision(raw: str, iso: str, precision: str) -> None:
    c = crawler()
    item = DatePipeline.from_crawler(c).process_item(dated(raw))
    assert (item.date, item.date_precision, item.date_raw) == (iso, precision, raw)
    assert c.stats.get_value(date_precision(precision)) == 1
    assert c.stats.get_value(DATE_UNREADABLE) is None


def test_a_bare_year_stays_a_year() -> None:
    c = crawler()
    item = DatePipeline.from_crawler(c).process_item(dated("1958"))
    assert item.date == "1958" and item.date_precision == "year"  # not 1958-01-01
    assert c.stats.get_value(date_precision("day")) is None
    assert c.stats.get_value(date_precision("month")) is None


def test_white_space_in_the_raw_date_is_collapsed_and_kept() -> None:
    item = DatePipeline(crawler().stats).process_item(dated(" November\n 13,\u00a01967 "))
    assert (item.date, item.date_raw) == ("1967-11-13", "November 13, 1967")


@pytest.mark.parametrize("raw", ["February 30, 1956", "undated [1955]", "12 September 1996", "c. 1956"])
def test_an_unreadable_date_keeps_its_text_is_null_and_counted(
    raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    c = crawler()
    item = dated(raw, "bad-date")
    with caplog.at_level(logging.WARNING, logger="harvester.pipelines"):
        DatePipeline.from_crawler(c).process_item(item)
    assert (item.date, item.date_precision, item.date_raw) == (None, None, raw)
    assert c.stats.get_value(DATE_UNREADABLE) == 1
    assert c.stats.get_value(DATE_ABSENT) is None
    assert raw in caplog.text and item.url in caplog.text


@pytest.mark.parametrize("raw", [None, "", " \u00a0 "])
def test_no_date_is_absent_not_unreadable(raw: str | None) -> None:
    c = crawler()
    item = DatePipeline.from_crawler(c).process_item(dated(raw))
    assert (item.date, item.date_precision, item.date_raw) == (None, None, None)
    assert c.stats.get_value(DATE_ABSENT) == 1
    assert c.stats.get_value(DATE_UNREADABLE) is None


def test_every_real_date_is_read_and_counted_once() -> None:
    raws = [r["date_raw"] for r in shared_data("seed-search.json")["results"]]
    raws += [r["date_raw"] for r in shared_data("real-records.json")]
    c = crawler()
    pipeline = DatePipeline.from_crawler(c)
    items = [pipeline.process_item(dated(raw, f"d{i}")) for i, raw in enumerate(raws)]
    counts = {p: c.stats.get_value(date_precision(p), 0) for p in ("day", "month", "year")}
    assert c.stats.get_value(DATE_UNREADABLE) is None
    assert sum(counts.values()) + c.stats.get_value(DATE_ABSENT, 0) == len(raws)
    assert counts["year"] == sum(1 for raw in raws if raw.strip().isdigit())
    assert all(item.date is None or len(item.date) in (4, 7, 10) for item in items)
