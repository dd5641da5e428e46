"""Small, frozen settings objects for grouped options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faultmap._validation import BOOL, Interval, NonEmptyStr, check_param

__all__ = ["LLMConfig"]


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """How faultmap talks to a language model through litellm.

    Example:
        >>> LLMConfig(model="gpt-4o-mini", timeout=20.0, max_retries=2).model
        'gpt-4o-mini'
    """

    model: str
    timeout: float = 30.0
    max_retries: int = 3
    max_concurrent_requests: int = 50
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    temperature: float = 0.0
    completion_kwargs: dict[str, Any] = field(default_factory=dict)
    #: A progress bar over batches of calls (see ``SliceAnalyzer(show_progress=...)``):
    #: None shows one from 50 calls in a notebook or a terminal.
    show_progress: bool | None = None

    def __post_init__(self) -> None:
        owner = "LLMConfig"
        check_param(owner, "model", self.model, NonEmptyStr())
        check_param(owner, "timeout", self.timeout, Interval(float, 0, None, "neither"))
        check_param(owner, "max_retries", self.max_retries, Interval(int, 0, None))
        check_param(
            owner, "max_concurrent_requests", self.max_concurrent_requests, Interval(int, 1, None)
        )
        check_param(owner, "backoff_base", self.backoff_base, Interval(float, 0, None))
        check_param(owner, "backoff_max", self.backoff_max, Interval(float, 0, None))
        check_param(owner, "temperature", self.temperature, Interval(float, 0, None))
        check_param(owner, "show_progress", self.show_progress, BOOL, None)
