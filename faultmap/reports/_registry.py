"""Which function draws which view of which result.

The result models (:mod:`faultmap.reports.models`) import no view: a view module registers
its functions here for the result classes it draws, and a model's ``__str__``, ``summary``,
``_repr_html_``, ``to_html``, ``plot`` and ``print`` ask :func:`find` for theirs. Importing
:mod:`faultmap.reports` imports every view module, so the views are registered whenever a
result exists. This module imports nothing from faultmap.

Example:
    >>> class Result: ...
    >>> @register("text", Result)
    ... def result_text(result):
    ...     return "a result"
    >>> find(Result(), "text")(Result())
    'a result'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["KINDS", "find", "register"]

#: The views a result can have: plain text (``str``), the one-paragraph ``summary()``, the
#: compact HTML Jupyter shows, the self-contained HTML page, the rich console view and the
#: plotly figures.
KINDS = ("text", "summary", "html_compact", "html_page", "rich", "plot")

F = TypeVar("F", bound=Callable[..., Any])

_VIEWS: dict[tuple[type, str], Callable[..., Any]] = {}


def register(kind: str, *classes: type) -> Callable[[F], F]:
    """Decorator: the function draws the view ``kind`` of every class in ``classes`` (and
    of their subclasses, unless one registers its own)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown view kind {kind!r}; the kinds are {', '.join(KINDS)}.")

    def add(function: F) -> F:
        for cls in classes:
            _VIEWS[(cls, kind)] = function
        return function

    return add


def find(result: object, kind: str) -> Callable[..., Any]:
    """The function registered for the view ``kind`` of ``result``'s class, or of the
    nearest base class that has one."""
    for cls in type(result).__mro__:
        function = _VIEWS.get((cls, kind))
        if function is not None:
            return function
    raise NotImplementedError(
        f"No {kind!r} view is registered for {type(result).__name__}; the views register "
        "themselves when faultmap.reports is imported."
    )
