"""Planted-slice data: rows with failing groups you choose, the same for the same seed.

:func:`planted_vectors` makes unit vectors in well-separated groups, :func:`planted_prompts`
prompt texts on distinct topics, :func:`planted_failures` failure flags for group labels you
have; the first two return :class:`PlantedData`. Each draw (vectors, failures, texts, order)
has its own random stream, so changing the failure rates moves neither vectors nor prompts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap._validation import Interval, IsInstance, check_param
from faultmap.exceptions import ConfigurationError
from faultmap.testing._topics import topic_pools

__all__ = ["PlantedData", "planted_failures", "planted_prompts", "planted_vectors"]


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
        >>> import numpy as np
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

    ``topics`` is a number of built-in topics (:data:`~faultmap.testing.PROMPT_TOPICS`:
    dates, translation, baking, taxes, travel, programming; 256 distinct prompts each), their
    names, or your own mapping of topic name to prompts. Each topic's rows draw its prompts in
    a seeded order; past the end of its list they repeat with a ``" (variant k)"`` suffix, so
    every prompt is distinct. ``groups`` holds the topic names. ``vectors`` are stand-ins, one
    direction per topic as in :func:`planted_vectors`; embed ``prompts`` with a real model for
    end-to-end tests. The same seed gives the same data.

    Example:
        >>> data = planted_prompts(40, ("taxes", "baking"), failing={"baking": 0.5}, seed=0)
        >>> data.group_names, data.observed_rates()
        (['taxes', 'baking'], {'taxes': 0.05, 'baking': 0.5})
        >>> "tax" in data.prompts[0], len(set(data.prompts))
        (True, 40)
    """
    owner = "planted_prompts"
    rates = _check_rates(owner, failing, baseline)
    names, pools = topic_pools(owner, topics)
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
