"""Two-model comparison: which model is better, overall and on each slice of prompts?

Recipe over :mod:`faultmap.core`. Each prompt has a pass/fail outcome for model A and for
model B (score below ``failure_threshold`` = fail). Only *discordant* prompts, where exactly
one model failed, say which model is better: McNemar's test
(:func:`~faultmap.significance.mcnemar_test`) asks whether they split unevenly, on all
prompts (the global verdict) and on each cluster of at least ``min_slice_size`` prompts
(Benjamini–Hochberg across clusters). The clustering sees only the prompt vectors, never
the outcomes.

Every tested cluster is reported in ``tested_slices``; its ``winner`` is "a" or "b" when its
adjusted p-value is below ``significance_level`` (the significant slices, also in
``slices``), else "tie". Significant slices are named by the configured namer (an LLM when
one is set), ties from their keywords.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap._validation import as_embeddings, as_text_list, check_same_length
from faultmap.analyses.inputs import (
    Setup,
    checked_references,
    note_repairs,
    precomputed,
    score,
    scored_rows,
)
from faultmap.clustering.base import Clusterer
from faultmap.core.groups import (
    Group,
    cluster,
    count_by_group,
    describe_groups,
    name_groups,
    naming_fallbacks,
    test_family,
    unique_names,
)
from faultmap.core.projection import MapSettings, prompt_map
from faultmap.core.rows import Rows, failed
from faultmap.core.run import Run
from faultmap.exceptions import DataError
from faultmap.naming.base import Namer, SliceContext
from faultmap.naming.keywords import KeywordNamer
from faultmap.reports.models import ComparisonReport, SliceComparison
from faultmap.significance.tests import mcnemar_test

__all__ = [
    "ComparisonSettings",
    "advantage_rate",
    "compare",
    "compare_slices",
    "comparison_map",
    "winner",
]

logger = logging.getLogger("faultmap")


@dataclass(frozen=True, kw_only=True)
class ComparisonSettings:
    significance_level: float = 0.05
    min_slice_size: int = 10
    failure_threshold: float = 0.5
    n_examples: int = 5
    n_representative: int = 5
    correction: str = "bh"


def advantage_rate(a_wins: int, b_wins: int) -> float:
    """Model A's share of the discordant pairs; 0.5 when there are none.

    Example:
        >>> advantage_rate(30, 10), advantage_rate(0, 0)
        (0.75, 0.5)
    """
    n = a_wins + b_wins
    return a_wins / n if n else 0.5


def winner(a_wins: int, b_wins: int, p_value: float, level: float) -> str:
    """ "a" or "b" (the model winning more discordant pairs) when ``p_value < level``,
    else "tie".

    Example:
        >>> winner(30, 10, 0.001, 0.05), winner(30, 10, 0.2, 0.05)
        ('a', 'tie')
    """
    if p_value >= level or a_wins == b_wins:
        return "tie"
    return "a" if a_wins > b_wins else "b"


@dataclass(frozen=True)
class _Tested:
    """One tested cluster before naming."""

    group: Group
    p_value: float
    adjusted_p_value: float
    test_used: str
    winner: str
    a_wins: int
    b_wins: int
    failure_rate_a: float
    failure_rate_b: float
    context: SliceContext


def compare_slices(
    prompts: Sequence[str],
    responses_a: Sequence[str],
    responses_b: Sequence[str],
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    vectors: np.ndarray,
    *,
    clusterer: Clusterer,
    namer: Namer,
    settings: ComparisonSettings,
    model_a_name: str,
    model_b_name: str,
    embedding_model: str,
    scoring_mode: str = "precomputed",
    rows: Rows | None = None,
    run: Run | None = None,
    map_settings: MapSettings | None = None,
    metadata: dict[str, Any] | None = None,
) -> ComparisonReport:
    """Global and per-cluster McNemar tests of model A against model B.

    Inputs are the analysed rows only, assumed validated (same lengths, scores in [0, 1],
    unit vectors); ``rows`` says which input rows they are, as in
    :func:`~faultmap.analyses.slices.find_slices`. With ``map_settings`` the report's ``map``
    places the prompts, with each prompt's ``outcome``.

    Example:
        >>> report = compare_slices(prompts, ra, rb, sa, sb, vectors,  # doctest: +SKIP
        ...     clusterer=clusterer, namer=KeywordNamer(), settings=ComparisonSettings(),
        ...     model_a_name="A", model_b_name="B", embedding_model="precomputed")
    """
    rows = rows if rows is not None else Rows.all(len(prompts))
    run = run or Run()
    meta = {**run.metadata, **(metadata or {})}
    n = len(prompts)
    fail_a = failed(scores_a, settings.failure_threshold)
    fail_b = failed(scores_b, settings.failure_threshold)
    a_won = ~fail_a & fail_b  # discordant pairs: only B failed
    b_won = fail_a & ~fail_b  # only A failed
    a_wins, b_wins = int(a_won.sum()), int(b_won.sum())
    overall = mcnemar_test(a_wins, b_wins)
    common: dict[str, Any] = dict(
        model_a_name=model_a_name,
        model_b_name=model_b_name,
        total_prompts=n,
        failure_rate_a=float(fail_a.mean()),
        failure_rate_b=float(fail_b.mean()),
        discordant_a_wins=a_wins,
        discordant_b_wins=b_wins,
        global_winner=winner(a_wins, b_wins, overall.p_value, settings.significance_level),
        global_advantage_rate=advantage_rate(a_wins, b_wins),
        global_p_value=overall.p_value,
        global_test_used=overall.test_used,
        clustering_method=clusterer.name,
        embedding_model=embedding_model,
        scoring_mode=scoring_mode,
        significance_level=settings.significance_level,
        failure_threshold=settings.failure_threshold,
        min_slice_size=settings.min_slice_size,
        correction=settings.correction,
        rows=rows,
        row_scores_a=rows.spread(np.asarray(scores_a, dtype=np.float64), np.nan).tolist(),
        row_scores_b=rows.spread(np.asarray(scores_b, dtype=np.float64), np.nan).tolist(),
    )
    if a_wins + b_wins == 0:
        meta["note"] = "no discordant pairs: the models pass and fail on the same prompts"
        return ComparisonReport(
            num_significant_slices=0, slices=[], metadata=run.finish(meta), **common
        )

    with run.timer("cluster"):
        labels = cluster(clusterer, vectors, settings.min_slice_size)

    with run.timer("test"):
        a_counts, b_counts = count_by_group(labels, a_won), count_by_group(labels, b_won)
        family = test_family(
            labels,
            min_size=settings.min_slice_size,
            test=lambda g, _size: mcnemar_test(int(a_counts[g]), int(b_counts[g])),
            correction=settings.correction,
        )

    with run.timer("name"):
        groups = describe_groups(
            prompts,
            vectors,
            labels,
            [int(g) for g in family.group_ids],
            n_representative=settings.n_representative,
        )
        tested = []
        for group, (g, _size, result, adj) in zip(groups, family, strict=True):
            m = group.members
            a_c, b_c = int(a_counts[g]), int(b_counts[g])
            win = winner(a_c, b_c, adj, settings.significance_level)
            rate_a, rate_b = float(fail_a[m].mean()), float(fail_b[m].mean())
            # for the namer: prompts the losing model failed and the winner passed, worst first
            won, loser_scores, loser_responses = (
                (a_won, scores_b, responses_b) if win == "a" else (b_won, scores_a, responses_a)
            )
            lost = m[won[m]] if win != "tie" else m[:0]
            lost = lost[np.argsort(loser_scores[lost], kind="stable")][: settings.n_examples]
            context = group.context(
                prompts,
                kind="comparison",
                model_names=(model_a_name, model_b_name),
                statistics=(
                    ("failure_rate_a", rate_a),
                    ("failure_rate_b", rate_b),
                    ("advantage_rate_a", advantage_rate(a_c, b_c)),
                ),
                failing_examples=tuple(
                    (prompts[i], loser_responses[i], float(loser_scores[i])) for i in lost
                ),
            )
            tested.append(
                _Tested(
                    group,
                    result.p_value,
                    adj,
                    result.test_used,
                    win,
                    a_c,
                    b_c,
                    rate_a,
                    rate_b,
                    context,
                )
            )
        significant = [t for t in tested if t.winner != "tie"]
        ties = [t for t in tested if t.winner == "tie"]
        significant.sort(
            key=lambda t: (t.adjusted_p_value, -len(t.group.members), t.group.group_id)
        )
        ties.sort(key=lambda t: (-len(t.group.members), t.group.group_id))
        used: set[str] = set()
        names = unique_names(name_groups(namer, [t.context for t in significant]), used)
        names += unique_names(name_groups(KeywordNamer(), [t.context for t in ties]), used)

    slices = []
    for t, label in zip(significant + ties, names, strict=True):
        members = t.group.members
        both_fail = int((fail_a[members] & fail_b[members]).sum())
        slices.append(
            SliceComparison(
                name=label.name,
                description=label.description,
                size=len(members),
                winner=t.winner,
                failure_rate_a=t.failure_rate_a,
                failure_rate_b=t.failure_rate_b,
                advantage_rate=advantage_rate(t.a_wins, t.b_wins),
                discordant_a_wins=t.a_wins,
                discordant_b_wins=t.b_wins,
                p_value=t.p_value,
                adjusted_p_value=t.adjusted_p_value,
                test_used=t.test_used,
                cluster_id=t.group.group_id,
                sample_indices=[int(i) for i in rows.input_index(members)],
                representative_prompts=list(t.context.representative_prompts),
                examples=[
                    {
                        "index": int(rows.analysed[i]),
                        "prompt": prompts[i],
                        "response_a": responses_a[i],
                        "response_b": responses_b[i],
                        "score_a": float(scores_a[i]),
                        "score_b": float(scores_b[i]),
                        "won_by": side,
                    }
                    for side, mask in (("a", a_won), ("b", b_won))
                    for i in members[mask[members]][: settings.n_examples]
                ],
                keywords=list(t.context.keywords),
                root_cause=label.root_cause,
                suggested_remediation=label.suggested_remediation,
                naming_source=label.source,
                naming_error=label.error,
                concordant_pass=len(members) - t.a_wins - t.b_wins - both_fail,
                concordant_fail=both_fail,
            )
        )
    if naming_fallbacks(slices):
        meta["naming_fallbacks"] = naming_fallbacks(slices)
    positions: dict[str, Any] = {}
    if map_settings is not None:
        with run.timer("map"):
            positions = comparison_map(
                prompts,
                vectors,
                labels,
                ~fail_a,
                ~fail_b,
                settings=map_settings,
                rows=rows,
                responses=(responses_a, responses_b),
                scores=(scores_a, scores_b),
            )
    logger.info(
        "comparison: global winner %s; %d of %d tested slices differ significantly",
        common["global_winner"],
        len(significant),
        len(slices),
    )
    return ComparisonReport(
        num_significant_slices=len(significant),
        slices=slices[: len(significant)],
        tested_slices=slices,
        metadata=run.finish(meta),
        num_clusters=family.num_groups,
        num_unclustered=family.num_ungrouped,
        num_untested=family.num_untested,
        cluster_labels=[int(x) for x in rows.spread(labels)],
        map=positions,
        **common,
    )


def comparison_map(
    prompts: Sequence[str],
    vectors: np.ndarray,
    labels: np.ndarray,
    passed_a: np.ndarray,
    passed_b: np.ndarray,
    *,
    settings: MapSettings,
    rows: Rows | None = None,
    responses: tuple[Sequence[str], Sequence[str]] | None = None,
    scores: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The map of a comparison's analysed prompts (:func:`prompt_map`), labelled by cluster
    (``labels``, one per analysed prompt), with ``outcome``: "both", "a", "b" or "neither"
    (which model passed), and when given each model's ``response_a``/``response_b`` and
    ``score_a``/``score_b``. ``rows`` maps the analysed prompts to input rows."""
    rows = rows if rows is not None else Rows.all(len(prompts))
    outcome = np.select(
        [passed_a & passed_b, passed_a, passed_b], ["both", "a", "b"], default="neither"
    )
    texts_of = (
        {} if responses is None else dict(zip(("response_a", "response_b"), responses, strict=True))
    )
    extra = {}
    if scores is not None:
        for name, values in zip(("score_a", "score_b"), scores, strict=True):
            extra[name] = np.round(np.asarray(values, dtype=np.float64), 4)
    return prompt_map(
        vectors,
        prompts,
        labels,
        settings=settings,
        index=rows.analysed,
        texts_of=texts_of,
        outcome=outcome,
        **extra,
    )


def compare(
    prompts: Any,
    responses_a: Any,
    responses_b: Any,
    scores_a: Any = None,
    scores_b: Any = None,
    references: Any = None,
    *,
    embeddings: Any = None,
    model_a_name: str,
    model_b_name: str,
    setup: Setup,
    settings: ComparisonSettings,
) -> ComparisonReport:
    """The whole comparison from the caller's inputs (see
    :meth:`faultmap.SliceAnalyzer.compare_models`): check them, score both models (one mode
    for both), leave out rows either could not be scored on, embed, then
    :func:`compare_slices`."""
    if (scores_a is None) != (scores_b is None):
        given, absent = ("scores_a", "scores_b")[:: 1 if scores_b is None else -1]
        raise DataError(
            f"'{given}' was given but '{absent}' was not; pass scores for both models "
            "(mode 1), or neither to score both responses against references= (mode 2) "
            "or by sampling from an LLM (mode 3)."
        )
    repaired: dict[str, list[int]] = {}
    prompts, responses_a, meta = setup.texts(prompts, responses_a, "responses_a", repaired)
    responses_b = as_text_list("responses_b", responses_b, allow_empty=True, repaired=repaired)
    check_same_length(("prompts", prompts), ("responses_b", responses_b))
    n = len(prompts)
    if scores_a is None:
        references = checked_references(references, prompts, repaired)
        scorers = (setup.scorer_for(references),) * 2
    else:
        scorers = (
            precomputed(scores_a, references, n, names=("scores_a", "scores_b")),
            precomputed(scores_b, None, n, names=("scores_b",)),
        )
    note_repairs(meta, repaired)
    if embeddings is not None:
        embeddings = as_embeddings("embeddings", embeddings, n)
    run = setup.run()
    with run.timer("score"):
        scored_a, values_a = score(scorers[0], prompts, responses_a)
        scored_b, values_b = score(scorers[1], prompts, responses_b)
        rows = scored_rows(
            values_a,
            values_b,
            sampling_errors=scored_a.metadata.get("sampling_errors"),
            what=" for both models",
        )
    vectors, embedding_id = setup.vectors(prompts, embeddings, run)
    meta["random_state"] = setup.random_state
    for side, scored in (("a", scored_a), ("b", scored_b)):
        summary = {
            k: v
            for k, v in scored.metadata.items()
            if not isinstance(v, list) and k != "scoring_metadata"
        }
        if summary:
            meta[f"scoring_{side}"] = summary
    if rows.is_subset:
        meta["unscored_indices"] = rows.reasons()["unscored"]
    run.metadata = meta
    return compare_slices(
        rows.take(prompts),
        rows.take(responses_a),
        rows.take(responses_b),
        rows.take(values_a),
        rows.take(values_b),
        rows.take(vectors),
        clusterer=setup.clusterer,
        namer=setup.namer,
        settings=settings,
        model_a_name=model_a_name,
        model_b_name=model_b_name,
        embedding_model=embedding_id,
        scoring_mode=scored_a.mode,
        rows=rows,
        run=run,
        map_settings=setup.map_settings,
    )
