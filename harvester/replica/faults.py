"""Faults the replica stages on purpose (``--faults SPEC``).

SPEC is a comma-separated list of fault names with an optional ``:target``:

- ``layout`` or ``layout:document``: document pages rename ``h1.title`` to ``h1.heading``
  (a site redesign: the parser must fail loudly, naming the page and the landmark);
- ``layout:search``: search pages rename the count line and the result cells;
- ``repeat``: every results page after the first starts with the previous page's last
  row again (a document listed twice: the harvest must export it once);
- ``aliases``: result rows link some documents by their other addresses: one in three by
  the legacy ``/document/<record id>`` (a 301 to the canonical page), one in three by the
  shortlink ``/node/<nid>`` (the page served in place, with its canonical link).

Network faults (status codes, Retry-After, drops, truncation, shifting results) are
issue #5's and will extend this plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_LAYOUT_TARGETS = ("document", "search")


class FaultSpecError(ValueError):
    """The ``--faults`` text cannot be read; the message says which part and why."""


@dataclass
class FaultPlan:
    layout: set[str] = field(default_factory=set)
    """Page kinds whose layout is changed: ``document`` and/or ``search``."""
    repeat: bool = False
    """Repeat the previous page's last row at the top of each results page."""
    aliases: bool = False
    """Link result rows by legacy and node addresses instead of the canonical slug."""

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        plan = cls()
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, target = part.partition(":")
            if name == "layout":
                target = target or "document"
                if target not in _LAYOUT_TARGETS:
                    raise FaultSpecError(
                        f"fault {part!r}: layout target must be one of {', '.join(_LAYOUT_TARGETS)}"
                    )
                plan.layout.add(target)
            elif name == "repeat" and not target:
                plan.repeat = True
            elif name == "aliases" and not target:
                plan.aliases = True
            else:
                raise FaultSpecError(f"fault {part!r}: unknown fault {name!r}; known: layout, repeat, aliases")
        return plan
