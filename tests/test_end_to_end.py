"""End to end with real parts: MiniLM vectors of real prompts, real HDBSCAN, real scipy."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from faultmap import AnalysisReport, SliceAnalyzer

pytestmark = pytest.mark.slow


def _majority(indices, tasks) -> tuple[str, float]:
    task, count = Counter(tasks[i] for i in indices).most_common(1)[0]
    return task, count / len(indices)


@pytest.mark.parametrize("method", ["hdbscan", "agglomerative"])
def test_planted_slices_are_recovered(real_subset, method):
    tasks = real_subset["tasks"]
    planted = {"navigate", "implicatures"}
    rng = np.random.default_rng(7)
    in_planted = np.isin(tasks, sorted(planted))
    failed = np.where(in_planted, rng.random(len(tasks)) < 0.6, rng.random(len(tasks)) < 0.05)
    scores = np.where(failed, 0.1, 0.9)

    report = SliceAnalyzer(min_slice_size=15, clustering_method=method).analyze(
        real_subset["prompts"],
        ["-"] * len(tasks),
        scores=scores,
        embeddings=real_subset["vectors"],
    )

    found: dict[str, int] = Counter()
    for s in report.slices:
        task, share = _majority(s.sample_indices, tasks)
        assert task in planted, f"false slice {s.name!r} is mostly {task!r}"
        assert share >= 0.8
        found[task] += s.size
    for task in planted:
        assert found[task] >= 0.7 * (tasks == task).sum(), f"{task} not recovered: {found}"


class _ClusterOnce:
    """The real HDBSCAN clusterer, run once: clustering never sees the scores, so runs that
    only change the scores would recompute the same labels."""

    def __init__(self) -> None:
        from faultmap.clustering import HDBSCANClusterer

        self.inner = HDBSCANClusterer()
        self.name = self.inner.name
        self.labels = None

    def fit_predict(self, vectors, *, min_cluster_size):
        if self.labels is None:
            self.labels = self.inner.fit_predict(vectors, min_cluster_size=min_cluster_size)
        return self.labels


def test_iid_failures_give_no_slices_in_95_percent_of_runs(real_subset):
    """Under the null (failures independent of the prompt), BH at 0.05 must stay quiet."""
    n = len(real_subset["prompts"])
    clusterer = _ClusterOnce()
    analyzer = SliceAnalyzer(min_slice_size=10, clustering_method=clusterer)
    noisy_runs = 0
    runs = 100
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        scores = (rng.random(n) >= 0.2).astype(float)  # 20 % fail at random
        report = analyzer.analyze(
            real_subset["prompts"], [""] * n, scores=scores, embeddings=real_subset["vectors"]
        )
        noisy_runs += report.num_significant > 0
    assert len(report.clusters) >= 8, "the null test needs a real family of tested clusters"
    assert noisy_runs <= 0.05 * runs


def test_same_input_same_report(real_subset):
    rng = np.random.default_rng(3)
    scores = rng.random(len(real_subset["prompts"]))
    kwargs = dict(scores=scores, embeddings=real_subset["vectors"])
    a = SliceAnalyzer().analyze(real_subset["prompts"], [""] * len(scores), **kwargs)
    b = SliceAnalyzer().analyze(real_subset["prompts"], [""] * len(scores), **kwargs)
    da, db = a.to_dict(), b.to_dict()
    da["metadata"].pop("timings_s"), db["metadata"].pop("timings_s")
    assert da == db


def test_default_analyzer_embeds_with_packaged_model_and_writes_json(sample_rows, tmp_path):
    rows = [r for r in sample_rows if r["task"] in {"navigate", "sports_understanding"}][:300]
    report = SliceAnalyzer(min_slice_size=20).analyze(
        [r["prompt"] for r in rows],
        [r["response"] for r in rows],
        scores=[r["score"] for r in rows],
    )
    assert report.embedding_model.startswith("sentence-transformers:all-MiniLM-L6-v2")
    assert report.total_prompts == 300
    accounted = sum(c.size for c in report.clusters) + report.num_unclustered + report.num_untested
    assert accounted == 300, "every prompt is in a tested cluster, noise, or a small cluster"
    path = tmp_path / "report.json"
    report.to_json(path)
    assert AnalysisReport.from_dict(json.loads(path.read_text())) == report
    assert "baseline failure rate" in str(report)
