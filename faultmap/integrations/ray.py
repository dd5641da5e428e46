"""Embedding and nearest-neighbour search on a Ray cluster, for logs that outgrow one machine.

* :class:`RayEmbedder` is an embedder (:class:`~faultmap.embedding.base.Embedder`): it
  builds a Ray Dataset of the texts and runs ``map_batches`` over a pool of actors, each
  holding one copy of the sentence-transformers model (one GPU per actor when the cluster
  has GPUs). Every actor embeds with :class:`~faultmap.embedding.local.SentenceTransformerEmbedder`,
  and ``identity`` and ``fingerprint`` are the local model's, so the embedding cache and
  ``faultmap diff`` treat its vectors as that model's. Pass it as
  ``SliceAnalyzer(embedding_model=RayEmbedder(...))``: the report is the usual one.
* :func:`embed_parquet` embeds a text column of Parquet files read by Ray
  (``ray.data.read_parquet``: local, S3, GCS, HDFS, ... any filesystem Ray reads) and writes
  the vectors, in the rows' order, to one ``.npy`` (for ``embeddings=``, memory-mapped) or
  one ``.parquet`` (the kept columns plus an ``embedding`` column, for
  ``analyze_frame(..., embedding_col="embedding")``).
* :func:`nearest_neighbors_on_ray` is :func:`faultmap._neighbors.nearest_neighbors` (the
  exact search of ``audit_coverage``) with the query rows split in blocks over actors that
  each hold the corpus once; every block is searched by the local function, so the result
  is the local one.

Ray is an optional extra (``pip install 'faultmap[ray]'``); nothing here imports it until
a function runs. When Ray is not initialised yet, the first call runs ``ray.init(address)``
(``None``: ``$RAY_ADDRESS`` or a local Ray on this machine).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from faultmap._neighbors import DEFAULT_MEMORY_BUDGET, nearest_neighbors
from faultmap._optional import require
from faultmap.embedding.local import DEFAULT_LOCAL_MODEL, SentenceTransformerEmbedder
from faultmap.exceptions import ConfigurationError

__all__ = ["RayEmbedder", "RayNeighborSearch", "embed_parquet", "nearest_neighbors_on_ray"]

logger = logging.getLogger("faultmap")

_ROW = "__faultmap_row"
_VECTOR = "embedding"


def _ray(address: str | None = None) -> ModuleType:
    """The ``ray`` module, initialised (``ray.init(address)`` when it was not)."""
    ray = require("ray", extra="ray", purpose="running faultmap on a Ray cluster")
    require("ray.data", extra="ray", purpose="running faultmap on a Ray cluster")
    if not ray.is_initialized():
        logger.info("Starting Ray (ray.init(address=%r))", address)
        ray.init(address=address)
    return ray


def _check_positive(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"The '{name}' parameter of {owner} must be an int in [1, inf). Got {value!r}."
        )


class _EncodeBatch:
    """One model per Ray actor: embeds the text column of each batch it is given."""

    def __init__(
        self,
        model: str,
        device: str,
        batch_size: int,
        max_text_chars: int | None,
        text_column: str,
        keep: Sequence[str] | None,
    ) -> None:
        self._embedder = SentenceTransformerEmbedder(
            model,
            device=device,
            batch_size=batch_size,
            max_text_chars=max_text_chars,
            show_progress=False,
        )
        self._embedder._load()  # once per actor, before the first batch
        self._text_column = text_column
        self._keep = keep

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = ["" if t is None else str(t) for t in batch[self._text_column]]
        vectors = self._embedder.embed(texts)
        kept = batch.keys() if self._keep is None else self._keep
        out = {name: batch[name] for name in kept}
        out[_VECTOR] = vectors
        return out


class RayEmbedder:
    """Embed texts on a Ray cluster with a sentence-transformers model, one copy per actor.

    The texts become a Ray Dataset of ``batch_size``-row blocks, embedded by
    ``map_batches`` over ``concurrency`` actors. ``num_gpus`` per actor: None gives each
    actor one GPU when the cluster has GPUs (the model then runs on ``cuda``), 0 keeps them
    on CPUs (``num_cpus`` each). The vectors equal
    ``SentenceTransformerEmbedder(model)``'s, and so do ``identity`` and ``fingerprint``.

    Example:
        >>> from faultmap import SliceAnalyzer
        >>> from faultmap.integrations.ray import RayEmbedder
        >>> embedder = RayEmbedder(concurrency=8)                   # doctest: +SKIP
        >>> analyzer = SliceAnalyzer(embedding_model=embedder)      # doctest: +SKIP
        >>> report = analyzer.analyze(prompts, responses, scores)   # doctest: +SKIP
    """

    def __init__(
        self,
        model: str = DEFAULT_LOCAL_MODEL,
        *,
        concurrency: int = 1,
        batch_size: int = 256,
        encode_batch_size: int = 64,
        num_gpus: float | None = None,
        num_cpus: float = 1,
        max_text_chars: int | None = 4000,
        address: str | None = None,
    ) -> None:
        _check_positive("RayEmbedder", "concurrency", concurrency)
        _check_positive("RayEmbedder", "batch_size", batch_size)
        _check_positive("RayEmbedder", "encode_batch_size", encode_batch_size)
        if num_gpus is not None and (isinstance(num_gpus, bool) or num_gpus < 0):
            raise ConfigurationError(
                "The 'num_gpus' parameter of RayEmbedder must be None (one GPU per actor when "
                f"the cluster has GPUs) or a float in [0, inf). Got {num_gpus!r}."
            )
        self.model_name = model
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.encode_batch_size = encode_batch_size
        self.num_gpus = num_gpus
        self.num_cpus = num_cpus
        self.max_text_chars = max_text_chars
        self.address = address
        self._local = SentenceTransformerEmbedder(model, max_text_chars=max_text_chars)

    @property
    def identity(self) -> str:
        """The local model's identity: the same vectors, so the same cache entries."""
        return self._local.identity

    @property
    def fingerprint(self) -> str | None:
        """The local model's weights fingerprint (read on this machine, nothing loaded)."""
        return self._local.fingerprint

    def __repr__(self) -> str:
        return (
            f"RayEmbedder(model={self.model_name!r}, concurrency={self.concurrency}, "
            f"batch_size={self.batch_size}, num_gpus={self.num_gpus!r})"
        )

    def _map(
        self, ray: ModuleType, dataset: Any, text_column: str, keep: Sequence[str] | None
    ) -> Any:
        gpus = self.num_gpus
        if gpus is None:
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
        device = "cuda" if gpus > 0 else "cpu"
        logger.info(
            "Embedding on Ray: %d actor(s) of %s on %s, %d rows per batch",
            self.concurrency,
            self.model_name,
            device,
            self.batch_size,
        )
        return dataset.map_batches(
            _EncodeBatch,
            fn_constructor_kwargs={
                "model": self.model_name,
                "device": device,
                "batch_size": self.encode_batch_size,
                "max_text_chars": self.max_text_chars,
                "text_column": text_column,
                "keep": keep,
            },
            compute=ray.data.ActorPoolStrategy(size=self.concurrency),
            batch_size=self.batch_size,
            batch_format="numpy",
            num_gpus=gpus,
            num_cpus=self.num_cpus,
            udf_modifying_row_count=False,
        )

    def embed(self, texts: Sequence[str], *, role: str = "query") -> np.ndarray:
        """Unit float32 vectors of ``texts``, one row each, in their order."""
        texts = list(texts)
        if not texts:
            return self._local.embed([], role=role)
        ray = _ray(self.address)
        pa = require("pyarrow", extra="ray", purpose="Ray Datasets")
        rows = np.arange(len(texts), dtype=np.int64)
        blocks = [
            pa.table({_ROW: rows[i : i + self.batch_size], "text": texts[i : i + self.batch_size]})
            for i in range(0, len(texts), self.batch_size)
        ]
        embedded = self._map(ray, ray.data.from_arrow(blocks), "text", keep=[_ROW])
        out: np.ndarray | None = None
        for batch in embedded.iter_batches(batch_format="numpy", batch_size=None):
            vectors = np.asarray(batch[_VECTOR], dtype=np.float32)
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[batch[_ROW]] = vectors
        assert out is not None
        return out


def embed_parquet(
    paths: str | Sequence[str],
    output: str | os.PathLike[str],
    *,
    text_column: str = "prompt",
    keep_columns: Sequence[str] = (),
    embedder: RayEmbedder | None = None,
    filesystem: Any = None,
) -> int:
    """Embed ``text_column`` of the Parquet files at ``paths`` on Ray; write the vectors to
    ``output`` in the rows' order and return how many rows were embedded.

    ``paths`` is anything ``ray.data.read_parquet`` reads (files, folders, ``s3://...``,
    ``gs://...``; ``filesystem`` a pyarrow filesystem for others). ``output`` ending in
    ``.npy`` gets an (n, d) float32 array (pass ``np.load(output, mmap_mode="r")`` as
    ``embeddings=`` or ``production_embeddings=``); ending in ``.parquet`` it gets
    ``text_column``, ``keep_columns`` and an ``embedding`` column (for
    ``analyze_frame(output, embedding_col="embedding", ...)``). The output is written by
    this process, so it is a path on this machine. ``embedder`` sets the model and actors
    (default ``RayEmbedder()``).

    Example:
        >>> n = embed_parquet("s3://logs/2024/", "prod.npy", text_column="prompt",
        ...                   embedder=RayEmbedder(concurrency=16))  # doctest: +SKIP
        >>> vectors = np.load("prod.npy", mmap_mode="r")             # doctest: +SKIP
    """
    out_path = os.fspath(output)
    kind = os.path.splitext(out_path)[1].lower()
    if kind not in (".npy", ".parquet"):
        raise ConfigurationError(
            "The 'output' parameter of embed_parquet must end in .npy or .parquet. "
            f"Got {out_path!r}."
        )
    embedder = embedder or RayEmbedder()
    ray = _ray(embedder.address)
    columns = list(dict.fromkeys([text_column, *keep_columns]))
    context = ray.data.DataContext.get_current()
    was = context.execution_options.preserve_order
    # Rows come back in the files' order. A dataset copies the context when it is made, so
    # this is set before reading and restored afterwards.
    context.execution_options.preserve_order = True
    try:
        dataset = ray.data.read_parquet(paths, filesystem=filesystem)
        names = dataset.schema().names
        missing = [c for c in columns if c not in names]
        if missing:
            raise ConfigurationError(
                f"The Parquet files at {paths!r} have no column {missing[0]!r} (they have "
                f"{', '.join(names)}); pass text_column= / keep_columns= with their names."
            )
        dataset = dataset.select_columns(columns)
        n = dataset.count()
        keep = columns if kind == ".parquet" else []
        embedded = embedder._map(ray, dataset, text_column, keep=keep)
        batches = embedded.iter_batches(batch_format="numpy", batch_size=None)
        if kind == ".npy":
            _write_npy(batches, out_path, n)
        else:
            _write_parquet(batches, out_path, columns)
    finally:
        context.execution_options.preserve_order = was
    logger.info("Embedded %d rows of %s into %s", n, paths, out_path)
    return n


def _write_npy(batches: Iterator[dict[str, np.ndarray]], path: str, n: int) -> None:
    array: np.ndarray | None = None
    at = 0
    for batch in batches:
        vectors = np.asarray(batch[_VECTOR], dtype=np.float32)
        if array is None:
            array = np.lib.format.open_memmap(
                path, mode="w+", dtype=np.float32, shape=(n, vectors.shape[1])
            )
        array[at : at + len(vectors)] = vectors
        at += len(vectors)
    if array is None:
        np.save(path, np.zeros((0, 0), dtype=np.float32))
        return
    array.flush()
    del array


def _write_parquet(batches: Iterator[dict[str, np.ndarray]], path: str, columns: list[str]) -> None:
    """Write ``columns`` and the vectors (a fixed-size list of float32 per row) to one file."""
    pa = require("pyarrow", extra="ray", purpose="writing Parquet")
    pq = require("pyarrow.parquet", extra="ray", purpose="writing Parquet")
    writer = None
    try:
        for batch in batches:
            vectors = np.ascontiguousarray(batch[_VECTOR], dtype=np.float32)
            arrays = [pa.array(batch[name]) for name in columns]
            arrays.append(pa.FixedSizeListArray.from_arrays(vectors.ravel(), vectors.shape[1]))
            table = pa.Table.from_arrays(arrays, names=[*columns, _VECTOR])
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


class _BlockSearch:
    """One Ray actor holding the corpus: the exact local search of one block of queries."""

    def __init__(self, corpus: np.ndarray, memory_budget: int) -> None:
        self._corpus = corpus
        self._memory_budget = memory_budget

    def search(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return nearest_neighbors(queries, self._corpus, memory_budget=self._memory_budget)


def nearest_neighbors_on_ray(
    queries: np.ndarray,
    corpus: np.ndarray,
    *,
    concurrency: int = 2,
    block_rows: int = 65_536,
    num_cpus: float = 1,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    address: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`faultmap._neighbors.nearest_neighbors` on Ray: for each query row, the highest
    cosine similarity to a corpus row and that row's index.

    The corpus goes into Ray's object store once, read by ``concurrency`` actors
    (``num_cpus`` each); the queries go to them in blocks of ``block_rows``, each searched
    exactly by the local function. For ``audit_coverage`` the queries are the production
    vectors and the corpus the test vectors.

    Example:
        >>> sims, idx = nearest_neighbors_on_ray(production, tests, concurrency=8)  # doctest: +SKIP
        >>> distances = 1 - sims                                                    # doctest: +SKIP
    """
    _check_positive("nearest_neighbors_on_ray", "concurrency", concurrency)
    _check_positive("nearest_neighbors_on_ray", "block_rows", block_rows)
    q = np.asarray(queries, dtype=np.float32)
    n = len(q)
    if n == 0 or len(corpus) == 0:
        return nearest_neighbors(q, np.asarray(corpus, dtype=np.float32))
    ray = _ray(address)
    from ray.util import ActorPool

    corpus_ref = ray.put(np.ascontiguousarray(corpus, dtype=np.float32))
    actor = ray.remote(num_cpus=num_cpus)(_BlockSearch)
    blocks = math.ceil(n / block_rows)
    actors = [actor.remote(corpus_ref, memory_budget) for _ in range(min(concurrency, blocks))]
    try:
        pool = ActorPool(actors)
        parts = list(
            pool.map(
                lambda a, start: a.search.remote(q[start : start + block_rows]),
                range(0, n, block_rows),
            )
        )
    finally:
        for a in actors:
            ray.kill(a)
    sims = np.concatenate([p[0] for p in parts])
    idx = np.concatenate([p[1] for p in parts])
    return sims, idx


class RayNeighborSearch:
    """The exact nearest-neighbour search of ``audit_coverage`` on Ray
    (:func:`nearest_neighbors_on_ray`), for ``audit_coverage(neighbor_search=...)``: the
    production vectors are searched in blocks of ``block_rows`` by ``concurrency`` actors
    holding the test vectors, and the distances land in the usual report
    (``metadata["nearest_neighbors"]`` says ``"backend": "ray"``).

    Example:
        >>> report = SliceAnalyzer().audit_coverage(
        ...     tests, production, neighbor_search=RayNeighborSearch(concurrency=8)
        ... )  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        concurrency: int = 2,
        block_rows: int = 65_536,
        num_cpus: float = 1,
        address: str | None = None,
    ) -> None:
        _check_positive("RayNeighborSearch", "concurrency", concurrency)
        _check_positive("RayNeighborSearch", "block_rows", block_rows)
        self.concurrency = concurrency
        self.block_rows = block_rows
        self.num_cpus = num_cpus
        self.address = address

    def __repr__(self) -> str:
        return f"RayNeighborSearch(concurrency={self.concurrency}, block_rows={self.block_rows})"

    def search(
        self,
        queries: np.ndarray,
        corpus: np.ndarray,
        *,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """``(similarities, indices, details)`` as :func:`faultmap._neighbors.search`
        returns them for ``method="exact"``."""
        sims, idx = nearest_neighbors_on_ray(
            queries,
            corpus,
            concurrency=self.concurrency,
            block_rows=self.block_rows,
            num_cpus=self.num_cpus,
            memory_budget=memory_budget,
            address=self.address,
        )
        details = {
            "method": "exact",
            "backend": "ray",
            "actors": self.concurrency,
            "block_rows": self.block_rows,
        }
        return sims, idx, details
