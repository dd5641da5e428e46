"""Stage 5 protocol: a slice's members -> name, description, root cause, remediation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Namer", "SliceContext", "SliceLabel"]


@dataclass(frozen=True)
class SliceContext:
    """What a namer may look at for one slice. All text is data, never instructions."""

    slice_id: int
    size: int
    failure_rate: float
    baseline_rate: float
    keywords: tuple[str, ...]
    representative_prompts: tuple[str, ...]
    failing_examples: tuple[tuple[str, str, float], ...]  # (prompt, response, score)


@dataclass(frozen=True)
class SliceLabel:
    """A namer's answer. ``source`` is "keywords" or "llm"; ``error`` says why an LLM answer
    was replaced by the keyword fallback (``None`` when nothing went wrong)."""

    name: str
    description: str
    root_cause: str = ""
    suggested_remediation: str = ""
    source: str = "keywords"
    error: str | None = None


@runtime_checkable
class Namer(Protocol):
    """Names a batch of slices; must return one label per context, in order."""

    def name(self, slices: Sequence[SliceContext]) -> list[SliceLabel]: ...
