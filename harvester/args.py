"""Spider arguments: one pydantic model, validated once when the spider is built.

A mistyped argument in a scheduled job must fail, not fall back to a default: unknown
names are refused, and every message names the argument and the fix.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from harvester.exceptions import ArgumentError


class ArchiveArgs(BaseModel):
    """Arguments of ``scrapy crawl archive -a NAME=VALUE``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    query: str = Field(
        "",
        description="Search keywords, as typed in the site's search box. Empty: the whole archive.",
    )
    start_url: str | None = Field(
        None,
        description="Any results URL of the archive (facets, sort, page size included), instead of query.",
    )
    max_pages: int | None = Field(
        None, ge=1, description="Stop after this many results pages (default: every page)."
    )
    details: bool = Field(False, description="Follow every result to its document page for the full record.")
    job: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Name of a scheduled job: incremental, resumable, with a change set and a summary.",
    )
    full: bool = Field(
        False, description="With job: walk every page and refetch every document (no early stop, no reuse)."
    )
    plan: bool = Field(
        False, description="Fetch one results page (and robots.txt), print the run's plan, exit; no output."
    )
    replay: str | None = Field(
        None,
        description="A WACZ a harvest wrote: run the same walk against its archived responses, "
        "making no network request.",
    )

    @field_validator("start_url")
    @classmethod
    def _check_start_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an absolute http(s) URL of a results page. {_EXAMPLE_URL}")
        if parts.path.rstrip("/") != "/search":
            raise ValueError(f"must be a results page (/search?...), not {parts.path!r}. {_EXAMPLE_URL}")
        return value

    @field_validator("replay")
    @classmethod
    def _check_replay(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = Path(value)
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "no such file"
            raise ValueError(f"{what}; give the .wacz file a harvest wrote (HARVESTER_WACZ)")
        if not os.access(path, os.R_OK):
            raise ValueError("cannot be read (permission denied); give a .wacz file this user can read")
        return value

    @field_validator("details", "full", "plan", mode="before")
    @classmethod
    def _true_or_false(cls, value: Any) -> Any:
        # pydantic would also take yes/no/on/off/1/0: a scheduled job's typo must not pass.
        if isinstance(value, str) and value.strip().lower() not in ("true", "false"):
            raise ValueError(f"must be true or false, not {value!r}")
        return value

    @field_validator("full")
    @classmethod
    def _full_needs_job(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not info.data.get("job"):
            raise ValueError("full=true is for scheduled jobs: give job=NAME too")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ArchiveArgs:
        if self.query and self.start_url:
            raise ValueError("give either query or start_url, not both")
        if self.replay and self.job:
            raise ValueError("replay is for single runs, not scheduled jobs: leave out job=NAME")
        return self


_EXAMPLE_URL = (
    "Give a results URL such as https://digitalarchive.wilsoncenter.org/search?search_api_fulltext=Korea"
)

#: What to give, in our words, when pydantic refuses a value by its type or bounds.
_FIXES = {
    "query": "give the search keywords as text",
    "max_pages": "give a whole number of pages, 1 or more (or leave it out for every page)",
    "details": "give true or false",
    "job": "give a name of letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit), e.g. nightly",
    "full": "give true or false",
    "plan": "give true or false",
    "start_url": _EXAMPLE_URL,
    "replay": "give the path of a .wacz file a harvest wrote",
}


#: What Scrapyd adds to the arguments of every run it starts (``scrapyd.launcher``): ``_job``,
#: its own id of the run (``schedule.json``'s ``jobid``, a new one each time), and ``_version``
#: when ``schedule.json`` names an egg version. Scrapyd's bookkeeping, not arguments of ours:
#: let through, unchecked and unused. Scrapyd's ``_job`` is not our ``job`` (a scheduled job's
#: name, the same every night), which ``schedule.json`` passes as ``job=NAME`` like any argument.
SCRAPYD_ARGUMENTS = frozenset({"_job", "_version"})


def parse_args(raw: dict[str, Any]) -> ArchiveArgs:
    """Validate ``-a`` arguments; raise :class:`ArgumentError` naming the first bad one.

    >>> parse_args({"job": "nightly", "_job": "57b0f7f2f05111f18c5402fc00000001"}).job
    'nightly'
    >>> parse_args({"detials": "true"})
    Traceback (most recent call last):
    ...
    harvester.exceptions.ArgumentError: argument detials='true': unknown argument; did you mean details? Known arguments: query, start_url, max_pages, details, job, full, plan, replay
    >>> parse_args({"max_pages": "0"})
    Traceback (most recent call last):
    ...
    harvester.exceptions.ArgumentError: argument max_pages='0': give a whole number of pages, 1 or more (or leave it out for every page)
    """
    raw = {name: value for name, value in raw.items() if name not in SCRAPYD_ARGUMENTS}
    try:
        return ArchiveArgs.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(p) for p in error["loc"]) or "query/start_url"
        if error["type"] == "extra_forbidden":
            known = list(ArchiveArgs.model_fields)
            close = difflib.get_close_matches(name, known, n=1)
            guess = f"did you mean {close[0]}? " if close else ""
            raise ArgumentError(
                name, raw.get(name), f"unknown argument; {guess}Known arguments: {', '.join(known)}"
            ) from exc
        if error["type"] == "value_error":  # our validators' own words, fix included
            message = str(error["msg"]).removeprefix("Value error, ")
        else:  # pydantic's words for a type or a bound: ours instead
            message = _FIXES.get(name, "not a valid value")
        raise ArgumentError(name, raw.get(name, error.get("input")), message) from exc
