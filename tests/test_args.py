"""Spider arguments fail at start, naming the argument and the fix."""

from __future__ import annotations

import pytest

from harvester.args import parse_args
from harvester.exceptions import ArgumentError


def test_defaults_and_coercion() -> None:
    args = parse_args({"query": " Korean Workers' Party ", "max_pages": "3", "details": "true"})
    assert (args.query, args.max_pages, args.details) == ("Korean Workers' Party", 3, True)
    assert parse_args({}).query == ""


def test_scrapyds_own_arguments_are_let_through_and_not_kept() -> None:
    # Scrapyd's launcher adds -a _job=<its id of the run> to every run, and -a _version=<egg
    # version> when schedule.json names one; the harvester's own job is -a job=NAME.
    args = parse_args(
        {"_job": "57b0f7f2f05111f18c5402fc00000001", "_version": "1796436737", "job": "nightly"}
    )
    assert args.job == "nightly"
    assert args == parse_args({"job": "nightly"})


@pytest.mark.parametrize(
    ("raw", "name", "hint"),
    [
        (
            {"qeury": "Korea"},
            "qeury",
            "did you mean query? Known arguments: query, start_url, max_pages, details",
        ),
        ({"detials": "true"}, "detials", "unknown argument; did you mean details?"),
        ({"job": "../x"}, "job", "letters, digits"),
        ({"max_pages": "ten"}, "max_pages", "whole number"),
        ({"max_pages": "0"}, "max_pages", "1 or more"),
        ({"details": "maybe"}, "details", "true or false"),
        ({"details": "yes"}, "details", "true or false"),
        ({"full": "true"}, "full", "give job=NAME too"),
        ({"start_url": "digitalarchive.wilsoncenter.org/search"}, "start_url", "absolute http(s) URL"),
        ({"start_url": "https://digitalarchive.wilsoncenter.org/document/x"}, "start_url", "results page"),
        (
            {"query": "Korea", "start_url": "https://digitalarchive.wilsoncenter.org/search"},
            "query/start_url",
            "not both",
        ),
    ],
)
def test_bad_arguments_are_named(raw: dict[str, str], name: str, hint: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_args(raw)
    assert caught.value.name == name
    assert hint in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        {"max_pages": "0"},
        {"max_pages": "ten"},
        {"max_pages": "1.5"},
        {"job": "../x"},
        {"job": "a" * 70},
        {"full": "true"},
    ],
)
def test_messages_are_ours_and_do_not_contradict(raw: dict[str, str]) -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_args(raw)
    message = str(caught.value)
    assert "Input should" not in message and "String should" not in message and "pattern" not in message
    if "full" in raw:
        assert not message.endswith("true or false")


def test_an_unknown_argument_with_no_close_name_lists_the_known_ones() -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_args({"zzz": "1"})
    assert "did you mean" not in str(caught.value) and "Known arguments: query" in str(caught.value)
