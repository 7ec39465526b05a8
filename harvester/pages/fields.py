"""Page fields in web-poet's ``@field`` style, without web-poet.

A page class marks each output field with :func:`field`; the field is read on first access
and kept (web-poet's ``@field(cached=True)``), and :func:`field_names` lists the fields of a
class from the decorated members themselves: there is no list of names to keep in step.

>>> class Page:
...     @field
...     def title(self) -> str:
...         return "A title"
...     @field
...     def year(self) -> int:
...         return 1962
...     def helper(self) -> None: ...
>>> field_names(Page), Page().title
(('title', 'year'), 'A title')
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

__all__ = ["Field", "field", "field_names"]

_T = TypeVar("_T")


class Field(cached_property[_T]):
    """A page field: a property computed once per page object."""


def field(method: Callable[[Any], _T]) -> Field[_T]:
    """Mark a page method as an output field (used as a decorator)."""
    return Field(method)


def field_names(cls: type) -> tuple[str, ...]:
    """The fields of a page class (base classes' first), in the order they are defined.

    A field overridden by a plain attribute or method in a subclass is no longer a field.
    """
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Field):
                names[name] = None
            else:
                names.pop(name, None)
    return tuple(names)
