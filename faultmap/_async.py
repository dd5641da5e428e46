"""Async twins of blocking methods, without touching the caller's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

__all__ = ["in_worker_thread"]

P = ParamSpec("P")
R = TypeVar("R")


def in_worker_thread(
    method: Callable[Concatenate[Any, P], R],
) -> Callable[Concatenate[Any, P], Awaitable[R]]:
    """The async twin of ``method`` (named ``a<name>``): same arguments, run in a worker
    thread (no event-loop patching; safe inside Jupyter's running loop).

    Example:
        >>> class Job:
        ...     def run(self, x):
        ...         return x + 1
        ...     arun = in_worker_thread(run)
        >>> asyncio.run(Job().arun(1))
        2
    """

    async def twin(self: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(method, self, *args, **kwargs)

    twin.__name__ = twin.__qualname__ = f"a{method.__name__}"
    twin.__doc__ = (
        f"Async twin of :meth:`{method.__name__}` (same arguments); runs in a worker thread."
        "\n\n        Example:\n            >>> report = await analyzer."
        f"a{method.__name__}(...)  # doctest: +SKIP\n        "
    )
    return twin
