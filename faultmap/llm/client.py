"""One LLM client for every stage that talks to a model.

* async, with a semaphore bounding concurrent requests;
* a per-call timeout and retries with exponential back-off and full jitter on timeouts,
  rate limits (429, honouring ``Retry-After``), conflicts and 5xx errors;
* the clock (``sleep``) and randomness are injectable, so tests never sleep;
* errors become :class:`~faultmap.exceptions.LLMError` with API keys redacted;
* calls, retries, failures and tokens are counted in :class:`LLMStats`;
* after ``circuit_breaker`` consecutive failed calls the provider is treated as down and the
  remaining calls fail at once (a dead endpoint costs a few timeouts, not thousands).

The default transport is ``litellm.acompletion``; tests pass litellm's ``mock_response`` in
``completion_kwargs`` or inject another async callable with the same signature.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import random
import re
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from faultmap._progress import progress_bar
from faultmap._secrets import redact as redact_values
from faultmap._secrets import register_secrets, secret_values
from faultmap.config import LLMConfig
from faultmap.exceptions import LLMError

__all__ = ["LLMClient", "LLMStats", "parse_json_object", "redact", "run_sync"]

logger = logging.getLogger("faultmap")
#: With ``show_progress=None``, a bar is shown from this many calls of one batch.
PROGRESS_FROM = 50

T = TypeVar("T")
Messages = list[dict[str, str]]

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}
_KEY_PATTERNS = [
    re.compile(r"\b(sk|pk|rk|gsk|xai|hf)[-_][A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}"),
    re.compile(
        r"(?i)((?:api[_\s-]?key|token|secret|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"
    ),
]


def redact(text: str, secrets: Any = ()) -> str:
    """Remove API keys and tokens from ``text``: every credential faultmap was given or the
    environment holds, by value (:mod:`faultmap._secrets`), any string in ``secrets``, and
    known key shapes (``sk-...``, ``Bearer ...``, ``api_key=...``).

    Example:
        >>> redact("Incorrect API key provided: sk-abcdefghijklmnop")
        'Incorrect API key provided: [REDACTED]'
    """
    text = redact_values(text, [str(s) for s in secrets])
    text = _KEY_PATTERNS[0].sub("[REDACTED]", text)
    for pattern in _KEY_PATTERNS[1:]:
        text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
    return text


def import_litellm() -> Any:
    """Import litellm without its start-up download of the remote model cost map."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from faultmap._optional import require

    litellm = require("litellm", purpose="LLM naming, API embeddings and mode-3 scoring")
    litellm.suppress_debug_info = True
    return litellm


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine made by ``factory`` to completion from synchronous code.

    Inside a running event loop (Jupyter) it runs on a fresh loop in a worker thread, so the
    caller's loop is never patched or blocked re-entrantly.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


@dataclass
class LLMStats:
    """Counts of what the client did; ends up in report metadata."""

    calls: int = 0
    succeeded: int = 0
    failed: int = 0
    retries: int = 0
    timeouts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    if code is None:
        response = getattr(exc, "response", None)
        code = getattr(response, "status_code", None)
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


def _retry_after(exc: BaseException) -> float | None:
    value = getattr(exc, "retry_after", None)
    if value is None:
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        try:
            value = headers.get("retry-after") or headers.get("Retry-After")
        except AttributeError:
            value = None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, ConnectionError)):
        return True
    code = _status_code(exc)
    return code is not None and (code in _RETRY_STATUS or code >= 500)


class LLMClient:
    """Async chat-completion client with bounded concurrency, timeouts and retries.

    Example:
        >>> from faultmap.config import LLMConfig
        >>> client = LLMClient(LLMConfig(model="gpt-4o-mini",
        ...                              completion_kwargs={"mock_response": "hi"}))
        >>> client.complete_many([[{"role": "user", "content": "hello"}]])  # doctest: +SKIP
        ['hi']
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        completion_fn: Callable[..., Awaitable[Any]] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        circuit_breaker: int | None = 10,
    ) -> None:
        self.config = config
        self._completion_fn = completion_fn
        self._sleep = sleep or asyncio.sleep
        self._rng = rng or random.Random(0)
        self.stats = LLMStats()
        self._lock = threading.Lock()
        self._consecutive_failures = 0
        self._last_error = ""
        self.circuit_breaker = circuit_breaker
        register_secrets(config.completion_kwargs)

    def _secrets(self) -> list[str]:
        return sorted(secret_values(self.config.completion_kwargs))

    def _transport(self) -> Callable[..., Awaitable[Any]]:
        if self._completion_fn is None:
            self._completion_fn = import_litellm().acompletion
        return self._completion_fn

    def _count(self, **increments: int) -> None:
        with self._lock:
            for key, value in increments.items():
                setattr(self.stats, key, getattr(self.stats, key) + value)

    def _backoff(self, attempt: int, exc: BaseException) -> float:
        hinted = _retry_after(exc)
        if hinted is not None:
            return min(hinted, self.config.backoff_max)
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2**attempt)
        return self._rng.uniform(0, ceiling)

    async def acall(self, make_call: Callable[[], Awaitable[T]]) -> T:
        """Await ``make_call()`` under the timeout, retrying transient errors.

        Raises :class:`LLMError` (API keys redacted) when every attempt has failed.
        """
        cfg = self.config
        if self.circuit_breaker and self._consecutive_failures >= self.circuit_breaker:
            self._count(failed=1)
            raise LLMError(
                f"Skipped: the last {self._consecutive_failures} calls to {cfg.model!r} all "
                f"failed, so the provider is treated as down. Last error: {self._last_error}"
            )
        last: BaseException | None = None
        for attempt in range(cfg.max_retries + 1):
            self._count(calls=1)
            try:
                result = await asyncio.wait_for(make_call(), timeout=cfg.timeout)
            except Exception as exc:
                last = exc
                if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
                    self._count(timeouts=1)
                if attempt < cfg.max_retries and _is_retryable(exc):
                    delay = self._backoff(attempt, exc)
                    self._count(retries=1)
                    logger.debug(
                        "LLM call failed (%s); retry %d in %.2fs",
                        type(exc).__name__,
                        attempt + 1,
                        delay,
                    )
                    await self._sleep(delay)
                    continue
                break
            else:
                self._count(succeeded=1, **_usage(result))
                with self._lock:
                    self._consecutive_failures = 0
                return result
        self._count(failed=1)
        assert last is not None
        timed_out = isinstance(last, (asyncio.TimeoutError, TimeoutError))
        detail = f"no answer within {cfg.timeout:g}s" if timed_out else str(last)
        message = redact(
            f"LLM call to {cfg.model!r} failed ({type(last).__name__}): {detail}",
            self._secrets(),
        )
        with self._lock:
            self._consecutive_failures += 1
            self._last_error = message
        raise LLMError(message) from None

    async def acomplete(self, messages: Messages, **overrides: Any) -> str:
        """Return the text of one chat completion, retrying transient errors."""
        kwargs = {
            "temperature": self.config.temperature,
            **self.config.completion_kwargs,
            **overrides,
        }
        transport = self._transport()
        response = await self.acall(
            lambda: transport(model=self.config.model, messages=messages, **kwargs)
        )
        try:
            return _message_text(response)
        except ValueError as exc:
            self._count(failed=1, succeeded=-1)
            raise LLMError(f"LLM reply from {self.config.model!r} unusable: {exc}") from None

    async def acomplete_many(
        self, batch: Sequence[Messages], **overrides: Any
    ) -> list[str | LLMError]:
        """Run many completions with at most ``max_concurrent_requests`` in flight.

        Failures are returned in place as :class:`LLMError`, so one bad call loses nothing else.
        Batches of 100 calls or more log their progress every 10 %; a progress bar shows
        per ``config.show_progress`` (None: from 50 calls, in a notebook or a terminal).
        """
        semaphore = asyncio.Semaphore(self.config.max_concurrent_requests)
        total, done = len(batch), 0
        bar = progress_bar(
            total, "LLM calls", show=self.config.show_progress, minimum=PROGRESS_FROM
        )
        every = max(1, total // 10) if total >= 100 else 0

        async def one(messages: Messages) -> str | LLMError:
            nonlocal done
            async with semaphore:
                try:
                    return await self.acomplete(messages, **overrides)
                except LLMError as exc:
                    return exc
                finally:
                    done += 1
                    bar.update(1)
                    if every and (done % every == 0 or done == total):
                        logger.info(
                            "LLM calls: %d/%d done (%d failed so far)",
                            done,
                            total,
                            self.stats.failed,
                        )

        with bar:
            return list(await asyncio.gather(*(one(m) for m in batch)))

    def complete_many(self, batch: Sequence[Messages], **overrides: Any) -> list[str | LLMError]:
        """Synchronous :meth:`acomplete_many`; safe inside Jupyter's running loop."""
        return run_sync(lambda: self.acomplete_many(batch, **overrides))


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _usage(response: Any) -> dict[str, int]:
    usage = _field(response, "usage")
    if usage is None:
        return {}
    counts = {}
    for key in ("prompt_tokens", "completion_tokens"):
        try:
            counts[key] = int(_field(usage, key) or 0)
        except (TypeError, ValueError):
            counts[key] = 0
    return counts


def _message_text(response: Any) -> str:
    try:
        choice = response.choices[0] if hasattr(response, "choices") else response["choices"][0]
        message = choice.message if hasattr(choice, "message") else choice["message"]
        content = message.content if hasattr(message, "content") else message["content"]
    except (AttributeError, IndexError, KeyError, TypeError) as exc:
        raise ValueError(f"unexpected completion response shape ({exc})") from exc
    if not isinstance(content, str):
        raise ValueError("completion response has no text content")
    return content


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_OBJECT_START = re.compile(r"\{(?=\s*[\"}])")  # '{' that can open a JSON object
_MAX_STARTS = 200


def parse_json_object(text: str) -> dict[str, Any]:
    """Parse the first JSON object in an LLM reply (code fences and prose around it allowed).

    Raises ``ValueError`` when there is none.

    Example:
        >>> parse_json_object('Sure!\\n```json\\n{"name": "Dates"}\\n```')
        {'name': 'Dates'}
    """
    text = text[:100_000]  # a reply this long is not a naming answer; bound the work
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for n, match in enumerate(_OBJECT_START.finditer(candidate)):
            if n >= _MAX_STARTS:
                break
            try:
                obj, _ = decoder.raw_decode(candidate, match.start())
            except (json.JSONDecodeError, RecursionError):
                continue
            if isinstance(obj, dict):
                return obj
    raise ValueError("the reply contains no JSON object")
