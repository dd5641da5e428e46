"""Pass-through clusterer: labels you already have (topics, tasks, routes)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from faultmap.exceptions import DataError

__all__ = ["FixedLabels"]


class FixedLabels:
    """Use given group labels instead of clustering. Any hashable labels; ``None`` is noise.

    Example:
        >>> FixedLabels(["a", "b", "a", None]).fit_predict(np.zeros((4, 2)), min_cluster_size=2)
        array([ 0,  1,  0, -1])
    """

    name = "fixed"

    def __init__(self, labels: Sequence[object]) -> None:
        self.labels = list(labels)

    def fit_predict(self, vectors: np.ndarray, *, min_cluster_size: int) -> np.ndarray:
        if len(self.labels) != len(vectors):
            raise DataError(
                f"FixedLabels has {len(self.labels)} labels but there are {len(vectors)} prompts; "
                "pass one label per prompt."
            )
        codes: dict[object, int] = {}
        out = np.empty(len(self.labels), dtype=np.int64)
        for i, label in enumerate(self.labels):
            out[i] = -1 if label is None else codes.setdefault(label, len(codes))
        return out
