"""API embeddings through litellm (OpenAI, Voyage, Cohere, NIM, ... any litellm model)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import numpy as np

from faultmap._secrets import mask_credentials, redact, register_secrets, secret_values
from faultmap.embedding.base import normalize_rows
from faultmap.exceptions import EmbeddingError

__all__ = ["LiteLLMEmbedder"]

logger = logging.getLogger("faultmap")


class LiteLLMEmbedder:
    """Embed texts with any embedding model litellm can reach.

    Texts are cut to ``max_text_chars`` (``None`` keeps them whole) and sent in batches of
    ``batch_size``. ``request_kwargs`` go with every request (e.g. ``{"dimensions": 256}``);
    ``usage_kwargs`` add request options per role and win over ``request_kwargs``, e.g.
    ``{"query": {"input_type": "query"}, "document": {"input_type": "passage"}}``.
    ``embedding_fn`` replaces ``litellm.aembedding`` (tests inject a fake with its signature).

    Example:
        >>> emb = LiteLLMEmbedder("text-embedding-3-small")   # doctest: +SKIP
        >>> emb.embed(["hello"]).shape                       # doctest: +SKIP
        (1, 1536)
    """

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 128,
        max_text_chars: int | None = 2000,
        usage_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        request_kwargs: Mapping[str, Any] | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        max_concurrent_requests: int = 8,
        embedding_fn: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.max_text_chars = max_text_chars
        self.usage_kwargs = {k: dict(v) for k, v in (usage_kwargs or {}).items()}
        self.request_kwargs = dict(request_kwargs or {})
        register_secrets(self.usage_kwargs)
        register_secrets(self.request_kwargs)
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_concurrent_requests = max_concurrent_requests
        self._embedding_fn = embedding_fn

    @property
    def identity(self) -> str:
        """The model and the request options that shape its vectors; credentials (an
        ``api_key``, a token in a header) never appear, only ``[REDACTED]`` in their place."""
        options = sorted(mask_credentials(self.usage_kwargs).items())
        identity = f"litellm:{self.model}:max_chars={self.max_text_chars}:{options}"
        if self.request_kwargs:  # only when set, so existing cache keys stay as they were
            identity += f":request={sorted(mask_credentials(self.request_kwargs).items())}"
        return redact(identity)

    @property
    def fingerprint(self) -> str:
        """The model by its name (an API model's weights cannot be read; providers version
        them by name)."""
        return f"litellm:{self.model}"

    def embed(self, texts: Sequence[str], *, role: str = "query") -> np.ndarray:
        if len(texts) == 0:  # nothing to ask the API; its width is unknown until it answers
            return np.zeros((0, 0), dtype=np.float32)
        from faultmap.llm.client import run_sync

        return run_sync(lambda: self.aembed(texts, role=role))

    async def aembed(self, texts: Sequence[str], *, role: str = "query") -> np.ndarray:
        import asyncio

        from faultmap.config import LLMConfig
        from faultmap.llm.client import LLMClient, import_litellm

        fn = self._embedding_fn or import_litellm().aembedding
        if self.max_text_chars is not None:
            texts = [t[: self.max_text_chars] for t in texts]
        extra = {**self.request_kwargs, **self.usage_kwargs.get(role, {})}
        client = LLMClient(
            LLMConfig(
                model=self.model,
                timeout=self.timeout,
                max_retries=self.max_retries,
                max_concurrent_requests=self.max_concurrent_requests,
            )
        )
        batches = [
            list(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)
        ]
        logger.info(
            "Embedding %d texts with %s in %d request(s)", len(texts), self.model, len(batches)
        )
        semaphore = asyncio.Semaphore(self.max_concurrent_requests)

        async def one(batch: list[str]) -> list[list[float]]:
            async with semaphore:
                response = await client.acall(lambda: fn(model=self.model, input=batch, **extra))
                return _vectors(response)

        try:
            results = await asyncio.gather(*(one(b) for b in batches))
        except Exception as exc:
            from faultmap.llm.client import redact as redact_reply

            detail = redact_reply(str(exc), secret_values(self.usage_kwargs))
            raise EmbeddingError(f"Embedding with {self.model!r} failed: {detail}") from None
        rows = [row for batch in results for row in batch]
        if len(rows) != len(texts):
            raise EmbeddingError(
                f"{self.model!r} returned {len(rows)} vectors for {len(texts)} texts."
            )
        return normalize_rows(np.asarray(rows, dtype=np.float32))


def _vectors(response: Any) -> list[list[float]]:
    data = response["data"] if isinstance(response, Mapping) else response.data
    items = sorted(
        data, key=lambda d: d["index"] if isinstance(d, Mapping) else getattr(d, "index", 0)
    )
    return [d["embedding"] if isinstance(d, Mapping) else d.embedding for d in items]
