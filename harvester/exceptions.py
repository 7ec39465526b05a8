"""Named errors. Each carries the offending value so a log line says what went wrong, where."""

from __future__ import annotations

from typing import Any


class HarvesterError(Exception):
    """Base of every error the harvester raises on purpose."""


class ArgumentError(HarvesterError, ValueError):
    """A spider argument or setting is wrong. The message names it and the fix."""

    def __init__(self, name: str, value: object, fix: str) -> None:
        self.name = name
        self.value = value
        self.fix = fix
        super().__init__(f"argument {name}={value!r}: {fix}")


class PageError(HarvesterError):
    """Something is wrong with one fetched page."""

    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        self.detail = detail
        super().__init__(f"{url}: {detail}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as it is (a page read in the page worker raises it in the crawl's process),
        whatever the arguments of its class's ``__init__``."""
        return _restore, (type(self), self.args, self.__dict__)


def _restore(cls: type[PageError], args: tuple[Any, ...], state: dict[str, Any]) -> PageError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class IncompleteResponse(PageError):
    """The body is truncated or empty: the same request may succeed when retried."""


class LayoutChanged(PageError):
    """A well-formed page lacks a landmark the parser relies on: the site's layout changed.

    Retrying will not help; the run must fail loudly so someone updates the selectors.
    """

    def __init__(self, url: str, landmark: str) -> None:
        self.landmark = landmark
        super().__init__(url, f"layout changed: missing landmark {landmark}")


class BlockedPage(PageError):
    """The site answered with a challenge or block page (Cloudflare) instead of content."""


class PageTooDeep(LayoutChanged):
    """A page nests its elements deeper than the HTML parser can read, even flattened.

    Read any further, its fields would be empty without saying so; the run fails instead.
    """

    def __init__(self, url: str, limit: int) -> None:
        self.landmark = f"elements nested within {limit} levels"
        self.limit = limit
        PageError.__init__(self, url, f"elements nested deeper than the HTML parser's limit ({limit} levels)")
