"""The fake language model: :class:`FakeLLM` (scripted replies), :class:`FakeSleep` (the
client's clock), :class:`FakeAPIError` (a provider's HTTP error) and :func:`fake_llm_client`,
a real :class:`~faultmap.llm.LLMClient` over both. :func:`play` acts out one step of a
fake's script (here and in :class:`~faultmap.testing.FakeEmbedding`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Final

from faultmap.exceptions import ConfigurationError

if TYPE_CHECKING:
    import random

    from faultmap.llm.client import LLMClient

__all__ = [
    "HANG",
    "FakeAPIError",
    "FakeCall",
    "FakeLLM",
    "FakeSleep",
    "Messages",
    "completion_response",
    "fake_llm_client",
    "play",
]

Messages = list[dict[str, str]]


class _Hang:
    def __repr__(self) -> str:
        return "HANG"


#: A step of a fake's script that never answers (for timeout tests).
HANG: Final[Any] = _Hang()

_YIELDS = 3  # a fake call yields this often before answering, so other ready calls start


class FakeAPIError(Exception):
    """An error shaped like a provider's HTTP error (litellm / httpx): ``status_code``,
    ``response.status_code`` and ``response.headers``.

    The client retries 408, 409, 425, 429 and 5xx, honours ``Retry-After`` and gives up at once
    on other 4xx codes.

    Example:
        >>> error = FakeAPIError("Rate limit reached", 429, headers={"retry-after": "2"})
        >>> error.status_code, error.response.headers["retry-after"]
        (429, '2')
    """

    def __init__(
        self, message: str, status_code: int = 500, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.response = SimpleNamespace(status_code=status_code, headers=dict(headers or {}))


def completion_response(
    text: str, *, prompt_tokens: int = 0, completion_tokens: int | None = None
) -> Any:
    """A chat-completion response shaped like litellm's ``ModelResponse`` (attribute access).

    ``completion_tokens`` defaults to the number of words in ``text``.

    Example:
        >>> response = completion_response("Paris", prompt_tokens=12)
        >>> response.choices[0].message.content, response.usage.completion_tokens
        ('Paris', 1)
    """
    if completion_tokens is None:
        completion_tokens = len(text.split())
    return SimpleNamespace(
        choices=[SimpleNamespace(message=SimpleNamespace(content=text))],
        usage=SimpleNamespace(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
    )


def _is_exception_type(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseException)


async def play(step: Any) -> Any:
    """Act out one scripted step: hang, raise, or hand back a value."""
    if step is HANG:
        await asyncio.Event().wait()
    if isinstance(step, BaseException):
        raise step
    if _is_exception_type(step):
        raise step()
    return step


@dataclass(frozen=True)
class FakeCall:
    """One request a :class:`FakeLLM` received."""

    model: str
    messages: Messages
    kwargs: dict[str, Any]

    @property
    def prompt(self) -> str:
        """The content of the last user message (``""`` when there is none).

        Example:
            >>> FakeCall("m", [{"role": "system", "content": "s"},
            ...                {"role": "user", "content": "hi"}], {}).prompt
            'hi'
        """
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return str(message.get("content", ""))
        return ""


class FakeLLM:
    """Async stand-in for ``litellm.acompletion`` with scripted replies; records every call.

    Each call plays the next step of ``script``, then ``reply`` once the script is used up.
    A step (or what a callable ``reply`` returns for the call's messages) is

    * a ``str``: the reply text, wrapped in :func:`completion_response`;
    * an exception instance or class: raised (e.g. :class:`FakeAPIError` for HTTP errors);
    * :data:`HANG`: the call never answers, so the client's timeout fires;
    * anything else: returned as the response object (a dict or a ``ModelResponse``).

    ``calls`` keeps each request (model, messages, keyword arguments) in arrival order;
    ``max_in_flight`` is the most calls that were waiting for an answer at once.

    Example:
        >>> import asyncio
        >>> fake = FakeLLM("fine", script=[FakeAPIError("busy", 503)])
        >>> ask = lambda: fake(model="m", messages=[{"role": "user", "content": "hi"}])
        >>> asyncio.run(ask())
        Traceback (most recent call last):
        ...
        faultmap.testing.FakeAPIError: busy
        >>> asyncio.run(ask()).choices[0].message.content
        'fine'
        >>> echo = FakeLLM(lambda messages: messages[-1]["content"].upper())
        >>> asyncio.run(echo(model="m", messages=[{"role": "user", "content": "hi"}])).usage
        namespace(prompt_tokens=1, completion_tokens=1)
    """

    def __init__(
        self, reply: Any | Callable[[Messages], Any] = "ok", *, script: Iterable[Any] = ()
    ) -> None:
        self.reply = reply
        self.script = list(script)
        self.calls: list[FakeCall] = []
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def prompts(self) -> list[str]:
        """The last user message of every call, in arrival order."""
        return [call.prompt for call in self.calls]

    def _next_step(self, messages: Messages) -> Any:
        if self.script:
            return self.script.pop(0)
        if callable(self.reply) and not _is_exception_type(self.reply):
            return self.reply(messages)
        return self.reply

    async def __call__(self, *, model: str, messages: Messages, **kwargs: Any) -> Any:
        call = FakeCall(model, [dict(m) for m in messages], dict(kwargs))
        self.calls.append(call)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            for _ in range(_YIELDS):
                await asyncio.sleep(0)
            result = await play(self._next_step(call.messages))
            if isinstance(result, str):
                words = sum(len(str(m.get("content", "")).split()) for m in call.messages)
                return completion_response(result, prompt_tokens=words)
            return result
        finally:
            self.in_flight -= 1


class FakeSleep:
    """Injected clock for :class:`~faultmap.llm.LLMClient`: records back-off delays instead
    of sleeping (it only yields to the event loop).

    Example:
        >>> import asyncio
        >>> sleep = FakeSleep()
        >>> asyncio.run(sleep(1.5)); asyncio.run(sleep(0.5))
        >>> sleep.delays, sleep.now
        ([1.5, 0.5], 2.0)
    """

    def __init__(self) -> None:
        self.delays: list[float] = []

    @property
    def now(self) -> float:
        """Seconds of fake time passed: the sum of every delay."""
        return float(sum(self.delays))

    async def __call__(self, delay: float) -> None:
        self.delays.append(float(delay))
        await asyncio.sleep(0)


def fake_llm_client(
    reply: Any | Callable[[Messages], Any] = "ok",
    *,
    script: Iterable[Any] = (),
    model: str = "fake-model",
    sleep: Callable[[float], Any] | None = None,
    rng: random.Random | None = None,
    circuit_breaker: int | None = 10,
    **config: Any,
) -> LLMClient:
    """A real :class:`~faultmap.llm.LLMClient` whose transport is a :class:`FakeLLM` and whose
    clock is a :class:`FakeSleep`: nothing touches the network or sleeps.

    ``reply`` and ``script`` are :class:`FakeLLM`'s; pass a ``FakeLLM`` you keep to inspect
    its calls afterwards. ``config`` goes to :class:`~faultmap.LLMConfig` (``max_retries``,
    ``timeout``, ``max_concurrent_requests``, ...). Give the client to
    ``SliceAnalyzer(llm_client=...)`` for LLM naming or mode-3 scoring without a provider.

    Example:
        >>> client = fake_llm_client(script=[FakeAPIError("overloaded", 529)], reply="yes")
        >>> client.complete_many([[{"role": "user", "content": "ok?"}]])
        ['yes']
        >>> client.stats.retries
        1
    """
    from faultmap.config import LLMConfig
    from faultmap.llm.client import LLMClient

    if isinstance(reply, FakeLLM):
        if script:
            raise ConfigurationError(
                "The 'script' parameter of fake_llm_client must be empty when 'reply' is a "
                "FakeLLM; give the script to the FakeLLM."
            )
        fake = reply
    else:
        fake = FakeLLM(reply, script=script)
    return LLMClient(
        LLMConfig(model=model, **config),
        completion_fn=fake,
        sleep=sleep if sleep is not None else FakeSleep(),
        rng=rng,
        circuit_breaker=circuit_breaker,
    )
