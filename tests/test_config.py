"""Settings and feeds adjusted in one place, before any request (plain Settings objects)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from scrapy.settings import Settings

from harvester.args import parse_args
from harvester.config import configure
from harvester.exceptions import ArgumentError
from harvester.items import FIELD_ORDER, LISTING_FIELDS


@pytest.fixture(autouse=True)
def _no_output_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    """These runs are configured and never run, so never release their outputs: the lock
    (tests/test_publish.py) is left out here."""
    monkeypatch.setattr("harvester.config.lock_output", lambda final, run: None)


def settings(**overrides: object) -> Settings:
    s = Settings()
    s.setmodule("harvester.settings", priority="project")
    for name, value in overrides.items():
        s.set(name, value, priority="cmdline")
    return s


def test_the_replica_lifts_the_throttle_and_the_real_site_keeps_it(tmp_path: Path) -> None:
    local = settings(
        HARVESTER_BASE_URL="http://127.0.0.1:8000", FEEDS={str(tmp_path / "x.jsonl"): {"format": "jsonlines"}}
    )
    configure(local, parse_args({}))
    assert local.getfloat("DOWNLOAD_DELAY") == 0 and not local.getbool("AUTOTHROTTLE_ENABLED")
    real = settings(FEEDS={str(tmp_path / "x.jsonl"): {"format": "jsonlines"}})
    config = configure(real, parse_args({}))
    assert real.getfloat("DOWNLOAD_DELAY") == 3 and real.getbool("AUTOTHROTTLE_ENABLED")
    assert config.base_url == "https://digitalarchive.wilsoncenter.org"


def test_export_fields_follow_details(tmp_path: Path) -> None:
    out = {str(tmp_path / "x.jsonl"): {"format": "jsonlines"}}
    listing, details = settings(FEEDS=out), settings(FEEDS=out)
    configure(listing, parse_args({}))
    configure(details, parse_args({"details": "true"}))
    assert listing.getlist("FEED_EXPORT_FIELDS") == list(LISTING_FIELDS)
    assert details.getlist("FEED_EXPORT_FIELDS") == list(FIELD_ORDER)


def test_a_job_gets_its_settings_and_no_default_feeds(tmp_path: Path) -> None:
    s = settings(HARVESTER_JOBS_DIR=str(tmp_path / "jobs"))
    configure(s, parse_args({"job": "nightly", "full": "true", "details": "true"}))
    assert s.get("HARVESTER_JOB") == "nightly" and s.getbool("HARVESTER_JOB_FULL")
    assert '"job":"nightly"' in s.get("HARVESTER_JOB_ARGS") and "full" not in s.get("HARVESTER_JOB_ARGS")
    assert dict(s.getdict("FEEDS")) == {}


def test_csv_text_reaches_the_csv_feeds_only(tmp_path: Path) -> None:
    feeds = {str(tmp_path / "x.csv"): {"format": "csv"}, str(tmp_path / "x.jsonl"): {"format": "jsonlines"}}
    s = settings(FEEDS=feeds, HARVESTER_CSV_TEXT=True)
    configure(s, parse_args({}))
    got = s.getdict("FEEDS")
    assert got[str(tmp_path / "x.csv")]["item_export_kwargs"] == {"include_text": True}
    assert "item_export_kwargs" not in got[str(tmp_path / "x.jsonl")]


@pytest.mark.parametrize(
    ("overrides", "args", "name"),
    [
        ({"HARVESTER_BASE_URL": "ftp://x"}, {}, "HARVESTER_BASE_URL"),
        ({"HARVESTER_MIN_COMPLETENESS": "1.5"}, {}, "HARVESTER_MIN_COMPLETENESS"),
        ({"HARVESTER_MAX_REWALKS": "many"}, {}, "HARVESTER_MAX_REWALKS"),
        ({"HARVESTER_RATE_LIMIT_WAIT_MAX": "-1"}, {}, "HARVESTER_RATE_LIMIT_WAIT_MAX"),
        ({"HARVESTER_RATE_LIMIT_WAIT_MAX": "30m"}, {}, "HARVESTER_RATE_LIMIT_WAIT_MAX"),
        ({"HARVESTER_MAX_REWALKS": "2.5"}, {}, "HARVESTER_MAX_REWALKS"),
        ({"HARVESTER_PAGE_SIZE": 2.5}, {}, "HARVESTER_PAGE_SIZE"),
        ({"HARVESTER_MAX_RESULTS": "lots"}, {}, "HARVESTER_MAX_RESULTS"),
        ({"HARVESTER_MAX_RESULTS": "0"}, {}, "HARVESTER_MAX_RESULTS"),
        ({"HARVESTER_MAX_RESULTS": 2.5}, {}, "HARVESTER_MAX_RESULTS"),
        ({"HARVESTER_CSV_TEXT": "perhaps"}, {}, "HARVESTER_CSV_TEXT"),
        ({}, {"start_url": "https://example.org/search"}, "start_url"),
    ],
)
def test_refusals_name_the_setting(
    overrides: dict[str, object], args: dict[str, str], name: str, tmp_path: Path
) -> None:
    s = settings(FEEDS={str(tmp_path / "x.jsonl"): {"format": "jsonlines"}}, **overrides)
    with pytest.raises(ArgumentError) as caught:
        configure(s, parse_args(args))
    assert caught.value.name == name


def test_a_whole_number_setting_says_so(tmp_path: Path) -> None:
    feeds = {str(tmp_path / "x.jsonl"): {"format": "jsonlines"}}
    with pytest.raises(ArgumentError, match="give a whole number from 0 to 1000"):
        configure(settings(FEEDS=feeds, HARVESTER_MAX_REWALKS="2.5"), parse_args({}))
    configure(settings(FEEDS=feeds, HARVESTER_MAX_REWALKS="5"), parse_args({}))


def test_max_results_is_a_whole_number_and_the_refusal_says_so(tmp_path: Path) -> None:
    feeds = {str(tmp_path / "x.jsonl"): {"format": "jsonlines"}}
    with pytest.raises(ArgumentError, match="give a whole number from 1 to 1000000000000"):
        configure(settings(FEEDS=feeds, HARVESTER_MAX_RESULTS="50000.5"), parse_args({}))
    configure(settings(FEEDS=feeds, HARVESTER_MAX_RESULTS="200000"), parse_args({}))
    configure(settings(FEEDS=feeds), parse_args({}))  # the default


def test_an_exported_base_url_that_differs_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HARVESTER_BASE_URL", "http://127.0.0.1:8000")
    with pytest.raises(ArgumentError, match="exported in the environment"):
        configure(settings(FEEDS={str(tmp_path / "x.jsonl"): {"format": "jsonlines"}}), parse_args({}))
    same = settings(
        HARVESTER_BASE_URL="http://127.0.0.1:8000", FEEDS={str(tmp_path / "x.jsonl"): {"format": "jsonlines"}}
    )
    assert configure(same, parse_args({})).host == "127.0.0.1"


def test_the_default_output_is_the_projects_wherever_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = harvester.settings\n")
    inside = tmp_path / "harvester"
    inside.mkdir()
    monkeypatch.chdir(inside)
    s = settings()
    configure(s, parse_args({}))
    assert sorted(s.getdict("FEEDS")) == [
        str(tmp_path / "output" / "%(name)s.csv"),
        str(tmp_path / "output" / "%(name)s.jsonl"),
    ]
    job = settings()
    configure(job, parse_args({"job": "nightly"}))
    assert job.get("HARVESTER_JOBS_DIR") == str(tmp_path / "output" / "jobs")


def test_the_spider_name_config_expands_is_the_spiders() -> None:
    from harvester.config import SPIDER_NAME
    from harvester.spiders.archive import ArchiveSpider

    assert SPIDER_NAME == ArchiveSpider.name


@pytest.mark.parametrize(
    ("name", "guess"),
    [
        ("HARVESTER_PAGESIZE", "HARVESTER_PAGE_SIZE"),
        ("HARVESTER_CSVTEXT", "HARVESTER_CSV_TEXT"),
        ("HARVESTER_ZZZ", None),
    ],
)
def test_an_unknown_harvester_setting_is_refused_with_the_closest_name(
    name: str, guess: str | None, tmp_path: Path
) -> None:
    s = settings(FEEDS={str(tmp_path / "x.jsonl"): {"format": "jsonlines"}}, **{name: "50"})
    with pytest.raises(ArgumentError) as caught:
        configure(s, parse_args({}))
    assert caught.value.name == name
    assert (
        ("did you mean" not in str(caught.value))
        if guess is None
        else (f"did you mean {guess}?" in str(caught.value))
    )


def test_every_documented_setting_is_known_and_every_known_one_documented() -> None:
    from harvester.config import KNOWN_SETTINGS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Settings (`-s NAME=VALUE`)") : readme.index("### How long a harvest")]
    documented = set(re.findall(r"`(HARVESTER_[A-Z_]+)`", table))
    # set from -a job=/full=/replay=
    internal = {"HARVESTER_JOB", "HARVESTER_JOB_FULL", "HARVESTER_JOB_ARGS", "HARVESTER_REPLAY"}
    assert documented == set(KNOWN_SETTINGS) - internal


def test_a_missing_output_folder_is_created_and_a_file_in_the_way_refused(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "x.jsonl"
    configure(settings(FEEDS={str(out): {"format": "jsonlines"}}), parse_args({}))
    assert out.parent.is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(ArgumentError, match="cannot write there"):
        configure(
            settings(FEEDS={str(tmp_path / "file" / "x.jsonl"): {"format": "jsonlines"}}), parse_args({})
        )


def test_the_contact_goes_into_the_user_agent(tmp_path: Path) -> None:
    feeds = {str(tmp_path / "x.jsonl"): {"format": "jsonlines"}}
    plain = settings(FEEDS=feeds)
    assert "://" not in plain.get("USER_AGENT")  # no invented address
    with_contact = settings(FEEDS=feeds, HARVESTER_CONTACT="ops@example.org")
    configure(with_contact, parse_args({}))
    assert (
        with_contact.get("USER_AGENT")
        == "harvester/0.1 (harvester of digital archives, built on Scrapy; contact: ops@example.org)"
    )
    own = settings(FEEDS=feeds, HARVESTER_CONTACT="ops@example.org", USER_AGENT="mine/1.0")
    configure(own, parse_args({}))
    assert own.get("USER_AGENT") == "mine/1.0"
    with pytest.raises(ArgumentError, match="HARVESTER_CONTACT"):
        configure(settings(FEEDS=feeds, HARVESTER_CONTACT="a)\r\nX-Evil: 1"), parse_args({}))


def test_the_real_site_without_a_contact_gets_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feeds = {str(tmp_path / "x.jsonl"): {"format": "jsonlines"}}
    configure(settings(FEEDS=feeds, HARVESTER_BASE_URL="http://127.0.0.1:8000"), parse_args({}))
    configure(settings(FEEDS=feeds, HARVESTER_CONTACT="ops@example.org"), parse_args({}))
    assert "HARVESTER_CONTACT" not in caplog.text
    configure(settings(FEEDS=feeds), parse_args({}))
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "-s HARVESTER_CONTACT=you@example.org" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("formats", "match"),
    [
        ("jsonlines,yaml", r"'yaml' is not a format; give formats of csv, .*parquet"),
        ("csv,parquet", "a job always publishes JSON Lines"),
        ("jsonlines,jl", "a format is named twice"),
    ],
)
def test_a_jobs_formats_are_checked_before_any_request(formats: str, match: str, tmp_path: Path) -> None:
    s = settings(HARVESTER_JOBS_DIR=str(tmp_path / "jobs"), HARVESTER_JOB_FORMATS=formats)
    with pytest.raises(ArgumentError, match=match) as caught:
        configure(s, parse_args({"job": "nightly"}))
    assert caught.value.name == "HARVESTER_JOB_FORMATS"
    ok = settings(
        HARVESTER_JOBS_DIR=str(tmp_path / "jobs"), HARVESTER_JOB_FORMATS="jsonlines, csv,parquet,xml"
    )
    configure(ok, parse_args({"job": "nightly"}))
    assert ok.getlist("HARVESTER_JOB_FORMATS") == ["jsonlines", "csv", "parquet", "xml"]


def test_batches_are_refused_they_could_not_be_corrected(tmp_path: Path) -> None:
    feeds = {str(tmp_path / "x-%(batch_id)d.jsonl"): {"format": "jsonlines", "batch_item_count": 100}}
    with pytest.raises(ArgumentError, match=r"batches .* are not supported"):
        configure(settings(FEEDS=feeds), parse_args({}))
