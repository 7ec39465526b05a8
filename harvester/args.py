"""Spider arguments: one pydantic model, validated once when the spider is built.

A mistyped argument in a scheduled job must fail, not fall back to a default: unknown
names are refused, and every message names the argument and the fix.
"""

from __future__ import annotations

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

    @field_validator("start_url")
    @classmethod
    def _check_start_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL of a results page")
        if parts.path.rstrip("/") != "/search":
            raise ValueError(f"must be a results page (/search?...), not {parts.path!r}")
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
        return self


_FIXES = {
    "max_pages": "Give a whole number of pages, 1 or more (or leave it out for every page)",
    "details": "Give true or false",
    "job": "Give a name of letters, digits, '.', '_' or '-' (at most 64), e.g. nightly",
    "full": "Give true or false",
    "plan": "Give true or false",
    "start_url": "Give a results URL such as https://digitalarchive.wilsoncenter.org/search?search_api_fulltext=Korea",
}


def parse_args(raw: dict[str, Any]) -> ArchiveArgs:
    """Validate ``-a`` arguments; raise :class:`ArgumentError` naming the first bad one."""
    try:
        return ArchiveArgs.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(p) for p in error["loc"]) or "query/start_url"
        if error["type"] == "extra_forbidden":
            known = ", ".join(ArchiveArgs.model_fields)
            raise ArgumentError(name, raw.get(name), f"unknown argument; known arguments: {known}") from exc
        fix = _FIXES.get(name, "")
        message = error["msg"].removeprefix("Value error, ")
        raise ArgumentError(name, raw.get(name, error.get("input")), f"{message}. {fix}".strip()) from exc
