"""Faults the replica stages on purpose (``--faults SPEC``).

SPEC is a comma-separated list of fault names with an optional ``:target``:

- ``layout`` or ``layout:document``: document pages rename ``h1.title`` to ``h1.heading``
  (a site redesign: the parser must fail loudly, naming the page and the landmark);
- ``layout:search``: search pages rename the count line and the result cells;
- ``repeat``: every results page after the first starts with the previous page's last
  row again (a document listed twice: the harvest must export it once).

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
            else:
                raise FaultSpecError(f"fault {part!r}: unknown fault {name!r}; known: layout, repeat")
        return plan
