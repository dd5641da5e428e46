"""Test doubles and synthetic data shipped with faultmap: what users and tests share.

Code that uses faultmap can be tested without a network, an API key, a model download or
real data:

* :class:`FakeLLM` is an async completion function with scripted replies. Given to
  :class:`~faultmap.llm.LLMClient` (or built into one by :func:`fake_llm_client`), the real
  client code runs against it: timeouts, retries, the concurrency limit, the statistics.
  Only the transport is replaced, so the path to a real provider stays the one in use.
* :class:`FakeSleep` is the client's clock: back-off delays are recorded, never slept.
* :class:`FakeEmbedding` stands in for ``litellm.aembedding`` (for
  :class:`~faultmap.embedding.LiteLLMEmbedder`); :class:`FakeEmbedder` is a tiny local
  embedder whose vectors follow the words of each text.
* :func:`planted_vectors`, :func:`planted_prompts` and :func:`planted_failures` make data
  with failing groups you choose, the same for the same seed.

Only numpy is imported here, and ``import faultmap`` does not import this module; use
``import faultmap.testing``.

Example:
    >>> from faultmap.testing import FakeLLM, fake_llm_client
    >>> fake = FakeLLM('{"name": "Dates"}')
    >>> client = fake_llm_client(fake)
    >>> client.complete_many([[{"role": "user", "content": "name this group"}]])
    ['{"name": "Dates"}']
    >>> fake.prompts
    ['name this group']
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from faultmap._validation import Interval, IsInstance, Options, check_param
from faultmap.exceptions import ConfigurationError

if TYPE_CHECKING:
    import random

    from faultmap.llm.client import LLMClient

__all__ = [
    "HANG",
    "PROMPT_TOPICS",
    "EmbeddingCall",
    "FakeAPIError",
    "FakeCall",
    "FakeEmbedder",
    "FakeEmbedding",
    "FakeLLM",
    "FakeSleep",
    "PlantedData",
    "completion_response",
    "fake_llm_client",
    "planted_failures",
    "planted_prompts",
    "planted_vectors",
]

Messages = list[dict[str, str]]

# -- fake language model ------------------------------------------------------------------


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


async def _play(step: Any) -> Any:
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
            result = await _play(self._next_step(call.messages))
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


# -- fake embeddings ----------------------------------------------------------------------

_WORD = re.compile(r"\w+")


@functools.lru_cache(maxsize=16_384)
def _hashed(token: str, dim: int) -> np.ndarray:
    """A fixed pseudo-random vector for ``token`` (the same in every process)."""
    seed = int.from_bytes(
        hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()[:8], "little"
    )
    out = np.random.default_rng(seed).standard_normal(dim)
    out.flags.writeable = False
    return out


def _text_vector(text: str, dim: int) -> np.ndarray:
    """Sum of the hashed vectors of the text's words plus a little of the whole text's."""
    words = _WORD.findall(text.lower())
    out = 0.25 * _hashed("\x00" + text, dim)
    for word in words:
        out = out + _hashed(word, dim)
    return out


@dataclass(frozen=True)
class EmbeddingCall:
    """One request a :class:`FakeEmbedding` received."""

    model: str
    input: list[str]
    kwargs: dict[str, Any]


class FakeEmbedding:
    """Async stand-in for ``litellm.aembedding``, for
    ``LiteLLMEmbedder(embedding_fn=FakeEmbedding())``.

    Each text gets :meth:`vector` (not normalised, as providers send them). Answers list the
    vectors in reverse order with their ``index`` (providers do not promise order), as dicts
    (``shape="dict"``) or objects (``shape="object"``); ``drop_last=True`` leaves one out.
    Each call plays the next step of ``script`` first: an exception to raise, :data:`HANG`,
    or ``None`` for a normal answer.

    Example:
        >>> from faultmap.embedding import LiteLLMEmbedder
        >>> fake = FakeEmbedding(dim=4, script=[FakeAPIError("Invalid input", 400)])
        >>> LiteLLMEmbedder("fake-embed", embedding_fn=fake).embed(["hi"])
        Traceback (most recent call last):
        ...
        faultmap.exceptions.EmbeddingError: Embedding with 'fake-embed' failed: ...
        >>> LiteLLMEmbedder("fake-embed", embedding_fn=fake).embed(["hi", "there"]).shape
        (2, 4)
        >>> [call.input for call in fake.calls]
        [['hi'], ['hi', 'there']]
    """

    def __init__(
        self,
        dim: int = 8,
        *,
        script: Iterable[Any] = (),
        shape: str = "dict",
        drop_last: bool = False,
    ) -> None:
        check_param("FakeEmbedding", "dim", dim, Interval(int, 1, None))
        check_param("FakeEmbedding", "shape", shape, Options(("dict", "object")))
        self.dim = dim
        self.script = list(script)
        self.shape = shape
        self.drop_last = drop_last
        self.calls: list[EmbeddingCall] = []

    def vector(self, text: str) -> np.ndarray:
        """The raw vector this fake sends for ``text`` (float64, not unit length)."""
        return _text_vector(text, self.dim)

    async def __call__(self, *, model: str, input: list[str], **kwargs: Any) -> Any:
        self.calls.append(EmbeddingCall(model, list(input), dict(kwargs)))
        await asyncio.sleep(0)
        if self.script:
            await _play(self.script.pop(0))
        items = [(i, self.vector(t).tolist()) for i, t in enumerate(input)]
        if self.drop_last:
            items = items[:-1]
        items.reverse()
        if self.shape == "dict":
            return {"data": [{"index": i, "embedding": v, "object": "embedding"} for i, v in items]}
        return SimpleNamespace(data=[SimpleNamespace(index=i, embedding=v) for i, v in items])


class FakeEmbedder:
    """A small local embedder with no model: a hashed bag of words, unit rows, float32.

    Texts that share words get similar vectors, so prompts of one topic cluster together; the
    same text always gets the same vector, in every process. ``calls`` keeps the texts of each
    :meth:`embed` call (``n_embedded`` counts them), e.g. to check an embedding cache.

    Example:
        >>> emb = FakeEmbedder(dim=16)
        >>> v = emb.embed(["tax refund form", "tax refund deadline", "chocolate cake"])
        >>> v.shape, v.dtype.name
        ((3, 16), 'float32')
        >>> bool(v[0] @ v[1] > v[0] @ v[2])
        True
        >>> emb.n_embedded
        3
    """

    def __init__(self, dim: int = 32) -> None:
        check_param("FakeEmbedder", "dim", dim, Interval(int, 1, None))
        self.dim = dim
        self.calls: list[list[str]] = []

    @property
    def identity(self) -> str:
        return f"fake-bag-of-words:dim={self.dim}"

    @property
    def n_embedded(self) -> int:
        """How many texts were embedded, over all calls."""
        return sum(len(texts) for texts in self.calls)

    def vector(self, text: str) -> np.ndarray:
        """The vector of ``text`` before normalisation (float64)."""
        return _text_vector(text, self.dim)

    def embed(self, texts: Sequence[str], *, role: str = "query") -> np.ndarray:
        texts = list(texts)
        self.calls.append(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = np.stack([self.vector(t) for t in texts])
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


# -- planted-slice data -------------------------------------------------------------------

# Built-in topics: templates x two lists of fillers, 4 x 8 x 8 = 256 distinct prompts each.
_TOPIC_TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "dates": (
        (
            "What was the date {a} days before {b}?",
            "If today is {b}, what day will it be in {a} days?",
            "Which weekday falls {a} days after {b}?",
            "How many days is it from {b} to a date {a} days later on the calendar?",
        ),
        ("three", "five", "seven", "ten", "twelve", "twenty", "thirty", "forty"),
        (
            "New Year's Day",
            "Christmas",
            "March 3rd",
            "the first of June",
            "Halloween",
            "Independence Day",
            "May 9th",
            "the last day of February",
        ),
    ),
    "translation": (
        (
            "Translate '{a}' into {b}.",
            "How do you say '{a}' in {b}?",
            "What is the {b} translation of '{a}'?",
            "Please render the sentence '{a}' in {b}.",
        ),
        (
            "good morning",
            "where is the train station",
            "I would like a coffee",
            "the weather is nice today",
            "thank you very much",
            "my name is Anna",
            "how much does this cost",
            "see you tomorrow",
        ),
        ("French", "German", "Spanish", "Italian", "Portuguese", "Dutch", "Japanese", "Polish"),
    ),
    "baking": (
        (
            "How long should I bake a {a} at {b} degrees?",
            "What can I use instead of eggs in a {a} baked at {b} degrees?",
            "Why did my {a} sink in the middle after baking at {b} degrees?",
            "Give me a recipe for a {a} that bakes at {b} degrees.",
        ),
        (
            "chocolate cake",
            "banana bread",
            "sourdough loaf",
            "lemon tart",
            "batch of cookies",
            "carrot cake",
            "apple pie",
            "cheesecake",
        ),
        ("160", "170", "175", "180", "190", "200", "210", "220"),
    ),
    "taxes": (
        (
            "Can I deduct {a} on my {b} tax return?",
            "When is the deadline to file my {b} taxes if I claim {a}?",
            "How do I report {a} on my {b} income tax return?",
            "Is {a} taxable income on my {b} tax return?",
        ),
        (
            "home office costs",
            "student loan interest",
            "charitable donations",
            "medical expenses",
            "rental property income",
            "freelance income",
            "capital gains",
            "childcare costs",
        ),
        ("2019", "2020", "2021", "2022", "2023", "2024", "state", "federal"),
    ),
    "travel": (
        (
            "Can I bring {a} in my carry-on on a flight to {b}?",
            "How early should I arrive at the airport for a flight to {b} with {a}?",
            "My flight to {b} was cancelled; can I get a refund for {a}?",
            "What is the airline baggage allowance for {a} on flights to {b}?",
        ),
        (
            "a laptop",
            "two suitcases",
            "a guitar",
            "liquids",
            "a stroller",
            "ski equipment",
            "a pet cat",
            "duty-free alcohol",
        ),
        ("London", "Tokyo", "New York", "Sydney", "Paris", "Toronto", "Dubai", "Berlin"),
    ),
    "programming": (
        (
            "How do I {a} in {b}?",
            "Why does my {b} code crash when I try to {a}?",
            "Write a {b} function to {a}.",
            "What is the fastest way to {a} in {b}?",
        ),
        (
            "reverse a linked list",
            "read a CSV file",
            "sort a dictionary by value",
            "parse JSON",
            "remove duplicates from a list",
            "open a network socket",
            "handle exceptions",
            "merge two arrays",
        ),
        ("Python", "JavaScript", "Rust", "Java", "Go", "C++", "Ruby", "TypeScript"),
    ),
}

#: Names of the built-in topics of :func:`planted_prompts`, in their default order.
PROMPT_TOPICS: Final[tuple[str, ...]] = tuple(_TOPIC_TEMPLATES)


def _topic_pool(topic: str) -> list[str]:
    templates, first, second = _TOPIC_TEMPLATES[topic]
    return [t.format(a=a, b=b) for t in templates for a in first for b in second]


@dataclass(frozen=True, eq=False)
class PlantedData:
    """Synthetic rows with known failing groups.

    ``groups`` holds each row's group (ints from :func:`planted_vectors`, topic names from
    :func:`planted_prompts`); ``failed`` which rows fail; ``vectors`` unit rows, one direction
    per group; ``failing`` the planted rates and ``baseline`` the rate of every other group.

    Example:
        >>> data = planted_vectors(40, 2, failing={1: 0.5}, seed=0)
        >>> len(data), data.rate(0), data.rate(1), data.observed_rates()
        (40, 0.05, 0.5, {0: 0.05, 1: 0.5})
    """

    prompts: list[str]
    vectors: np.ndarray
    groups: np.ndarray
    failed: np.ndarray
    failing: dict[Any, float]
    baseline: float

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def scores(self) -> np.ndarray:
        """Scores in [0, 1]: 0.0 for failed rows, 1.0 for the others."""
        return np.where(self.failed, 0.0, 1.0)

    @property
    def group_names(self) -> list[Any]:
        """Every group once, in order of first appearance."""
        _, first = np.unique(self.groups, return_index=True)
        return self.groups[np.sort(first)].tolist()

    def rate(self, group: Any) -> float:
        """The planted failure rate of ``group``."""
        return float(self.failing.get(group, self.baseline))

    def observed_rates(self) -> dict[Any, float]:
        """The share of failed rows in each group."""
        return {g: float(self.failed[self.groups == g].mean()) for g in self.group_names}


def _check_rates(owner: str, failing: Any, baseline: Any) -> dict[Any, float]:
    check_param(owner, "baseline", baseline, Interval(float, 0, 1))
    if failing is None:
        return {}
    if not isinstance(failing, Mapping):
        raise ConfigurationError(
            f"The 'failing' parameter of {owner} must be None or a mapping of group to "
            f"failure rate in [0, 1]. Got {failing!r}."
        )
    for group, rate in failing.items():
        check_param(owner, f"failing[{group!r}]", rate, Interval(float, 0, 1))
    return {k: float(v) for k, v in failing.items()}


def _draw_failures(
    owner: str,
    groups: np.ndarray,
    failing: dict[Any, float],
    baseline: float,
    exact: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    _, first = np.unique(groups, return_index=True)
    names = groups[np.sort(first)].tolist()
    unknown = [g for g in failing if g not in set(names)]
    if unknown:
        raise ConfigurationError(
            f"The 'failing' parameter of {owner} must name groups of the data "
            f"({names[:10]!r}). Got {unknown[0]!r}."
        )
    failed = np.zeros(len(groups), dtype=bool)
    for name in names:
        rows = np.flatnonzero(groups == name)
        rate = failing.get(name, baseline)
        if exact:
            k = min(len(rows), math.floor(rate * len(rows) + 0.5))
            failed[rng.choice(rows, size=k, replace=False)] = True
        else:
            failed[rows] = rng.random(len(rows)) < rate
    return failed


def planted_failures(
    groups: Sequence[Any] | np.ndarray,
    failing: Mapping[Any, float] | None = None,
    *,
    baseline: float = 0.05,
    exact: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """Failure flags for rows with the given group labels: each group in ``failing`` fails at
    its rate, every other group at ``baseline``.

    ``exact=True`` fails exactly ``round(rate * size)`` rows of each group (which rows is
    random); ``exact=False`` draws each row on its own (Bernoulli), as real failures are.
    The same seed gives the same flags.

    Example:
        >>> flags = planted_failures(["a"] * 10 + ["b"] * 10, {"b": 0.5}, baseline=0.1)
        >>> int(flags[:10].sum()), int(flags[10:].sum())
        (1, 5)
    """
    owner = "planted_failures"
    rates = _check_rates(owner, failing, baseline)
    check_param(owner, "seed", seed, Interval(int, 0, None))
    labels = np.asarray(groups)
    if labels.ndim != 1:
        raise ConfigurationError(
            f"The 'groups' parameter of {owner} must be one label per row (1-d). "
            f"Got shape {labels.shape}."
        )
    return _draw_failures(owner, labels, rates, baseline, exact, np.random.default_rng(seed))


def _sizes(owner: str, n: Any, n_groups: int | None, default_groups: int) -> list[int]:
    if isinstance(n, Sequence) and not isinstance(n, str):
        sizes = list(n)
        for i, size in enumerate(sizes):
            check_param(owner, f"n[{i}]", size, Interval(int, 0, None))
        if not sizes or sum(sizes) < 1 or (n_groups is not None and n_groups != len(sizes)):
            raise ConfigurationError(
                f"The 'n' parameter of {owner} must be an int or one size per group with at "
                f"least one row in all. Got {n!r}."
            )
        return [int(s) for s in sizes]
    k = default_groups if n_groups is None else n_groups
    check_param(owner, "n_groups", k, Interval(int, 1, None))
    check_param(owner, "n", n, Interval(int, k, None))
    return [n // k + (1 if g < n % k else 0) for g in range(k)]


def _plant(
    owner: str,
    sizes: list[int],
    labels: list[Any],
    pools: list[list[str]] | None,
    *,
    dim: int,
    noise: float,
    failing: dict[Any, float],
    baseline: float,
    exact: bool,
    shuffle: bool,
    seed: int,
) -> PlantedData:
    check_param(owner, "dim", dim, Interval(int, max(1, len(sizes)), None))
    check_param(owner, "noise", noise, Interval(float, 0, None))
    check_param(owner, "exact", exact, IsInstance((bool,), "a bool"))
    check_param(owner, "shuffle", shuffle, IsInstance((bool,), "a bool"))
    check_param(owner, "seed", seed, Interval(int, 0, None))
    # Independent streams: changing the rates does not move the vectors or the prompts.
    vec_rng, fail_rng, text_rng, order_rng = map(
        np.random.default_rng, np.random.SeedSequence(seed).spawn(4)
    )
    codes = np.repeat(np.arange(len(sizes)), sizes)
    groups = np.asarray(labels)[codes]
    n = len(codes)
    vectors = np.eye(dim)[codes] + vec_rng.normal(0.0, noise, (n, dim))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    failed = _draw_failures(owner, groups, failing, baseline, exact, fail_rng)
    prompts: list[str] = []
    for g, size in enumerate(sizes):
        if pools is None:
            prompts += [f"prompt {j} of group {labels[g]}" for j in range(size)]
            continue
        pool = pools[g]
        order = text_rng.permutation(len(pool))
        for j in range(size):
            text = pool[order[j % len(pool)]]
            prompts.append(text if j < len(pool) else f"{text} (variant {j // len(pool) + 1})")
    if shuffle:
        perm = order_rng.permutation(n)
        prompts = [prompts[i] for i in perm]
        vectors, groups, failed = vectors[perm], groups[perm], failed[perm]
    return PlantedData(prompts, vectors, groups, failed, dict(failing), float(baseline))


def planted_vectors(
    n: int | Sequence[int] = 300,
    n_groups: int | None = None,
    dim: int = 16,
    *,
    failing: Mapping[int, float] | None = None,
    baseline: float = 0.05,
    noise: float = 0.1,
    exact: bool = True,
    shuffle: bool = False,
    seed: int = 0,
) -> PlantedData:
    """Unit vectors in well-separated groups, some failing more than the rest.

    ``n`` rows are split evenly over ``n_groups`` groups (default 3), or ``n`` lists the size
    of each group. Group ``g`` lies around the ``g``-th axis (``dim >= n_groups``), with
    Gaussian ``noise`` per coordinate; its rows fail at ``failing[g]``, other groups at
    ``baseline`` (see :func:`planted_failures` for ``exact``). Rows come group by group
    unless ``shuffle=True``. The same seed gives the same data.

    Example:
        >>> data = planted_vectors(300, 3, dim=8, failing={2: 0.6}, seed=1)
        >>> data.vectors.shape, data.groups[:3].tolist(), data.observed_rates()
        ((300, 8), [0, 0, 0], {0: 0.05, 1: 0.05, 2: 0.6})
        >>> bool(np.allclose(np.linalg.norm(data.vectors, axis=1), 1.0, atol=1e-6))
        True
    """
    owner = "planted_vectors"
    rates = _check_rates(owner, failing, baseline)
    sizes = _sizes(owner, n, n_groups, 3)
    return _plant(
        owner,
        sizes,
        list(range(len(sizes))),
        None,
        dim=dim,
        noise=noise,
        failing=rates,
        baseline=baseline,
        exact=exact,
        shuffle=shuffle,
        seed=seed,
    )


def planted_prompts(
    n: int | Sequence[int] = 240,
    topics: int | Sequence[str] | Mapping[str, Sequence[str]] = 4,
    *,
    failing: Mapping[str, float] | None = None,
    baseline: float = 0.05,
    dim: int = 16,
    noise: float = 0.1,
    exact: bool = True,
    shuffle: bool = False,
    seed: int = 0,
) -> PlantedData:
    """Prompt texts on distinct topics, some topics failing more than the rest.

    ``topics`` is a number of built-in topics (:data:`PROMPT_TOPICS`: dates, translation,
    baking, taxes, travel, programming; 256 distinct prompts each), their names, or your own
    mapping of topic name to prompts. Each topic's rows draw its prompts in a seeded order;
    past the end of its list they repeat with a ``" (variant k)"`` suffix, so every prompt is
    distinct. ``groups`` holds the topic names. ``vectors`` are stand-ins, one direction per
    topic as in :func:`planted_vectors`; embed ``prompts`` with a real model for end-to-end
    tests. The same seed gives the same data.

    Example:
        >>> data = planted_prompts(40, ("taxes", "baking"), failing={"baking": 0.5}, seed=0)
        >>> data.group_names, data.observed_rates()
        (['taxes', 'baking'], {'taxes': 0.05, 'baking': 0.5})
        >>> "tax" in data.prompts[0], len(set(data.prompts))
        (True, 40)
    """
    owner = "planted_prompts"
    rates = _check_rates(owner, failing, baseline)
    names, pools = _topics(owner, topics)
    sizes = _sizes(owner, n, len(names), len(names))
    return _plant(
        owner,
        sizes,
        names,
        pools,
        dim=dim,
        noise=noise,
        failing=rates,
        baseline=baseline,
        exact=exact,
        shuffle=shuffle,
        seed=seed,
    )


def _topics(owner: str, topics: Any) -> tuple[list[str], list[list[str]]]:
    if isinstance(topics, Mapping):
        names = [str(name) for name in topics]
        pools = [list(prompts) for prompts in topics.values()]
        for name, pool in zip(names, pools, strict=True):
            if not pool or not all(isinstance(p, str) and p.strip() for p in pool):
                raise ConfigurationError(
                    f"The 'topics' parameter of {owner} must map each topic to a non-empty "
                    f"list of non-empty prompts. Got {pool!r:.80} for {name!r}."
                )
        if names:
            return names, pools
    elif isinstance(topics, int) and not isinstance(topics, bool):
        check_param(owner, "topics", topics, Interval(int, 1, len(PROMPT_TOPICS)))
        names = list(PROMPT_TOPICS[:topics])
        return names, [_topic_pool(t) for t in names]
    elif isinstance(topics, Sequence) and not isinstance(topics, str):
        names = list(topics)
        unknown = [t for t in names if t not in _TOPIC_TEMPLATES]
        if names and not unknown and len(set(names)) == len(names):
            return names, [_topic_pool(t) for t in names]
    raise ConfigurationError(
        f"The 'topics' parameter of {owner} must be an int in [1, {len(PROMPT_TOPICS)}], "
        f"distinct names from {PROMPT_TOPICS!r}, or a mapping of topic to prompts. "
        f"Got {topics!r:.120}."
    )
