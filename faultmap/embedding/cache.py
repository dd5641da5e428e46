"""On-disk embedding cache: keyed by model identity and text, stored as plain ``.npz``.

Layout: ``<cache_dir>/embeddings/<sha256(identity)[:32]>/shard-<random>.npz``, each shard
holding ``keys`` (sha256 digests of the texts, ``uint8`` rows of 32) and ``vectors``
(float32). Shards are written to a temporary file and renamed into place, so two processes
writing at once never leave a torn file; readers load with ``allow_pickle=False``, so a cache
file cannot execute code. Many small shards are merged once there are more than ``max_shards``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from faultmap.embedding.base import Embedder, fingerprint_of

__all__ = ["CachedEmbedder", "default_cache_dir"]

logger = logging.getLogger("faultmap")


def default_cache_dir() -> Path:
    """``$FAULTMAP_CACHE_DIR`` if set, else the per-user cache directory for faultmap."""
    env = os.environ.get("FAULTMAP_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("faultmap", appauthor=False))
    except ImportError:  # pragma: no cover - platformdirs is a dependency
        return Path.home() / ".cache" / "faultmap"


def _key_array(digests: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), 32)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class CachedEmbedder:
    """Wrap an embedder so each (model, text) is embedded once across runs and processes.

    Example:
        >>> from faultmap.embedding import SentenceTransformerEmbedder
        >>> emb = CachedEmbedder(SentenceTransformerEmbedder(), "/tmp/fm-cache")  # doctest: +SKIP
        >>> emb.embed(["hello"]).shape                                             # doctest: +SKIP
        (1, 384)
    """

    def __init__(
        self,
        inner: Embedder,
        cache_dir: str | Path | None = None,
        *,
        max_shards: int = 32,
        write_every: int = 8192,
    ) -> None:
        self.inner = inner
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.max_shards = max_shards
        self.write_every = max(1, int(write_every))
        self.hits = 0
        self.misses = 0

    @property
    def identity(self) -> str:
        return self.inner.identity

    @property
    def fingerprint(self) -> str | None:
        return fingerprint_of(self.inner)

    def _dir(self, role: str) -> Path:
        key = hashlib.sha256(f"{self.inner.identity}|role={role}".encode()).hexdigest()[:32]
        return self.cache_dir / "embeddings" / key

    def _load(self, folder: Path) -> tuple[dict[bytes, int], np.ndarray | None, list[Path]]:
        index: dict[bytes, int] = {}
        blocks: list[np.ndarray] = []
        shards = sorted(folder.glob("shard-*.npz")) if folder.is_dir() else []
        offset = 0
        for shard in shards:
            try:
                with np.load(shard, allow_pickle=False) as data:
                    keys, vectors = data["keys"], data["vectors"]
            except (OSError, ValueError, KeyError) as exc:  # vanished or unreadable: skip it
                logger.debug("Skipping cache shard %s (%s)", shard.name, exc)
                continue
            if keys.shape != (len(vectors), 32) or keys.dtype != np.uint8 or vectors.ndim != 2:
                continue
            for j, k in enumerate(keys):
                index.setdefault(k.tobytes(), offset + j)
            blocks.append(vectors.astype(np.float32, copy=False))
            offset += len(keys)
        table = np.concatenate(blocks) if blocks else None
        return index, table, shards

    def _write(self, folder: Path, keys: np.ndarray, vectors: np.ndarray) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, keys=keys, vectors=vectors.astype(np.float32))
            os.replace(tmp, folder / f"shard-{uuid.uuid4().hex}.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def embed(self, texts: Sequence[str], *, role: str = "query") -> np.ndarray:
        if not texts:
            return self.inner.embed(texts, role=role)
        folder = self._dir(role)
        try:
            index, table, shards = self._load(folder)
        except OSError as exc:
            logger.warning("Embedding cache unreadable (%s); embedding without it", exc)
            return self.inner.embed(texts, role=role)
        digests = [_digest(t) for t in texts]
        missing = sorted({d: i for i, d in enumerate(digests) if d not in index}.values())
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        logger.info("Embedding cache: %d of %d texts cached", len(texts) - len(missing), len(texts))
        fresh = None
        if missing:
            blocks = []
            n_shards = len(shards)
            step = self.write_every
            for start in range(0, len(missing), step):
                part = missing[start : start + step]
                if len(missing) > step:
                    logger.info(
                        "Embedding block %d of %d (texts %d-%d of %d missing)",
                        start // step + 1,
                        -(-len(missing) // step),
                        start + 1,
                        start + len(part),
                        len(missing),
                    )
                vectors = np.asarray(
                    self.inner.embed([texts[i] for i in part], role=role), dtype=np.float32
                )
                blocks.append(vectors)
                # Written block by block: an interrupted run keeps what it already paid for.
                try:
                    self._write(folder, _key_array([digests[i] for i in part]), vectors)
                    n_shards += 1
                except OSError as exc:
                    logger.warning("Could not write the embedding cache (%s); continuing", exc)
            fresh = np.concatenate(blocks)
            if n_shards > self.max_shards:
                try:
                    self._compact(folder)
                except OSError as exc:
                    logger.warning("Could not compact the embedding cache (%s); continuing", exc)
        dim = fresh.shape[1] if fresh is not None else table.shape[1]  # type: ignore[union-attr]
        out = np.empty((len(texts), dim), dtype=np.float32)
        fresh_pos = {digests[i]: j for j, i in enumerate(missing)}
        for i, d in enumerate(digests):
            out[i] = fresh[fresh_pos[d]] if d in fresh_pos else table[index[d]]  # type: ignore[index]
        return out

    def _compact(self, folder: Path) -> None:
        index, table, shards = self._load(folder)
        if table is None:
            return
        keys = _key_array(list(index))
        self._write(folder, keys, table[list(index.values())])
        for shard in shards:
            shard.unlink(missing_ok=True)
