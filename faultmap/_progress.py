"""Progress bars for long steps: a Jupyter widget bar where ipywidgets is installed, a plain
text bar otherwise (in a notebook without ipywidgets too, so tqdm's "IProgress not found"
warning never shows), none when nobody watches.

``show`` follows one rule everywhere (the ``show_progress`` setting): ``True`` always shows a
bar, ``False`` never, ``None`` (the default) shows one for work of at least ``minimum``
items when someone watches: in a Jupyter kernel or when stderr is a terminal. Logs and CI
get log lines instead (the callers log their progress). Nothing is changed process-wide: no
warning filter, no handler. tqdm is imported when a bar is made.

Example:
    >>> with progress_bar(3, "Embedding", show=False) as bar:
    ...     bar.update(3)
"""

from __future__ import annotations

import importlib.util
import sys
from types import TracebackType
from typing import Any

__all__ = ["in_notebook", "progress_bar", "wants_progress"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's kernel shell), without importing IPython."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _stderr_is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


def wants_progress(show: bool | None, total: int, minimum: int) -> bool:
    """Whether to show a bar for ``total`` items (see the module docstring for the rule).

    Example:
        >>> wants_progress(True, 5, 1000), wants_progress(None, 5, 1000)
        (True, False)
    """
    if total <= 0 or show is False:
        return False
    if show:
        return True
    return total >= minimum and (in_notebook() or _stderr_is_terminal())


class _NoBar:
    """Stands in for a bar that is not shown."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass


def _bar_class() -> Any:
    """tqdm's Jupyter bar in a kernel with ipywidgets, else its text bar."""
    if in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm

        return tqdm
    from tqdm.std import tqdm

    return tqdm


def progress_bar(total: int, desc: str, *, show: bool | None, minimum: int = 1) -> Any:
    """A bar over ``total`` items with ``update(n)``, ``close()`` and ``with`` support, or a
    stand-in that shows nothing (see :func:`wants_progress`).

    Example:
        >>> bar = progress_bar(10, "LLM calls", show=None, minimum=100)
        >>> bar.update(10); bar.close()
    """
    if not wants_progress(show, total, minimum):
        return _NoBar()
    return _bar_class()(total=total, desc=desc, unit="it", leave=True, dynamic_ncols=True)
