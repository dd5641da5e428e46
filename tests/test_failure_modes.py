"""Failure modes and the evidence around them, on real prompts and real vectors.

Failures are planted on whole BIG-bench tasks of the session's real subset (1,200 prompts, 8
tasks, all-MiniLM-L6-v2): the tasks the demo cuts into several slices come back as one mode
each; under permuted labels the whole procedure (tests, correction, merge) stays within its
level; the report alone is enough to recompute the modes.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from faultmap import SliceAnalyzer
from faultmap.analyses.evidence import Procedure, family_ids, null_audit, reported
from faultmap.analyses.modes import ClusterTree, choose_modes, cluster_tree, scan_statistics
from faultmap.reports.models import AnalysisReport

PLANTED = ("object_counting", "date_understanding")


def _planted_scores(tasks: np.ndarray, seed: int, rate: float = 0.6, base: float = 0.1):
    rng = np.random.default_rng(seed)
    p = np.where(np.isin(tasks, PLANTED), rate, base)
    return np.where(rng.random(len(tasks)) < p, 0.0, 1.0)


@pytest.fixture(scope="module")
def planted(real_subset) -> dict:
    tasks = real_subset["tasks"]
    scores = _planted_scores(tasks, seed=3)
    analyzer = SliceAnalyzer(min_slice_size=10, map_projection=None)
    report = analyzer.analyze(
        real_subset["prompts"],
        ["r"] * len(tasks),
        scores=scores,
        embeddings=real_subset["vectors"],
        null_runs=40,
    )
    return {"report": report, "tasks": tasks, "scores": scores}


def _task_of(indices, tasks) -> tuple[str, float]:
    task, count = Counter(tasks[indices]).most_common(1)[0]
    return str(task), count / len(indices)


def test_each_planted_task_is_one_mode_and_no_mode_is_false(planted) -> None:
    report, tasks = planted["report"], planted["tasks"]
    by_task = Counter()
    for mode in report.failure_modes:
        task, share = _task_of(mode.sample_indices, tasks)
        assert task in PLANTED and share >= 0.5, (mode.name, task, share)
        by_task[task] += 1
    assert by_task == Counter(dict.fromkeys(PLANTED, 1))
    # The modes gather the slices: fewer groups than slices, every slice inside one mode.
    assert len(report.failure_modes) <= len(report.slices)
    inside = sorted(i for m in report.failure_modes for i in m.slices)
    assert inside == sorted(set(inside))
    for mode in report.failure_modes:
        members = set(mode.sample_indices)
        for i in mode.slices:
            assert set(report.slices[i].sample_indices) <= members
            assert report.slices[i].cluster_id in mode.cluster_ids


def test_a_mode_recovers_more_of_its_task_than_its_slices(planted) -> None:
    report, tasks = planted["report"], planted["tasks"]
    for mode in report.failure_modes:
        task, _ = _task_of(mode.sample_indices, tasks)
        in_slices = {j for i in mode.slices for j in report.slices[i].sample_indices}
        in_task = set(np.flatnonzero(tasks == task).tolist())
        assert len(set(mode.sample_indices) & in_task) >= len(in_slices & in_task)


def test_every_number_of_a_mode_is_recomputed_from_to_dict(planted) -> None:
    report: AnalysisReport = planted["report"]
    data = report.to_dict()
    labels = np.array(data["cluster_labels"])
    scores = planted["scores"]
    failed = scores < data["failure_threshold"]
    n, total_failures = data["total_prompts"], data["total_failures"]
    nodes = data["mode_nodes"]
    raw = []
    for node in nodes:
        members = np.isin(labels, node["cluster_ids"])
        assert node["size"] == int(members.sum())
        assert node["num_failures"] == int(failed[members].sum())
        table = [
            [node["num_failures"], node["size"] - node["num_failures"]],
            [
                total_failures - node["num_failures"],
                n - node["size"] - total_failures + node["num_failures"],
            ],
        ]
        p = stats.fisher_exact(table, alternative="greater").pvalue
        assert node["p_value"] == pytest.approx(p, rel=1e-9, abs=1e-300)
        raw.append(node["p_value"])
        if node["children"]:
            a, b = (nodes[c] for c in node["children"])
            merge = stats.fisher_exact(
                [
                    [a["num_failures"], a["size"] - a["num_failures"]],
                    [b["num_failures"], b["size"] - b["num_failures"]],
                ]
            ).pvalue
            assert node["merge_p_value"] == pytest.approx(merge, rel=1e-7)
            homogeneous = (
                a["homogeneous"]
                and b["homogeneous"]
                and merge > data["metadata"]["modes"]["merge_threshold"]
            )
            assert node["homogeneous"] == homogeneous
    adjusted = stats.false_discovery_control(raw, method="bh")
    np.testing.assert_allclose([node["adjusted_p_value"] for node in nodes], adjusted, rtol=1e-9)
    # The walk from the root picks the same modes.
    chosen, stack = [], [len(nodes) - 1]
    baseline = total_failures / n
    while stack:
        node = nodes[stack.pop()]
        rejected = node["adjusted_p_value"] < data["significance_level"] and (
            node["num_failures"] / node["size"] > baseline
        )
        if rejected and node["homogeneous"]:
            chosen.append(node["node_id"])
        else:
            stack.extend(node["children"])
    assert sorted(chosen) == sorted(m["node_id"] for m in data["failure_modes"])
    for mode in data["failure_modes"]:
        node = nodes[mode["node_id"]]
        assert mode["p_value"] == node["p_value"]
        assert mode["adjusted_p_value"] == node["adjusted_p_value"]
        assert mode["size"] == len(mode["sample_indices"]) == node["size"]
        lo, hi = stats.binomtest(mode["num_failures"], mode["size"]).proportion_ci(method="wilson")
        assert mode["confidence_interval"] == pytest.approx([lo, hi], abs=1e-9)
    assert AnalysisReport.from_dict(data) == report


def test_the_vectorised_procedure_reproduces_the_report(planted, real_subset) -> None:
    """The procedure the null audit and the stability reruns use is the report's own."""
    report = planted["report"]
    labels = np.array(report.cluster_labels)
    failed = planted["scores"] < 0.5
    found, choice = reported(
        labels, failed, Procedure(min_size=report.min_slice_size), vectors=real_subset["vectors"]
    )
    assert sorted(found.tolist()) == sorted(s.cluster_id for s in report.slices)
    assert [choice.node(k).cluster_ids for k in choice.modes] == [
        m.cluster_ids for m in report.failure_modes
    ]


def test_the_null_audit_of_the_report_stays_within_its_level(planted) -> None:
    audit = planted["report"].null_audit
    assert audit is not None and audit.runs == 40 and audit.level == 0.05
    # 40 runs at a true rate <= 0.05: more than 6 false runs has probability < 1.5 %.
    assert audit.fwer <= 6 / 40
    assert audit.expected_false_modes <= 0.2


@pytest.mark.slow
def test_false_modes_stay_within_the_level_on_independent_null_data(real_subset) -> None:
    """25 data sets with no planted failure (labels drawn afresh, independent of the prompts)
    through the whole procedure, on real clusters: the share with any mode is within a
    binomial bound of the level."""
    tasks, vectors = real_subset["tasks"], real_subset["vectors"]
    analyzer = SliceAnalyzer(min_slice_size=10, map_projection=None)
    base = analyzer.analyze(
        real_subset["prompts"],
        ["r"] * len(tasks),
        scores=_planted_scores(tasks, 0),
        embeddings=vectors,
    )
    labels = np.array(base.cluster_labels)
    tested = family_ids(labels, 10)
    tree = cluster_tree(vectors, labels, tested)
    rng = np.random.default_rng(11)
    with_mode = 0
    for _ in range(25):
        failed = rng.random(len(tasks)) < 0.15
        _, choice = reported(labels, failed, Procedure(), tested=tested, tree=tree)
        with_mode += bool(choice.modes)
    # P(X >= 5 | n=25, p=0.05) < 0.04
    assert with_mode <= 4
    audit = null_audit(
        labels, rng.random(len(tasks)) < 0.15, vectors, Procedure(), runs=100, seed=1
    )
    assert audit.fwer <= 0.11  # 100 runs at <= 0.05: P(> 11 false) < 0.3 %


def test_split_confirmation_tests_found_groups_on_the_other_half(real_subset) -> None:
    tasks = real_subset["tasks"]
    scores = _planted_scores(tasks, seed=5)
    report = SliceAnalyzer(min_slice_size=10, map_projection=None, confirm="split").analyze(
        real_subset["prompts"], ["r"] * len(tasks), scores=scores, embeddings=real_subset["vectors"]
    )
    conf = report.metadata["confirmation"]
    discovery = np.zeros(len(tasks), bool)
    discovery[conf["discovery_indices"]] = True
    assert conf["discovery_rows"] == discovery.sum() == len(tasks) - len(tasks) // 2
    failed = scores < 0.5
    held, f_held = int((~discovery).sum()), int(failed[~discovery].sum())
    assert (conf["confirmation_rows"], conf["confirmation_failures"]) == (held, f_held)
    assert report.failure_modes
    for group in [*report.failure_modes, *report.slices]:
        rows = np.array(group.sample_indices)
        kept = rows[~discovery[rows]]
        f = int(failed[kept].sum())
        assert (group.confirmation_size, group.confirmation_failures) == (len(kept), f)
        table = [[f, len(kept) - f], [f_held - f, held - len(kept) - f_held + f]]
        p = stats.fisher_exact(table, alternative="greater").pvalue
        assert group.confirmation_p_value == pytest.approx(p, rel=1e-9)
    # Discovery p-values come from the discovery half only (the cluster tests' counts).
    for test in report.clusters:
        members = np.flatnonzero(np.array(report.cluster_labels) == test.cluster_id)
        assert test.size == int(discovery[members].sum())
    assert all(m.confirmation_p_value < 0.05 for m in report.failure_modes)


@pytest.mark.parametrize("method,statsmodels_name", [("by", "fdr_by"), ("holm", "holm")])
def test_the_correction_is_a_setting_and_matches_statsmodels(
    real_subset, method, statsmodels_name
) -> None:
    from statsmodels.stats.multitest import multipletests

    tasks = real_subset["tasks"]
    report = SliceAnalyzer(min_slice_size=10, map_projection=None, correction=method).analyze(
        real_subset["prompts"],
        ["r"] * len(tasks),
        scores=_planted_scores(tasks, 3),
        embeddings=real_subset["vectors"],
    )
    assert report.correction == method and report.to_dict()["correction"] == method
    raw = [c.p_value for c in report.clusters]
    expected = multipletests(raw, method=statsmodels_name)[1]
    np.testing.assert_allclose([c.adjusted_p_value for c in report.clusters], expected, rtol=1e-9)
    node_raw = [n.p_value for n in report.mode_nodes]
    expected = multipletests(node_raw, method=statsmodels_name)[1]
    np.testing.assert_allclose([n.adjusted_p_value for n in report.mode_nodes], expected, rtol=1e-9)
    assert {_task_of(m.sample_indices, tasks)[0] for m in report.failure_modes} == set(PLANTED)


def test_stability_is_high_for_planted_modes(real_subset) -> None:
    tasks = real_subset["tasks"]
    report = SliceAnalyzer(min_slice_size=10, map_projection=None).analyze(
        real_subset["prompts"],
        ["r"] * len(tasks),
        scores=_planted_scores(tasks, 3),
        embeddings=real_subset["vectors"],
        stability_runs=4,
    )
    assert report.metadata["stability"]["runs"] == 4
    assert all(m.stability is not None and m.stability >= 0.75 for m in report.failure_modes)
    assert all(s.stability is not None and 0 <= s.stability <= 1 for s in report.slices)


def test_power_of_clusters_tested_without_a_finding(planted) -> None:
    report = planted["report"]
    reported_ids = {s.cluster_id for s in report.slices}
    for test in report.clusters:
        if test.cluster_id in reported_ids:
            assert test.detectable_failure_rate is None
        elif test.detectable_failure_rate is not None:
            assert report.baseline_failure_rate < test.detectable_failure_rate <= 1


def test_evidence_is_off_by_default(planted) -> None:
    report = planted["report"]  # null_runs only
    assert report.metadata.get("stability") is None and report.metadata.get("confirmation") is None
    assert all(s.stability is None and s.confirmation_p_value is None for s in report.slices)
    data = report.to_dict()
    assert "stability" not in data["slices"][0] and "confirmation_p_value" not in data["slices"][0]


def test_choose_modes_on_a_hand_made_tree() -> None:
    # Leaves 0, 1 fail alike and sit together; 2, 3 are healthy.
    tree = ClusterTree(
        cluster_ids=np.array([0, 1, 2, 3]),
        children=np.array([[0, 1], [2, 3], [4, 5]]),
        leaves=(
            np.array([0]),
            np.array([1]),
            np.array([2]),
            np.array([3]),
            np.array([0, 1]),
            np.array([2, 3]),
            np.array([0, 1, 2, 3]),
        ),
    )
    sizes = np.array([40, 40, 200, 200])
    fails = np.array([22, 18, 20, 20])
    choice = choose_modes(tree, sizes, fails, 600, 80)
    assert choice.modes == (4,)
    assert choice.node(4).cluster_ids == [0, 1]
    # Different rates: the merge is refused and the stronger leaf is the mode alone.
    choice = choose_modes(tree, sizes, np.array([36, 6, 20, 18]), 600, 80)
    assert choice.modes == (0,)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"confirm": "half"}, "confirm"),
        ({"correction": "bonferroni"}, "correction"),
    ],
)
def test_bad_settings_name_the_parameter(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        SliceAnalyzer(**kwargs)


def test_bad_run_counts_name_the_argument() -> None:
    with pytest.raises(ValueError, match="null_runs"):
        SliceAnalyzer().analyze(["a"], ["b"], scores=[1.0], null_runs=-1)
    with pytest.raises(ValueError, match="stability_runs"):
        SliceAnalyzer().analyze(["a"], ["b"], scores=[1.0], stability_runs=1.5)


def test_names_are_checked_and_a_flagged_llm_name_is_asked_again(real_subset) -> None:
    """An LLM name that does not pick out its members (judged on members the LLM was not
    shown) is asked for once more with counter-examples, and the new name is checked too."""
    import json

    from faultmap.testing import FakeLLM, fake_llm_client

    def answer(messages):
        payload = json.loads(messages[1]["content"].split("\n", 1)[1])
        again = bool(payload.get("counter_examples"))
        # Asked again, the fake LLM names the group by its distinctive words.
        better = "Counting: " + ", ".join(payload["distinctive_words"][:3])
        return json.dumps(
            {
                "name": better if again else "French cooking recipes",
                "description": "d",
                "root_cause": "r",
                "remediation": "f",
            }
        )

    fake = FakeLLM(answer)
    tasks = real_subset["tasks"]
    analyzer = SliceAnalyzer(
        model="fake",
        llm_client=fake_llm_client(fake, model="fake", max_retries=1),
        min_slice_size=10,
        map_projection=None,
    )
    report = analyzer.analyze(
        real_subset["prompts"],
        ["r"] * len(tasks),
        scores=_planted_scores(tasks, 3),
        embeddings=real_subset["vectors"],
    )
    summary = report.metadata["name_check"]
    assert summary["method"] == "keywords" and summary["renamed"] >= 1
    asked_again = [c for c in fake.calls if "counter_examples" in c.messages[1]["content"]]
    assert len(asked_again) >= 1
    named = [*report.slices, *report.failure_modes]
    assert all(x.name_check is not None for x in named)
    # The whole task (the mode) is picked out by the new name; its fragments are not told
    # apart from each other by it, and their checks say so.
    modes = report.failure_modes
    counting = [m for m in modes if _task_of(m.sample_indices, tasks)[0] == "object_counting"]
    assert len(counting) == 1
    for x in counting:  # flagged, asked again, and the new name picks out its members
        assert x.name.startswith("Counting: ") and x.name_check > 0.6
    assert len({x.name for x in report.slices}) == len(report.slices)


def _pair_tree() -> ClusterTree:
    # Leaf 0 and leaf 1 are neighbours (node 2).
    return ClusterTree(
        cluster_ids=np.array([0, 1]),
        children=np.array([[0, 1]]),
        leaves=(np.array([0]), np.array([1]), np.array([0, 1])),
    )


def test_a_failing_cluster_is_not_diluted_by_a_healthy_neighbour() -> None:
    # 90 prompts failing at 0.34 next to 101 at 0.15: the merge test (Bonferroni over the
    # tree's merges) cannot tell them apart at this size, but joining them dilutes the
    # excess, so the scan rule reports the failing cluster alone (the case of issue 11).
    tree = _pair_tree()
    sizes, fails = np.array([90, 101]), np.array([31, 15])
    first = choose_modes(tree, sizes, fails, 50_000, 5_100, rule="first", merge_level=1e-6)
    assert first.homogeneous[2] and first.modes == (2,)
    scan = choose_modes(tree, sizes, fails, 50_000, 5_100, merge_level=1e-6)
    assert scan.modes == (0,)
    stats = scan_statistics(scan.failures, scan.sizes, 5_100, 50_000)
    assert stats[0] > stats[2] > 0


def test_fragments_failing_alike_still_merge_under_the_scan_rule() -> None:
    tree = _pair_tree()
    choice = choose_modes(tree, np.array([95, 95]), np.array([48, 46]), 20_000, 2_400)
    assert choice.modes == (2,)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(10, 300), min_size=2, max_size=2),
    rates=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=2),
)
def test_the_scan_rule_only_chooses_among_rejected_nodes(sizes, rates) -> None:
    # Whatever the counts, a mode under either rule is a rejected node, so the chance of
    # reporting any mode under the complete null is bounded by the correction's.
    tree = _pair_tree()
    n = np.array(sizes)
    f = np.minimum(n, np.rint(np.array(rates) * n).astype(int))
    for rule in ("scan", "first"):
        choice = choose_modes(tree, n, f, 5_000, 600 + int(f.sum()), rule=rule)
        rejected = (choice.adjusted < 0.05) & (
            choice.failures / choice.sizes > (600 + f.sum()) / 5_000
        )
        assert all(rejected[k] and choice.homogeneous[k] for k in choice.modes)


def test_scan_statistic_is_the_likelihood_ratio() -> None:
    from scipy.stats import binom

    f, n, total_f, total = 30, 90, 5_000, 50_000
    inside, outside, overall = f / n, (total_f - f) / (total - n), total_f / total
    expected = (
        binom.logpmf(f, n, inside)
        + binom.logpmf(total_f - f, total - n, outside)
        - binom.logpmf(f, n, overall)
        - binom.logpmf(total_f - f, total - n, overall)
    )
    got = scan_statistics(np.array([f]), np.array([n]), total_f, total)[0]
    assert got == pytest.approx(expected, rel=1e-9)


def test_choose_modes_names_a_bad_rule() -> None:
    with pytest.raises(ValueError, match="'rule' parameter of choose_modes"):
        choose_modes(_pair_tree(), np.array([10, 10]), np.array([1, 1]), 100, 10, rule="best")
