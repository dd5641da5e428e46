"""Failure modes: slices that are one problem, merged and tested as one group.

One real problem often comes back as several slices: HDBSCAN cuts a task into clusters by
its rare tokens (chess positions by their moves, counting prompts by the objects counted).
This module puts the slices of one problem back together, and does it with a procedure whose
error rate is known.

The procedure
-------------
1. **A tree that never sees the labels.** The tested clusters (every cluster of at least
   ``min_slice_size`` rows) are the leaves; their centroids (mean unit vector, renormalised)
   are joined by average-linkage agglomeration on cosine distance
   (``scipy.cluster.hierarchy.linkage``). Each of the ``2C - 1`` nodes is the union of the
   clusters below it. Because the tree is built from the vectors alone, this family of
   candidate groups is fixed before any failure label is looked at.
2. **Every node is tested, as one family.** Each node gets the same one-sided test as a
   slice (its failure count against the rest of the analysed rows), and the ``2C - 1``
   p-values are corrected as one family (Benjamini–Hochberg by default; BY or Holm on
   request). The fine slices keep their own family of ``C`` tests.
3. **Merging looks at the labels, but only picks among rejected nodes.** A node is
   *homogeneous* when its two children fail at rates that a two-sided Fisher test does not
   tell apart and both children are homogeneous (leaves are). The ``C - 1`` merge tests are
   Bonferroni-corrected: a merge is refused when ``merge_p_value <= merge_level / (C - 1)``
   (``merge_level`` 0.05), so a problem that truly fails at one rate is split by chance with
   probability at most 0.05 however many clusters it spans. (Without the correction, a
   task cut into five clusters at one true rate was split by binomial noise alone.)
   Walking down from the root, the first node that is rejected (adjusted p-value below the
   significance level, rate above the baseline), homogeneous, and *at least as strong as
   every rejected node below it* is a failure mode; below it nothing else is reported as a
   mode. Modes are disjoint. "Strong" is Kulldorff's scan statistic
   (:func:`scan_statistics`: the log-likelihood ratio of "this group fails at its own rate"
   against "one rate for all"), the criterion spatial scan statistics use to pick the most
   likely cluster among nested candidates. Joining fragments of one problem that fail at
   one rate raises it (more rows, same excess), so they still merge; joining a failing
   cluster with healthy neighbours that the merge test cannot tell apart lowers it (the
   excess is diluted), so the failing cluster is reported alone. (Without this rule a
   90-prompt task failing at 0.34 was reported inside a 191-prompt mode of which it was 47 %,
   joined with four healthy clusters.)

Why the error rate holds: every mode is a node rejected by a correction over a family that
was fixed without the labels. Under the complete null (no cluster fails more than the rest),
any reported mode means at least one rejection in that family, so the chance of reporting
any mode is at most the chance that BH rejects anything, which is at most the level q (BH
controls the family-wise error under the complete null, for independent or positively
dependent tests; nested "group against the rest" tests are positively dependent; BY and
Holm need no such condition). The merge and the scan rule only choose *which* rejected
node to show. The
null audit (:func:`faultmap.analyses.evidence.null_audit`) reruns this whole procedure on
permuted labels and measures the rate on the user's own clusters. For partial nulls the
guarantee is on the node family (false discoveries among rejected nodes); a mode that joins
a failing cluster with a healthy neighbour is still a true discovery of a group that fails
more than the rest, and its member slices say which parts carry it.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> centres = np.eye(4)[[0, 0, 1, 2, 3]] + np.eye(4)[[1, 1, 0, 3, 2]] * 0.3
    >>> vectors = np.repeat(centres, 40, axis=0) + rng.normal(0, 0.01, (200, 4))
    >>> vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    >>> labels = np.repeat([0, 1, 2, 3, 4], 40)
    >>> fails = rng.random(200) < np.repeat([0.6, 0.6, 0.1, 0.1, 0.1], 40)
    >>> modes = find_modes(vectors, labels, fails, cluster_ids=[0, 1, 2, 3, 4])
    >>> [node.cluster_ids for node in modes.chosen]
    [[0, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from faultmap.analyses.describe import Describer
from faultmap.core.groups import group_sums, name_groups, unique_names
from faultmap.core.rows import Rows
from faultmap.exceptions import ConfigurationError
from faultmap.naming.base import Namer, SliceLabel
from faultmap.reports.models import FailureMode, FailureSlice, ModeNode
from faultmap.significance.tests import (
    adjust,
    homogeneity_tests,
    one_sided_proportion_tests,
)

__all__ = [
    "MERGE_LEVEL",
    "MODE_RULES",
    "ClusterTree",
    "ModeChoice",
    "choose_modes",
    "cluster_tree",
    "failure_modes",
    "find_modes",
    "merge_threshold",
    "per_cluster",
    "scan_statistics",
    "tree_from_sums",
]

#: Two neighbouring groups are merged unless a two-sided Fisher test of "same failure rate"
#: gives a p-value at or below this, Bonferroni-corrected over the tree's merges.
MERGE_LEVEL = 0.05

#: How a mode is chosen among the rejected homogeneous nodes of a branch (see
#: :func:`choose_modes`).
MODE_RULES = ("scan", "first")


@dataclass(frozen=True)
class ClusterTree:
    """The label-free tree over the tested clusters: ``cluster_ids`` are the leaves (node
    ``i`` is cluster ``cluster_ids[i]``), ``children[j]`` the two nodes joined into node
    ``C + j`` (scipy's linkage order, so children come before parents), and ``leaves[k]``
    the leaf positions under node ``k``."""

    cluster_ids: np.ndarray
    children: np.ndarray
    leaves: tuple[np.ndarray, ...]

    @property
    def num_nodes(self) -> int:
        return len(self.leaves)

    @property
    def root(self) -> int:
        return self.num_nodes - 1

    def node_sums(self, per_cluster: np.ndarray) -> np.ndarray:
        """Sum of a per-leaf quantity (in leaf order) over each node's leaves."""
        per_cluster = np.asarray(per_cluster)
        out = np.empty(self.num_nodes, dtype=per_cluster.dtype)
        c = len(self.cluster_ids)
        out[:c] = per_cluster
        for j, (a, b) in enumerate(self.children):
            out[c + j] = out[a] + out[b]
        return out


def cluster_tree(
    vectors: np.ndarray, labels: np.ndarray, cluster_ids: Sequence[int]
) -> ClusterTree:
    """Average-linkage tree (cosine distance) over the centroids of ``cluster_ids``.

    Example:
        >>> v = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1]], dtype=float)
        >>> tree = cluster_tree(v, np.array([0, 1, 2, 3]), [0, 1, 2, 3])
        >>> [sorted(tree.cluster_ids[x].tolist()) for x in tree.leaves[4:]]
        [[0, 1], [2, 3], [0, 1, 2, 3]]
    """
    ids = np.asarray(cluster_ids, dtype=np.int64)
    c = len(ids)
    if c < 2:
        return tree_from_sums(ids, np.zeros((c, 0)))
    labels = np.asarray(labels)
    position = np.full(int(labels.max()) + 1, -1, dtype=np.int64)
    position[ids] = np.arange(c)
    rows = np.flatnonzero(labels >= 0)
    where = position[labels[rows]]
    keep = where >= 0
    return tree_from_sums(ids, group_sums(vectors, rows[keep], where[keep], c))


def tree_from_sums(cluster_ids: Sequence[int], sums: np.ndarray) -> ClusterTree:
    """:func:`cluster_tree` from each cluster's sum of member vectors (one row per id of
    ``cluster_ids``, in that order): what a streamed analysis accumulates batch by batch.

    Example:
        >>> sums = np.array([[5, 0], [5, 0.5], [0, 5], [0.5, 5]], dtype=float)
        >>> tree = tree_from_sums([0, 1, 2, 3], sums)
        >>> [sorted(tree.cluster_ids[x].tolist()) for x in tree.leaves[4:]]
        [[0, 1], [2, 3], [0, 1, 2, 3]]
    """
    ids = np.asarray(cluster_ids, dtype=np.int64)
    c = len(ids)
    if c < 2:
        return ClusterTree(ids, np.empty((0, 2), np.int64), tuple(np.array([i]) for i in range(c)))
    from scipy.cluster.hierarchy import linkage

    sums = np.asarray(sums, dtype=np.float64)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    centroids = sums / np.where(norms > 0, norms, 1.0)
    merges = linkage(centroids, method="average", metric="cosine")
    children = merges[:, :2].astype(np.int64)
    leaves: list[np.ndarray] = [np.array([i]) for i in range(c)]
    for a, b in children:
        leaves.append(np.concatenate([leaves[a], leaves[b]]))
    return ClusterTree(ids, children, tuple(np.sort(x) for x in leaves))


def merge_threshold(num_clusters: int, merge_level: float = MERGE_LEVEL) -> float:
    """The merge test's threshold: ``merge_level`` Bonferroni-corrected over the
    ``num_clusters - 1`` merges of the tree.

    Example:
        >>> merge_threshold(11)
        0.005
    """
    return merge_level / max(num_clusters - 1, 1)


@dataclass(frozen=True)
class ModeChoice:
    """Every node's counts and tests, and the nodes chosen as failure modes (most
    significant first)."""

    tree: ClusterTree
    sizes: np.ndarray
    failures: np.ndarray
    p_values: np.ndarray
    tests_used: np.ndarray
    adjusted: np.ndarray
    merge_p_values: np.ndarray  # NaN for leaves
    homogeneous: np.ndarray
    modes: tuple[int, ...]

    @property
    def chosen(self) -> list[_Node]:
        return [self.node(k) for k in self.modes]

    def node(self, k: int) -> _Node:
        return _Node(k, sorted(int(x) for x in self.tree.cluster_ids[self.tree.leaves[k]]))


@dataclass(frozen=True)
class _Node:
    node_id: int
    cluster_ids: list[int]


def choose_modes(
    tree: ClusterTree,
    cluster_sizes: np.ndarray,
    cluster_failures: np.ndarray,
    total: int,
    total_failures: int,
    *,
    test: str = "fisher",
    correction: str = "bh",
    level: float = 0.05,
    merge_level: float = MERGE_LEVEL,
    rule: str = "scan",
) -> ModeChoice:
    """Test every node of ``tree`` against the rest, correct as one family, and walk down
    from the root to the first rejected homogeneous nodes (see the module docstring).

    ``rule="scan"`` (the default) also asks a mode to be at least as strong (scan
    statistic) as every rejected node below it; ``rule="first"`` takes the first rejected
    homogeneous node, as faultmap did before (kept for the benchmarks' comparison).

    ``cluster_sizes`` / ``cluster_failures`` are per leaf, in the tree's leaf order; totals
    are over every analysed row (noise and untested clusters included, as for slices).
    """
    if rule not in MODE_RULES:
        raise ConfigurationError(
            f"The 'rule' parameter of choose_modes must be one of {MODE_RULES}. Got {rule!r}."
        )
    c = len(tree.cluster_ids)
    empty = np.empty(0)
    if c == 0:
        return ModeChoice(tree, empty, empty, empty, empty, empty, empty, empty.astype(bool), ())
    sizes = tree.node_sums(np.asarray(cluster_sizes, dtype=np.int64))
    failures = tree.node_sums(np.asarray(cluster_failures, dtype=np.int64))
    p, used = one_sided_proportion_tests(failures, sizes, total_failures, total, test=test)
    adjusted = adjust(p, correction)
    merge_p = np.full(tree.num_nodes, np.nan)
    homogeneous = np.ones(tree.num_nodes, dtype=bool)
    if len(tree.children):
        a, b = tree.children[:, 0], tree.children[:, 1]
        merge_p[c:] = homogeneity_tests(failures[a], sizes[a], failures[b], sizes[b])
        threshold = merge_threshold(c, merge_level)
        for j, (x, y) in enumerate(tree.children):
            homogeneous[c + j] = homogeneous[x] and homogeneous[y] and merge_p[c + j] > threshold
    baseline = total_failures / total if total else 0.0
    rejected = (adjusted < level) & (failures / np.maximum(sizes, 1) > baseline)
    evidence = scan_statistics(failures, sizes, total_failures, total)
    if rule == "scan":
        best_below = np.full(tree.num_nodes, -np.inf)
        for j, (x, y) in enumerate(tree.children):
            best_below[c + j] = max(
                best_below[x],
                best_below[y],
                evidence[x] if rejected[x] else -np.inf,
                evidence[y] if rejected[y] else -np.inf,
            )
    else:  # "first"
        best_below = np.full(tree.num_nodes, -np.inf)
    modes: list[int] = []
    stack = [tree.root]
    while stack:
        k = stack.pop()
        if rejected[k] and homogeneous[k] and evidence[k] >= best_below[k]:
            modes.append(k)
        elif k >= c:
            stack.extend(int(x) for x in tree.children[k - c])
    rates = failures / np.maximum(sizes, 1)
    modes.sort(key=lambda k: (adjusted[k], -rates[k], k))
    return ModeChoice(tree, sizes, failures, p, used, adjusted, merge_p, homogeneous, tuple(modes))


def scan_statistics(
    failures: np.ndarray, sizes: np.ndarray, total_failures: int, total: int
) -> np.ndarray:
    """Kulldorff's scan statistic of each group: the log-likelihood ratio of "the group
    fails at its own rate and the rest at theirs" against "one rate for every row", zero
    when the group fails no more than the rest.

    Example:
        >>> scan_statistics(np.array([5, 0]), np.array([10, 10]), 6, 100).round(3).tolist()
        [10.271, 0.0]
    """
    from scipy.special import xlogy

    f = np.asarray(failures, dtype=np.float64)
    n = np.asarray(sizes, dtype=np.float64)
    rest_f, rest_n = total_failures - f, total - n
    inside = f / np.maximum(n, 1)
    outside = rest_f / np.maximum(rest_n, 1)
    llr = (
        xlogy(f, inside)
        + xlogy(n - f, 1 - inside)
        + xlogy(rest_f, outside)
        + xlogy(rest_n - rest_f, 1 - outside)
    )
    rate = total_failures / total if total else 0.0
    llr -= xlogy(total_failures, rate) + xlogy(total - total_failures, 1 - rate)
    return np.where(inside > outside, np.maximum(llr, 0.0), 0.0)


def find_modes(
    vectors: np.ndarray,
    labels: np.ndarray,
    failed: np.ndarray,
    *,
    cluster_ids: Sequence[int],
    test: str = "fisher",
    correction: str = "bh",
    level: float = 0.05,
    merge_level: float = MERGE_LEVEL,
) -> ModeChoice:
    """Build the tree over ``cluster_ids`` from ``vectors`` and choose the failure modes
    with the rows' ``failed`` flags (totals over every row of ``labels``)."""
    tree = cluster_tree(vectors, labels, cluster_ids)
    sizes, fails = per_cluster(labels, failed, tree.cluster_ids)
    return choose_modes(
        tree,
        sizes,
        fails,
        len(labels),
        int(np.count_nonzero(failed)),
        test=test,
        correction=correction,
        level=level,
        merge_level=merge_level,
    )


def per_cluster(
    labels: np.ndarray, failed: np.ndarray, cluster_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and failure counts of ``cluster_ids`` (in that order)."""
    labels = np.asarray(labels)
    inside = labels >= 0
    top = int(labels[inside].max()) + 1 if inside.any() else 0
    sizes = np.bincount(labels[inside], minlength=top)
    fails = np.bincount(labels[inside], weights=np.asarray(failed)[inside], minlength=top)
    ids = np.asarray(cluster_ids, dtype=np.int64)
    return sizes[ids].astype(np.int64), np.rint(fails[ids]).astype(np.int64)


def failure_modes(
    choice: ModeChoice,
    labels: np.ndarray,
    slices: list[FailureSlice],
    naming: Describer,
    namer: Namer,
    rows: Rows,
    digests: list[str],
) -> tuple[list[FailureMode], list[ModeNode]]:
    """The chosen modes as results (named from all their members, in one batch; a mode that
    is one slice keeps its slice's name) and every tested node as a :class:`ModeNode`."""
    tree = choice.tree
    c = len(tree.cluster_ids)
    nodes = [
        ModeNode(
            node_id=k,
            cluster_ids=choice.node(k).cluster_ids,
            children=[] if k < c else [int(x) for x in tree.children[k - c]],
            size=int(choice.sizes[k]),
            num_failures=int(choice.failures[k]),
            p_value=float(choice.p_values[k]),
            adjusted_p_value=float(choice.adjusted[k]),
            test_used=str(choice.tests_used[k]),
            merge_p_value=None if k < c else float(choice.merge_p_values[k]),
            homogeneous=bool(choice.homogeneous[k]),
        )
        for k in range(tree.num_nodes)
    ]
    if not choice.modes:
        return [], nodes
    position = {s.cluster_id: i for i, s in enumerate(slices)}
    mode_labels = np.full(len(labels), -1, dtype=np.int64)
    for j, k in enumerate(choice.modes):
        mode_labels[np.isin(labels, nodes[k].cluster_ids)] = j
    described = naming.describe(mode_labels, range(len(choice.modes)))
    # A mode that is one slice keeps the slice's name; the others are named from all their
    # members, in one batch, and kept distinct from the slice names.
    fresh = [
        j
        for j, k in enumerate(choice.modes)
        if not (len(nodes[k].cluster_ids) == 1 and nodes[k].cluster_ids[0] in position)
    ]
    named = unique_names(
        name_groups(namer, [described[j][1] for j in fresh]), {s.name for s in slices}
    )
    labels_by_mode: dict[int, SliceLabel] = dict(zip(fresh, named, strict=True))
    naming.mode_contexts = [ctx for _, ctx, _ in described]
    modes = []
    baseline = naming.baseline
    for j, k in enumerate(choice.modes):
        group, ctx, _ = described[j]
        node = nodes[k]
        if j in labels_by_mode:
            label = labels_by_mode[j]
        else:
            s = slices[position[node.cluster_ids[0]]]
            label = SliceLabel(
                s.name,
                s.description,
                s.root_cause,
                s.suggested_remediation,
                s.naming_source,
                s.naming_error,
            )
        rate = naming.failure_rate(group)
        modes.append(
            FailureMode(
                name=label.name,
                description=label.description,
                size=naming.size(group),
                failure_rate=rate,
                baseline_rate=baseline,
                effect_size=rate / baseline,
                p_value=node.p_value,
                adjusted_p_value=node.adjusted_p_value,
                test_used=node.test_used,
                slices=sorted(position[g] for g in node.cluster_ids if g in position),
                cluster_ids=node.cluster_ids,
                node_id=k,
                root_cause=label.root_cause,
                suggested_remediation=label.suggested_remediation,
                **naming.fields(group, ctx, label, rows, digests),
            )
        )
    return modes, nodes
