"""Fake embeddings: :class:`FakeEmbedding` stands in for ``litellm.aembedding`` (for
:class:`~faultmap.embedding.LiteLLMEmbedder`), :class:`FakeEmbedder` is a tiny local embedder.
Both give each text a hashed bag of its words, the same in every process."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from faultmap._validation import Interval, Options, check_param
from faultmap.testing._llm import play

__all__ = ["EmbeddingCall", "FakeEmbedder", "FakeEmbedding"]

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
            await play(self.script.pop(0))
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
    def fingerprint(self) -> str:
        """The same as :attr:`identity`: the vectors depend on ``dim`` alone."""
        return self.identity

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
