"""Names that are checked: does a group's name pick out the group's own prompts?

A name is a claim about a group of prompts ("date arithmetic", "chess / moves / notation").
The check treats the name as a classifier and measures how well it separates the group's
members from non-members, on members that were *not* used to make the name:

- **Score.** Each row gets a score for the name. With an embedder, the score is the cosine
  similarity of the row's vector to the name's vector (the same model embeds both). Without
  one, the score is lexical: the share of the name's content words (lowercased word tokens,
  the "/" separators and English stop words dropped) that occur as words of the row's prompt.
- **AUC.** The name's score is the area under the ROC curve of these scores, held-out members
  against non-members: the probability that a random held-out member scores above a random
  non-member, ties counting half (the Mann–Whitney U statistic divided by ``n1 * n2``,
  :func:`scipy.stats.mannwhitneyu`). 0.5 is a name that says nothing about the group; 1.0
  a name that ranks every member above every non-member. A name below :data:`FLAG_BELOW`
  (0.6) is flagged as one that does not discriminate.
- **Held-out members.** Judging a name on the prompts it was made from would flatter it (a
  keyword found in half the members "describes" those members by construction). So a keyword
  name is made from a random half A of each group and judged on the other half B
  (:func:`keyword_halves`); an LLM name is judged on the members the LLM was not shown (not
  among the representative prompts or failing examples of its
  :class:`~faultmap.naming.SliceContext`, :func:`unseen_members`).
- **Non-members** are the rows outside the group (ungrouped rows included). Held-out members
  and non-members are subsampled (seeded) to at most ``max_members`` and ``max_others``,
  which bounds the cost and keeps the AUC's standard error near 0.02-0.04.
- **Re-asking.** A flagged LLM name is asked for once more with *counter-examples*: the
  non-members nearest to the group's mean direction (:func:`counter_examples`), the prompts
  most easily confused with the group. They travel to the LLM as data, like every sample,
  with the instruction that the name must exclude them (:func:`recheck_names`).

Only numpy is imported with this module; scipy and sklearn are imported when used.

Example:
    >>> import numpy as np
    >>> prompts = ["tax refund question", "late tax return", "cat food brand", "cat litter"]
    >>> name_auc("tax return", np.array([0, 1]), np.array([2, 3]), prompts=prompts,
    ...          vectors=None, embed=None)
    1.0
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from faultmap.naming.base import Namer, SliceContext, SliceLabel
from faultmap.naming.keywords import KeywordNamer, distinctive_terms

__all__ = [
    "FLAG_BELOW",
    "check_names",
    "counter_examples",
    "keyword_halves",
    "name_auc",
    "recheck_names",
    "unseen_members",
]

logger = logging.getLogger("faultmap")

#: AUC under which a name is flagged as one that does not discriminate its group.
FLAG_BELOW = 0.6

_WORD = re.compile(r"\w+")

Embed = Callable[[list[str]], np.ndarray]


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _content_words(name: str) -> list[str]:
    """The name's lowercased word tokens without English stop words ("/" is not a word)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(_words(name) - ENGLISH_STOP_WORDS)


def _lexical_scores(name: str, rows: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
    words = _content_words(name)
    if not words:
        return np.zeros(len(rows))
    return np.array([sum(w in _words(prompts[i]) for w in words) / len(words) for i in rows])


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _auc(member_scores: np.ndarray, other_scores: np.ndarray) -> float:
    if len(member_scores) == 0 or len(other_scores) == 0:
        return float("nan")
    from scipy.stats import mannwhitneyu

    u = mannwhitneyu(member_scores, other_scores, method="asymptotic").statistic
    return float(u) / (len(member_scores) * len(other_scores))


def _scores(
    name: str,
    name_vector: np.ndarray | None,
    rows: np.ndarray,
    prompts: Sequence[str],
    vectors: np.ndarray | None,
) -> np.ndarray:
    if name_vector is None:
        return _lexical_scores(name, rows, prompts)
    if vectors is None:
        raise ValueError("Checking names with an embedder needs the rows' vectors.")
    return _unit(np.asarray(vectors)[rows]) @ _unit(name_vector)


def name_auc(
    name: str,
    members: np.ndarray,
    others: np.ndarray,
    *,
    prompts: Sequence[str],
    vectors: np.ndarray | None,
    embed: Embed | None,
) -> float:
    """How well ``name`` picks out ``members`` (row indices) against ``others``: the AUC of
    the rows' scores for the name (see the module documentation), NaN if either side is empty.

    With ``embed`` (texts -> vectors, the model that made ``vectors``) a row's score is the
    cosine similarity of its vector to the name's; without it, the share of the name's content
    words found among the words of the row's prompt.

    Example:
        >>> prompts = ["chess opening moves", "best chess move here", "bake a cake", "rain"]
        >>> name_auc("chess / moves", np.array([0, 1]), np.array([2, 3]), prompts=prompts,
        ...          vectors=None, embed=None)
        1.0
    """
    members, others = np.asarray(members, dtype=np.int64), np.asarray(others, dtype=np.int64)
    if len(members) == 0 or len(others) == 0:
        return float("nan")
    name_vector = None if embed is None else np.asarray(embed([name]))[0]
    return _auc(
        _scores(name, name_vector, members, prompts, vectors),
        _scores(name, name_vector, others, prompts, vectors),
    )


def _cap(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    if len(rows) <= limit:
        return rows
    return np.sort(rng.choice(rows, size=limit, replace=False))


def check_names(
    prompts: Sequence[str],
    vectors: np.ndarray | None,
    groups: Sequence[np.ndarray],
    names: Sequence[str],
    *,
    held_out: Sequence[np.ndarray] | None = None,
    embed: Embed | None = None,
    seed: int = 0,
    max_members: int = 200,
    max_others: int = 1000,
) -> list[float]:
    """One AUC per group (:func:`name_auc`): ``names[i]`` judged on ``held_out[i]`` (row
    indices; all of ``groups[i]`` when not given) against the rows outside ``groups[i]``.

    Held-out members and non-members are subsampled to ``max_members`` and ``max_others``
    with one ``np.random.default_rng(seed)``, group after group; with ``embed`` every name is
    embedded in one call. A value below :data:`FLAG_BELOW` flags a name that does not
    discriminate; NaN means a side was empty (nothing held out, or no row outside the group).

    Example:
        >>> prompts = ["tax refund", "tax return", "cat food", "cat litter", "weather"]
        >>> groups = [np.array([0, 1]), np.array([2, 3])]
        >>> check_names(prompts, None, groups, ["tax", "dog food"])
        [1.0, 0.75]
    """
    if len(groups) != len(names):
        raise ValueError(f"Got {len(names)} names for {len(groups)} groups.")
    if held_out is not None and len(held_out) != len(groups):
        raise ValueError(f"Got {len(held_out)} held-out sets for {len(groups)} groups.")
    if not names:
        return []
    name_vectors: list[np.ndarray | None] = [None] * len(names)
    if embed is not None:
        name_vectors = list(np.asarray(embed(list(names))))
    rng = np.random.default_rng(seed)
    everyone = np.arange(len(prompts))
    out = []
    for i, (group, name) in enumerate(zip(groups, names, strict=True)):
        group = np.asarray(group, dtype=np.int64)
        judged = group if held_out is None else np.asarray(held_out[i], dtype=np.int64)
        members = _cap(judged, max_members, rng)
        others = _cap(np.setdiff1d(everyone, group), max_others, rng)
        if len(members) == 0 or len(others) == 0:
            out.append(float("nan"))
            continue
        out.append(
            _auc(
                _scores(name, name_vectors[i], members, prompts, vectors),
                _scores(name, name_vectors[i], others, prompts, vectors),
            )
        )
    return out


def keyword_halves(
    prompts: Sequence[str],
    labels: np.ndarray,
    group_ids: Sequence[int],
    *,
    terms_in_name: int = 3,
    seed: int = 0,
) -> tuple[list[str], list[np.ndarray]]:
    """Keyword names made from half of each group, and the other half to judge them on.

    Each group's members are split at random (seeded) into halves A and B (A takes the odd
    member). The half-B members of every group are relabelled ungrouped (-1), everything else
    kept, and the names are made from that labelling exactly as in an analysis: the
    distinctive terms of :func:`~faultmap.naming.keywords.distinctive_terms` named by
    :class:`~faultmap.naming.KeywordNamer` (its top ``terms_in_name`` terms, made unique
    across the batch). So a name is made from half A only; check it with
    ``check_names(prompts, vectors, groups, names, held_out=halves_b)``. (As ungrouped rows,
    half B's words count against the group's, so on small groups without noise the check is,
    if anything, a little pessimistic: words shared by the whole group rank slightly lower.)

    Returns ``(names, halves_b)`` in the order of ``group_ids``.

    Example:
        >>> prompts = ["tax refund", "tax return", "tax form", "tax office", "tax law", "tax year",
        ...            "cat food", "cat litter", "cat toy", "cat bed", "cat hair", "cat flap"]
        >>> names, halves = keyword_halves(prompts, np.array([0] * 6 + [1] * 6), [0, 1],
        ...                                terms_in_name=1)
        >>> names, [len(h) for h in halves]
        (['tax', 'cat'], [3, 3])
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    relabelled = labels.copy()
    halves_a, halves_b = [], []
    for g in group_ids:
        members = rng.permutation(np.flatnonzero(labels == g))
        cut = (len(members) + 1) // 2
        halves_a.append(np.sort(members[:cut]))
        halves_b.append(np.sort(members[cut:]))
        relabelled[halves_b[-1]] = -1
    if not group_ids:
        return [], []
    terms = distinctive_terms(prompts, relabelled)
    contexts = [
        SliceContext(slice_id=int(g), size=len(a), keywords=tuple(terms.get(int(g), ())))
        for g, a in zip(group_ids, halves_a, strict=True)
    ]
    names = [label.name for label in KeywordNamer(terms_in_name).name(contexts)]
    return names, halves_b


def unseen_members(
    prompts: Sequence[str], members: np.ndarray, context: SliceContext
) -> np.ndarray:
    """The members whose prompt the namer was not shown: not among ``context``'s
    representative prompts or failing examples (compared as whole texts). These are the
    held-out members for an LLM name.

    Example:
        >>> ctx = SliceContext(0, 3, representative_prompts=("a b",))
        >>> unseen_members(["a b", "c d", "e f"], np.array([0, 1, 2]), ctx).tolist()
        [1, 2]
    """
    shown = set(context.representative_prompts) | {p for p, _, _ in context.failing_examples}
    members = np.asarray(members, dtype=np.int64)
    return members[np.array([prompts[i] not in shown for i in members], dtype=bool)]


def counter_examples(
    vectors: np.ndarray, members: np.ndarray, others: np.ndarray, k: int = 5
) -> np.ndarray:
    """The ``k`` rows of ``others`` nearest to the members' mean direction (highest dot
    product with the mean of the members' unit vectors), nearest first, ties by index: the
    non-members most easily confused with the group.

    Example:
        >>> v = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.6], [0.0, 1.0]])
        >>> counter_examples(v, np.array([0, 1]), np.array([2, 3]), k=1).tolist()
        [2]
    """
    members, others = np.asarray(members, dtype=np.int64), np.asarray(others, dtype=np.int64)
    if len(members) == 0 or len(others) == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    centroid = np.asarray(vectors)[members].mean(axis=0)
    sims = np.asarray(vectors)[others] @ centroid
    order = np.lexsort((others, -sims))
    return others[order[:k]]


def recheck_names(
    namer: Namer,
    contexts: Sequence[SliceContext],
    aucs: Sequence[float],
    counter: list[tuple[str, ...]],
    *,
    llm_named: Sequence[bool] | None = None,
) -> tuple[list[SliceLabel | None], int]:
    """Ask ``namer`` once more, with counter-examples, for every flagged LLM name.

    A context is re-asked when its AUC is below :data:`FLAG_BELOW` (NaN is not flagged), its
    label came from an LLM (``llm_named[i]``; by default every context passed is taken to be
    LLM-named, so pass only those or a mask) and it has counter-examples (``counter[i]``, the
    prompts of :func:`counter_examples`). All of them go to ``namer.name`` in one batch, each
    context with its ``counter_examples`` field set.

    Returns one entry per context, the new label or ``None`` (not re-asked, or its answer
    failed: the namer raised, miscounted, or fell back to keywords for it, i.e. the label
    carries an ``error``), and the number of contexts sent again. A failing namer is logged on
    the "faultmap" logger, never raised. New names are unique within the batch only; make them
    unique against the other names with :func:`faultmap.core.groups.unique_names`.
    """
    n = len(contexts)
    if len(aucs) != n or len(counter) != n or (llm_named is not None and len(llm_named) != n):
        raise ValueError("recheck_names needs one AUC, counter-example tuple and flag per context.")
    asked = [
        i
        for i in range(n)
        if aucs[i] < FLAG_BELOW and (llm_named is None or llm_named[i]) and counter[i]
    ]
    out: list[SliceLabel | None] = [None] * n
    if not asked:
        return out, 0
    batch = [replace(contexts[i], counter_examples=tuple(counter[i])) for i in asked]
    try:
        labels = list(namer.name(batch))
        if len(labels) != len(batch):
            raise ValueError(f"returned {len(labels)} labels for {len(batch)} slices")
    except Exception as exc:  # a namer must never cost the analysis
        logger.warning(
            "Re-asking the namer for %d flagged names failed (%s: %s); the names stay",
            len(batch),
            type(exc).__name__,
            exc,
        )
        return out, len(asked)
    for i, label in zip(asked, labels, strict=True):
        if label.error is not None:
            logger.warning(
                "Re-asking the namer for slice %d failed (%s); the name stays",
                contexts[i].slice_id,
                label.error,
            )
            continue
        out[i] = label
    return out, len(asked)
