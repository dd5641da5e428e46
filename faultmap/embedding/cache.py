"""On-disk embedding cache: keyed by model identity and text, stored as plain ``.npz``.

Layout: ``<cache_dir>/embeddings/<sha256(identity)[:32]>/shard-<sha256>.npz``, each shard
holding ``keys`` (sha256 digests of the texts, ``uint8`` rows of 32) and ``vectors``
(float32); the shard's name is the SHA-256 of its contents (:func:`shard_checksum`).
Shards are written to a temporary file, flushed to disk (``fsync``) and renamed into place,
so two processes writing at once, or a process killed mid-write, never leave a torn or
empty shard; readers load with ``allow_pickle=False``, so a cache file cannot execute code.
Many small shards are merged once there are more than ``max_shards``.

The cache heals: every shard is checked when it is read (a readable ``.npz`` with exactly
those two arrays, ``keys`` of shape (n, 32), ``vectors`` of shape (n, d) in the folder's one
width d, finite values, and the checksum its name carries). A shard that fails is renamed
``damaged-shard-....npz`` beside the others, a warning names the cache folder, and its texts
are embedded again. Shards written before faultmap 0.7 have a random name and no checksum:
they are checked for everything but the checksum and read as they are (the next merge
rewrites them with one). ``faultmap cache verify`` checks a whole cache without changing it,
``faultmap cache clear`` removes it, with the backends' exported models in ``models/``
(:func:`verify_cache`, :func:`clear_cache`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faultmap.embedding.base import Embedder, fingerprint_of

__all__ = [
    "CacheCheck",
    "CachedEmbedder",
    "ShardCheck",
    "clear_cache",
    "default_cache_dir",
    "shard_checksum",
    "verify_cache",
]

logger = logging.getLogger("faultmap")

_CHECKSUMMED = re.compile(r"shard-([0-9a-f]{64})\.npz")
_DAMAGED_PREFIX = "damaged-"


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


def shard_checksum(keys: np.ndarray, vectors: np.ndarray) -> str:
    """SHA-256 (hex) of a shard's contents: its shape, its keys and its float32 vectors
    (little-endian); a checksummed shard is named ``shard-<checksum>.npz``.

    Example:
        >>> keys, vectors = np.zeros((1, 32), np.uint8), np.ones((1, 2), np.float32)
        >>> shard_checksum(keys, vectors)[:12]
        '1a638e69359a'
    """
    h = hashlib.sha256(f"{vectors.shape[0]}x{vectors.shape[1]}|".encode())
    h.update(np.ascontiguousarray(keys, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
    return h.hexdigest()


class ShardError(ValueError):
    """A cache shard that cannot be used (damaged, or not a faultmap shard)."""


def _read_shard(path: Path) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(keys, vectors, checksummed)`` of a shard, every check done; :class:`ShardError`
    saying what is wrong with a damaged one. ``FileNotFoundError`` (a shard another process
    merged away) and other ``OSError`` (no permission) pass through: not damage."""
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ShardError("not an .npz archive")
        with data:
            if set(data.files) != {"keys", "vectors"}:
                raise ShardError(f"holds {sorted(data.files)}, not keys and vectors")
            keys, vectors = data["keys"], data["vectors"]
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError) as exc:
        if isinstance(exc, ShardError):
            raise
        raise ShardError(f"unreadable ({type(exc).__name__}: {exc})") from None
    if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != 32:
        raise ShardError(f"keys of shape {keys.shape} and type {keys.dtype}, not (n, 32) uint8")
    if vectors.ndim != 2 or len(vectors) != len(keys) or vectors.shape[1] < 1:
        raise ShardError(f"vectors of shape {vectors.shape} for {len(keys)} keys")
    if vectors.dtype.kind != "f":
        raise ShardError(f"vectors of type {vectors.dtype}, not float")
    vectors = vectors.astype(np.float32, copy=False)
    step = 65536  # a block at a time: no n x d temporary for a large shard
    if not all(np.isfinite(vectors[i : i + step]).all() for i in range(0, len(vectors), step)):
        raise ShardError("NaN or infinite vectors")
    named = _CHECKSUMMED.fullmatch(path.name)
    if named and shard_checksum(keys, vectors) != named.group(1):
        raise ShardError("its contents do not match the checksum in its name")
    return keys, vectors, named is not None


def _move_aside(path: Path) -> Path | None:
    """Rename a damaged shard out of the readers' way (None when another process did)."""
    target = path.with_name(_DAMAGED_PREFIX + path.name)
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return None
    return target


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
        """Index, vectors and paths of the folder's good shards; damaged ones moved aside."""
        index: dict[bytes, int] = {}
        good: list[tuple[Path, np.ndarray, np.ndarray]] = []
        damaged: list[tuple[Path, str]] = []
        shards = sorted(folder.glob("shard-*.npz")) if folder.is_dir() else []
        for shard in shards:
            try:
                keys, vectors, _ = _read_shard(shard)
            except ShardError as exc:
                damaged.append((shard, str(exc)))
                continue
            except FileNotFoundError:  # merged away by another process meanwhile
                continue
            except OSError as exc:  # no permission, say: not damage, leave it be
                logger.warning("Skipping embedding cache shard %s (%s)", shard, exc)
                continue
            good.append((shard, keys, vectors))
        good, wrong_width = _one_width(good)
        damaged += wrong_width
        if damaged:
            _report_damage(folder, damaged)
        blocks: list[np.ndarray] = []
        offset = 0
        for _, keys, vectors in good:
            for j, k in enumerate(keys):
                index.setdefault(k.tobytes(), offset + j)
            blocks.append(vectors)
            offset += len(keys)
        table = np.concatenate(blocks) if blocks else None
        return index, table, [path for path, _, _ in good]

    def _write(self, folder: Path, keys: np.ndarray, vectors: np.ndarray) -> Path:
        """Write one shard durably: a temporary file, fsync, rename to its checksum name."""
        folder.mkdir(parents=True, exist_ok=True)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        target = folder / f"shard-{shard_checksum(keys, vectors)}.npz"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, keys=keys, vectors=vectors)
                fh.flush()
                os.fsync(fh.fileno())  # the bytes are on disk before the name points at them
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
        return target

    def embed(self, texts: Sequence[str], *, role: str = "query") -> np.ndarray:
        if not texts:
            return self.inner.embed(texts, role=role)
        return self._embed(texts, role, healed=False)

    def _embed(self, texts: Sequence[str], role: str, *, healed: bool) -> np.ndarray:
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
                if table is not None and vectors.ndim == 2 and vectors.shape[1] != table.shape[1]:
                    if healed:  # still another width after healing: leave the cache alone
                        return np.asarray(self.inner.embed(texts, role=role), dtype=np.float32)
                    # The model's own vectors are right; this identity's cached ones are not.
                    why = f"vectors {table.shape[1]} wide, the model's are {vectors.shape[1]}"
                    _report_damage(folder, [(path, why) for path in shards])
                    return self._embed(texts, role, healed=True)
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
        merged = self._write(folder, keys, table[list(index.values())])
        for shard in shards:
            if shard != merged:  # the merge of shards that were one already has its name
                shard.unlink(missing_ok=True)


def _one_width(
    good: list[tuple[Path, np.ndarray, np.ndarray]],
) -> tuple[list[tuple[Path, np.ndarray, np.ndarray]], list[tuple[Path, str]]]:
    """Keep the shards of the width most vectors have; the others are damage (one identity,
    one model, one width)."""
    rows = Counter[int]()
    for _, _, vectors in good:
        rows[vectors.shape[1]] += len(vectors)
    if len(rows) < 2:
        return good, []
    width = rows.most_common(1)[0][0]
    keep = [g for g in good if g[2].shape[1] == width]
    bad = [
        (path, f"vectors {vectors.shape[1]} wide where the folder's others are {width}")
        for path, _, vectors in good
        if vectors.shape[1] != width
    ]
    return keep, bad


def _report_damage(folder: Path, damaged: list[tuple[Path, str]]) -> None:
    moved = [(path, why) for path, why in damaged if _move_aside(path) is not None]
    if not moved:
        return
    detail = "; ".join(f"{path.name}: {why}" for path, why in moved[:3])
    more = f"; and {len(moved) - 3} more" if len(moved) > 3 else ""
    logger.warning(
        "Embedding cache %s: %d damaged shard(s) moved aside as %s* (%s%s); their texts are "
        "embedded again. `faultmap cache verify` checks the whole cache, `faultmap cache "
        "clear` empties it.",
        folder,
        len(moved),
        _DAMAGED_PREFIX,
        detail,
        more,
    )


@dataclass(frozen=True)
class ShardCheck:
    """What :func:`verify_cache` found in one shard: ``problem`` is None for a good one;
    ``checksummed`` False for a shard written before shards carried a checksum."""

    path: Path
    problem: str | None
    rows: int = 0
    width: int = 0
    checksummed: bool = False


@dataclass(frozen=True)
class CacheCheck:
    """What :func:`verify_cache` found: every shard, shards damaged earlier and already
    moved aside, and temporary files left by interrupted writers."""

    cache_dir: Path
    shards: list[ShardCheck] = field(default_factory=list)
    moved_aside: list[Path] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)

    @property
    def damaged(self) -> list[ShardCheck]:
        """The shards that fail a check."""
        return [s for s in self.shards if s.problem is not None]

    @property
    def ok(self) -> bool:
        """True when no shard is damaged."""
        return not self.damaged


def _cache_folders(cache_dir: Path) -> list[Path]:
    root = cache_dir / "embeddings"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"[0-9a-f]{32}", p.name))


def verify_cache(cache_dir: str | Path | None = None, *, repair: bool = False) -> CacheCheck:
    """Check every shard of the embedding cache in ``cache_dir`` (default:
    :func:`default_cache_dir`) as a read does; ``repair=True`` moves the damaged ones aside,
    as the next analysis would. Nothing else is changed.

    Example:
        >>> check = verify_cache("/tmp/fm-cache")  # doctest: +SKIP
        >>> check.ok, len(check.shards)            # doctest: +SKIP
        (True, 12)
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    check = CacheCheck(root)
    for folder in _cache_folders(root):
        good: list[tuple[Path, np.ndarray, np.ndarray]] = []
        named: dict[Path, bool] = {}
        for shard in sorted(folder.glob("shard-*.npz")):
            try:
                keys, vectors, named[shard] = _read_shard(shard)
            except ShardError as exc:
                check.shards.append(ShardCheck(shard, str(exc)))
                continue
            except OSError as exc:
                check.shards.append(ShardCheck(shard, f"unreadable ({exc})"))
                continue
            good.append((shard, keys, vectors))
        good, wrong_width = _one_width(good)
        check.shards.extend(ShardCheck(path, why) for path, why in wrong_width)
        check.shards.extend(
            ShardCheck(path, None, len(v), v.shape[1], named[path]) for path, _, v in good
        )
        check.moved_aside.extend(sorted(folder.glob(f"{_DAMAGED_PREFIX}shard-*.npz")))
        check.leftovers.extend(sorted(folder.glob(".tmp-*.npz")))
        if repair:
            for damaged in check.damaged:
                if damaged.path.parent == folder and damaged.path.exists():
                    moved = _move_aside(damaged.path)
                    if moved is not None:
                        check.moved_aside.append(moved)
    check.shards.sort(key=lambda s: str(s.path))
    return check


_MODEL_FOLDER = re.compile(r"(\.tmp-)?[a-z0-9-]+-[0-9a-f]{32}(-.+)?")


def clear_cache(cache_dir: str | Path | None = None, *, models: bool = True) -> int:
    """Delete the embedding cache in ``cache_dir`` (default: :func:`default_cache_dir`) and
    return how many files were removed. Only the cache's own files go: shards, shards moved
    aside and temporary files in ``embeddings/<32 hex digits>/``, and with ``models`` (the
    default) the exported and distilled models of the embedding backends in
    ``models/<backend>-<32 hex digits>/`` (made again on next use, seconds for an ONNX
    export, minutes for a static distillation); anything else in the folder stays.

    Example:
        >>> clear_cache("/tmp/fm-cache")  # doctest: +SKIP
        13
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    removed = _clear_models(root / "models") if models else 0
    for folder in _cache_folders(root):
        for pattern in ("shard-*.npz", f"{_DAMAGED_PREFIX}shard-*.npz", ".tmp-*.npz"):
            for path in folder.glob(pattern):
                path.unlink(missing_ok=True)
                removed += 1
        with contextlib.suppress(OSError):  # something else is in it: leave it
            folder.rmdir()
    with contextlib.suppress(OSError):
        (root / "embeddings").rmdir()
    return removed


def _clear_models(folder: Path) -> int:
    """Remove the backends' model folders (and half-written ones) under ``folder``."""
    if not folder.is_dir():
        return 0
    removed = 0
    for model in folder.iterdir():
        if not (model.is_dir() and not model.is_symlink() and _MODEL_FOLDER.fullmatch(model.name)):
            continue
        removed += sum(1 for p in model.rglob("*") if p.is_file() or p.is_symlink())
        shutil.rmtree(model, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.rmdir()
    return removed
