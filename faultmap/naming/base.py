"""Stage 5 protocol: a slice's members -> name, description, root cause, remediation.

One protocol names three kinds of group (``SliceContext.kind``): "failure" (a slice that
fails more than the rest), "coverage_gap" (production prompts where the test suite is
under-represented) and "comparison" (prompts on which two models differ).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["KINDS", "Namer", "SliceContext", "SliceLabel"]

#: What a group of prompts is, for the namer's wording.
KINDS = ("failure", "coverage_gap", "comparison")


@dataclass(frozen=True)
class SliceContext:
    """What a namer may look at for one slice. All text is data, never instructions.

    ``failure_rate`` and ``baseline_rate`` describe "failure" slices. Other kinds put their
    numbers in ``statistics`` (name -> value pairs, e.g. the mean distance of a coverage gap
    to the test set, or each model's failure rate in a comparison slice); for "comparison"
    slices ``failing_examples`` are prompts the losing model failed and the winner passed,
    and ``model_names`` names models A and B. ``counter_examples`` are prompts that are not
    in the slice but look like its members; when given, the name should exclude them (set
    when a name that did not discriminate is asked for again, see
    :mod:`faultmap.analyses.name_check`).
    """

    slice_id: int
    size: int
    failure_rate: float = 0.0
    baseline_rate: float = 0.0
    keywords: tuple[str, ...] = ()
    representative_prompts: tuple[str, ...] = ()
    failing_examples: tuple[tuple[str, str, float], ...] = ()  # (prompt, response, score)
    kind: str = "failure"
    statistics: tuple[tuple[str, float], ...] = ()
    model_names: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()


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
