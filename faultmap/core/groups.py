"""The group-testing core every analysis runs on.

An analysis groups rows (clusters of prompt vectors, regions of pooled prompts, cells of a
cluster x metadata table), counts something per group, tests each group that is large
enough, corrects across the tested groups (one family, Benjamini–Hochberg by default), puts
an interval on each group's rate, and describes and names the groups it reports. The steps
live here once:

- :func:`cluster` runs the clustering stage and checks what it returned;
- :func:`count_by_group` counts a 0/1 column per group;
- :func:`test_family` tests every eligible group and adjusts the p-values as one family
  (:func:`correct`); :func:`interval` puts the interval on a group's rate;
- :func:`describe_groups` finds each group's members, central prompts and keywords;
  :func:`centre` where a group lies in the embedding space (centroid and spread);
- :func:`name_groups` asks the namer, falling back to keyword names on any failure;
- :class:`Timer` records how long each step took.

Example:
    >>> import numpy as np
    >>> labels = np.array([0, 0, 0, 1, 1, 1, -1])
    >>> failed = np.array([1, 1, 1, 0, 0, 1, 0], dtype=bool)
    >>> from faultmap.significance import one_sided_proportion_test
    >>> family = test_family(
    ...     labels, min_size=3,
    ...     test=lambda g, n: one_sided_proportion_test(
    ...         int(count_by_group(labels, failed)[g]), n, int(failed.sum()), len(failed)))
    >>> family.group_ids.tolist(), family.sizes.tolist()
    ([0, 1], [3, 3])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap._numeric import within
from faultmap._validation import Options, check_param
from faultmap.clustering.base import Clusterer
from faultmap.exceptions import ClusteringError, DataError
from faultmap.naming.base import Namer, SliceContext, SliceLabel
from faultmap.naming.keywords import KeywordNamer, distinctive_terms
from faultmap.significance.tests import CORRECTIONS, adjust, wilson_interval

__all__ = [
    "Family",
    "Group",
    "Timer",
    "centre",
    "cluster",
    "correct",
    "count_by_group",
    "describe_groups",
    "group_sums",
    "interval",
    "name_groups",
    "naming_fallbacks",
    "representatives",
    "test_family",
    "unique_names",
]

logger = logging.getLogger("faultmap")

#: Rows read at a time where a float64 working copy would otherwise be made of all of them.
BATCH_ROWS = 16_384


class Timer:
    """Seconds per step of one analysis (rounded to 0.1 ms), in the order they ran.

    Example:
        >>> timer = Timer()
        >>> with timer("cluster"):
        ...     pass
        >>> list(timer.timings)
        ['cluster']
    """

    def __init__(self, **known: float) -> None:
        self.timings: dict[str, float] = {k: round(v, 4) for k, v in known.items()}

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        start = time.perf_counter()
        logger.debug("step %s: started", step)
        try:
            yield
        finally:
            self.timings[step] = round(time.perf_counter() - start, 4)
            logger.debug("step %s: %.2f s", step, self.timings[step])


def cluster(clusterer: Clusterer, vectors: np.ndarray, min_size: int) -> np.ndarray:
    """Run the clustering stage; wrap its failures in :class:`ClusteringError` and check that
    it returned one integer label per vector (-1 = noise)."""
    try:
        labels = np.asarray(clusterer.fit_predict(vectors, min_cluster_size=min_size))
    except (DataError, ClusteringError):
        raise
    except Exception as exc:
        raise ClusteringError(
            f"Clustering with {clusterer.name!r} failed ({type(exc).__name__}: {exc})."
        ) from exc
    if labels.shape != (len(vectors),) or not np.issubdtype(labels.dtype, np.integer):
        raise ClusteringError(
            f"Clusterer {clusterer.name!r} returned labels of shape {labels.shape} and dtype "
            f"{labels.dtype}; expected one integer per prompt."
        )
    # int32 end to end: four bytes a row (40 MB at ten million rows)
    return labels.astype(np.int32, copy=False)


def count_by_group(labels: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Sum of the 0/1 ``column`` per group label >= 0 (index = label; rows labelled < 0,
    noise or left out, are not counted)."""
    labels = np.asarray(labels)
    inside = labels >= 0
    top = int(labels[inside].max()) + 1 if inside.any() else 0
    counts = np.bincount(labels[inside], weights=np.asarray(column)[inside], minlength=top)
    return np.rint(counts).astype(np.int64)


@dataclass(frozen=True)
class Family:
    """The groups tested together: ids, sizes, each test's result (with ``p_value`` and
    ``test_used``) and the adjusted p-values (Benjamini–Hochberg unless the family was
    tested with another correction), in ascending id order.

    ``num_groups`` counts every group (label >= 0), ``num_ungrouped`` the rows in none, and
    ``num_untested`` the rows of groups too small to test.
    """

    group_ids: np.ndarray
    sizes: np.ndarray
    results: tuple[Any, ...]
    adjusted: np.ndarray
    num_groups: int
    num_ungrouped: int
    num_untested: int

    def __iter__(self) -> Iterator[tuple[int, int, Any, float]]:
        """(group id, size, raw result, adjusted p-value) per tested group."""
        for g, n, r, a in zip(self.group_ids, self.sizes, self.results, self.adjusted, strict=True):
            yield int(g), int(n), r, float(a)


def test_family(
    labels: np.ndarray,
    *,
    min_size: int,
    test: Callable[[int, int], Any],
    eligible: Callable[[int, int], bool] | None = None,
    correction: str = "bh",
) -> Family:
    """Test each group of at least ``min_size`` rows (and ``eligible(group, size)``, a rule
    that may look at sizes only) with ``test(group, size)``; adjust the p-values as one
    family with ``correction`` (one of :data:`~faultmap.significance.CORRECTIONS`)."""
    check_param("test_family", "correction", correction, Options(CORRECTIONS))
    labels = np.asarray(labels)
    inside = labels[labels >= 0]
    ids, sizes = np.unique(inside, return_counts=True)
    keep = sizes >= min_size
    if eligible is not None:
        keep &= np.array([eligible(int(g), int(n)) for g, n in zip(ids, sizes, strict=True)], bool)
    results = tuple(test(int(g), int(n)) for g, n in zip(ids[keep], sizes[keep], strict=True))
    adjusted = correct([r.p_value for r in results], correction)
    return Family(
        group_ids=ids[keep].astype(np.int64),
        sizes=sizes[keep].astype(np.int64),
        results=results,
        adjusted=np.asarray(adjusted, dtype=np.float64),
        num_groups=int(ids.size),
        num_ungrouped=int((labels == -1).sum()),
        num_untested=int(sizes[sizes < min_size].sum()),
    )


test_family.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def correct(p_values: Sequence[float] | np.ndarray, method: str = "bh") -> np.ndarray:
    """The multiple-testing correction of one family of tests, the same in every analysis:
    adjusted p-values, Benjamini–Hochberg unless ``method`` says "by" or "holm"
    (:func:`faultmap.significance.adjust`).

    Example:
        >>> correct([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.04, 0.04]
    """
    return adjust(p_values, method)


def interval(failures: int, size: int) -> tuple[float, float]:
    """The 95 % interval every analysis puts on a group's rate (Wilson score interval).

    Example:
        >>> [round(x, 3) for x in interval(5, 10)]
        [0.237, 0.763]
    """
    return wilson_interval(failures, size)


def representatives(vectors: np.ndarray, members: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` members closest to the members' mean direction, most central first."""
    centroid = vectors[members].mean(axis=0)
    sims = vectors[members] @ centroid
    order = np.lexsort((members, -sims))  # most central first; ties by index
    return members[order[:k]]


def group_sums(
    vectors: np.ndarray, rows: np.ndarray, groups: np.ndarray, num_groups: int
) -> np.ndarray:
    """Float64 sum of ``vectors[rows]`` per group (``groups``: one id in [0, num_groups) per
    row), read ``BATCH_ROWS`` rows at a time: no float64 copy of the matrix.

    Example:
        >>> group_sums(np.eye(3, dtype=np.float32), np.array([0, 1, 2]), np.array([1, 0, 1]), 2)
        array([[0., 1., 0.],
               [1., 0., 1.]])
    """
    sums = np.zeros((num_groups, vectors.shape[1]), dtype=np.float64)
    for i in range(0, len(rows), BATCH_ROWS):
        block = np.asarray(vectors[rows[i : i + BATCH_ROWS]], dtype=np.float64)
        np.add.at(sums, groups[i : i + BATCH_ROWS], block)
    return sums


def centre(
    vectors: np.ndarray, rows: np.ndarray | None = None
) -> tuple[np.ndarray, float, float] | None:
    """Where a group of unit vectors lies: its centroid (mean vector renormalised) and the
    median and 10th percentile of the members' cosine similarities to it. ``None`` for no
    members or a zero mean. ``rows`` picks the members of ``vectors`` (default: all); they
    are read ``BATCH_ROWS`` at a time, so a large group is never copied whole.

    Example:
        >>> c, median, q10 = centre(np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]))
        >>> c.round(4).tolist(), round(median, 4), round(q10, 4)
        ([0.6644, 0.7474], 0.7474, 0.681)
    """
    if np.ndim(vectors) != 2:
        return None
    rows = np.arange(len(vectors)) if rows is None else np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return None
    blocks = range(0, rows.size, BATCH_ROWS)
    total = np.zeros(vectors.shape[1])
    for i in blocks:
        total += np.asarray(vectors[rows[i : i + BATCH_ROWS]], np.float64).sum(axis=0)
    mean = total / rows.size
    norm = float(np.linalg.norm(mean))
    if not norm > 0:
        return None
    c = mean / norm
    dots = np.concatenate(
        [np.asarray(vectors[rows[i : i + BATCH_ROWS]], np.float64) @ c for i in blocks]
    )
    # Cosines of unit vectors (float32, norms within 1e-5 of 1) can pass 1 by round-off.
    sims = within(dots, -1.0, 1.0, "cosine similarity to the centroid", tol=1e-4)
    return c, float(np.median(sims)), float(np.quantile(sims, 0.1))


@dataclass(frozen=True)
class Group:
    """Rows of one group to be named: member indices (ascending), the most central members
    and the group's distinctive words."""

    group_id: int
    members: np.ndarray
    representatives: np.ndarray
    keywords: tuple[str, ...]

    def context(
        self, prompts: Sequence[str], *, size: int | None = None, **fields: Any
    ) -> SliceContext:
        """The namer's view of this group; ``fields`` are the kind-specific ones. ``size``
        counts the group's rows when ``members`` are a sample of them."""
        return SliceContext(
            slice_id=self.group_id,
            size=len(self.members) if size is None else size,
            keywords=self.keywords,
            representative_prompts=tuple(prompts[i] for i in self.representatives),
            **fields,
        )


def describe_groups(
    prompts: Sequence[str],
    vectors: np.ndarray,
    labels: np.ndarray,
    group_ids: Sequence[int],
    *,
    n_representative: int,
) -> list[Group]:
    """Members, representatives and keywords of each group in ``group_ids``, in that order.

    Keywords are distinctive against every other label of ``labels`` (noise included), see
    :func:`~faultmap.naming.keywords.distinctive_terms`; they are computed only when there is
    a group to describe.
    """
    if len(group_ids) == 0:
        return []
    keywords = distinctive_terms(prompts, labels)
    groups = []
    for g in group_ids:
        members = np.flatnonzero(labels == g)
        groups.append(
            Group(
                group_id=int(g),
                members=members,
                representatives=representatives(vectors, members, n_representative),
                keywords=tuple(keywords.get(int(g), ())),
            )
        )
    return groups


def name_groups(namer: Namer, contexts: list[SliceContext]) -> list[SliceLabel]:
    """One label per context from ``namer``; if the namer fails or miscounts, keyword labels
    with the reason in ``SliceLabel.error`` (a namer must never cost the analysis)."""
    if not contexts:
        return []
    try:
        labels = list(namer.name(contexts))
        if len(labels) != len(contexts):
            raise ValueError(f"returned {len(labels)} labels for {len(contexts)} slices")
        return labels
    except Exception as exc:  # a namer must never cost the analysis
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("Naming failed (%s); using keyword names", reason)
        fallback = KeywordNamer().name(contexts)
        return [SliceLabel(**{**lab.__dict__, "error": reason}) for lab in fallback]


def unique_names(labels: list[SliceLabel], used: set[str]) -> list[SliceLabel]:
    """``labels`` with a " (2)", " (3)"... suffix on names already in ``used`` (updated)."""
    out = []
    for label in labels:
        name, n = label.name, 2
        while name in used:
            name, n = f"{label.name} ({n})", n + 1
        used.add(name)
        out.append(label if name == label.name else SliceLabel(**{**label.__dict__, "name": name}))
    return out


def naming_fallbacks(items: Sequence[Any]) -> int:
    """How many named results carry a ``naming_error`` (their namer fell back to keywords)."""
    return sum(getattr(item, "naming_error", None) is not None for item in items)
