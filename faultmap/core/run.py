"""What the facade hands a recipe besides the data: the metadata gathered so far (input
checks, scoring), one timer for every step, and how to read the LLM's call counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from faultmap.core.groups import Timer

__all__ = ["Run"]


@dataclass
class Run:
    """One analysis run. A recipe writes the report's metadata once, through :meth:`finish`.

    Example:
        >>> run = Run()
        >>> with run.timer("cluster"):
        ...     pass
        >>> sorted(run.finish({"note": "x"})["timings_s"])
        ['cluster', 'total']
    """

    metadata: dict[str, Any] = field(default_factory=dict)
    timer: Timer = field(default_factory=Timer)
    started: float = field(default_factory=time.perf_counter)
    llm_stats: Callable[[], dict[str, Any]] | None = None

    def finish(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """``metadata`` with the run's timings (each step and the total) and LLM counts."""
        metadata["timings_s"] = {
            **self.timer.timings,
            "total": round(time.perf_counter() - self.started, 4),
        }
        if self.llm_stats is not None:
            metadata["llm"] = self.llm_stats()
        return metadata
