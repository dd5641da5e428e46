"""Small real reports of the three kinds, shared by the view and schema tests.

Real BIG-bench prompts from the bundled sample, the real local MiniLM embedder, HDBSCAN and
scipy; a few prompts carry hostile markup, and an injected namer (standing in for an LLM)
writes hostile names, root causes and fixes. Each report is built once per test session.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from faultmap import (
    AnalysisReport,
    ComparisonReport,
    CoverageMeaningWarning,
    CoverageReport,
    SliceAnalyzer,
)
from faultmap._text import prompt_digest
from faultmap.naming import SliceContext, SliceLabel
from faultmap.reports.models import FailureMode, ModeNode, NullAudit
from faultmap.significance.tests import (
    detectable_rate,
    one_sided_proportion_test,
    wilson_interval,
)

DATA = Path(__file__).resolve().parents[1] / "examples" / "data" / "bigbench_sample.jsonl"

#: Strings that would change the page if they ran: each sets a marker the tests look for.
PAYLOADS = (
    "<script>document.title='PWNED';document.documentElement.dataset.pwned='1'</script>",
    "<img src=x onerror=\"document.documentElement.dataset.pwned='2'\">",
    "</textarea><svg onload=\"document.documentElement.dataset.pwned='3'\"></svg>",
    "</script><script>document.documentElement.dataset.pwned='4'</script>",
    "[bold red]rich markup[/] and {{template}} and \u2028 line separator",
)
TASKS = ("object_counting", "navigate", "implicatures", "intent_recognition")


@lru_cache(maxsize=1)
def rows_by_task() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out.setdefault(row["task"], []).append(row)
    return out


class HostileNamer:
    """Stands in for an LLM namer whose output is hostile: names, root causes and fixes
    carry markup (the prompts are data, so is whatever a model says about them)."""

    def name(self, slices: list[SliceContext]) -> list[SliceLabel]:
        return [
            SliceLabel(
                name=f"{PAYLOADS[0]} {PAYLOADS[1]} slice {c.slice_id}",
                description=f"Prompts like {PAYLOADS[2]}",
                root_cause=f"Root {PAYLOADS[3]}",
                suggested_remediation=f"Fix {PAYLOADS[4]}",
                source="llm",
            )
            for c in slices
        ]


def analysis_data(per_task: int = 50) -> dict[str, list]:
    """``per_task`` prompts of each task in TASKS with their simulated scores; the first
    prompts of the most-failing task carry the payloads and fail."""
    prompts, responses, scores = [], [], []
    for task in TASKS:
        for k, row in enumerate(rows_by_task()[task][:per_task]):
            hostile = task == TASKS[0] and k < len(PAYLOADS)
            prompts.append(f"{PAYLOADS[k]} {row['prompt']}" if hostile else row["prompt"])
            responses.append(row["response"])
            scores.append(0.0 if hostile else row["score"])
    return {"prompts": prompts, "responses": responses, "scores": scores}


@lru_cache(maxsize=4)
def analysis_report(map_dims: int = 2, hostile_names: bool = True) -> AnalysisReport:
    data = analysis_data()
    analyzer = SliceAnalyzer(
        min_slice_size=10, map_dims=map_dims, namer=HostileNamer() if hostile_names else None
    )
    return analyzer.analyze(data["prompts"], data["responses"], scores=data["scores"])


#: The name of the hand-built failure mode of :func:`evidence_report` (escaped in every view).
HOSTILE_MODE = "<script>alert(1)</script>"


def _mode(report: AnalysisReport, positions: list[int], name: str, node_id: int) -> FailureMode:
    """A failure mode made of the slices at ``positions``, with its counts, test and interval
    recomputed from the sample's scores (``sample_indices``: the union of the slices')."""
    data = analysis_data()
    failed = [score < 0.5 for score in data["scores"]]
    rows = sorted({i for k in positions for i in report.slices[k].sample_indices})
    failures = sum(failed[i] for i in rows)
    test = one_sided_proportion_test(
        failures, len(rows), report.total_failures, report.total_prompts
    )
    rate = failures / len(rows)
    rest = (report.total_failures - failures) / (report.total_prompts - len(rows))
    first = report.slices[positions[0]]
    return FailureMode(
        name=name,
        description=f"Slices {', '.join(str(k + 1) for k in positions)} taken together",
        size=len(rows),
        num_failures=failures,
        failure_rate=rate,
        baseline_rate=report.baseline_failure_rate,
        effect_size=rate / report.baseline_failure_rate,
        confidence_interval=wilson_interval(failures, len(rows)),
        p_value=test.p_value,
        adjusted_p_value=min(1.0, test.p_value * 3),
        test_used=test.test_used,
        rest_failure_rate=rest,
        slices=positions,
        cluster_ids=[report.slices[k].cluster_id for k in positions],
        node_id=node_id,
        sample_indices=rows,
        examples=first.examples,
        representative_prompts=first.representative_prompts,
        keywords=first.keywords,
        root_cause=first.root_cause,
        suggested_remediation=first.suggested_remediation,
        naming_source=first.naming_source,
        prompt_digests=[prompt_digest(data["prompts"][i]) for i in rows],
    )


@lru_cache(maxsize=1)
def evidence_report() -> AnalysisReport:
    """The real analysis of :func:`analysis_report` with failure modes, evidence, a null
    audit and the power of the clusters without a finding written in by hand (the views are
    tested against the models, whatever the analysis fills in): mode 1 is slices 1 and 2 with
    every kind of evidence, mode 2 (named :data:`HOSTILE_MODE`) is slice 3 and reads as a
    badly named mode; slice 1 carries evidence, slice 2 a failing name check."""
    real = analysis_report()
    assert real.num_significant >= 3
    first = dataclasses.replace(
        _mode(real, [0, 1], "Counting and walking", node_id=100),
        stability=0.9,
        confirmation_p_value=0.003,
        confirmation_size=40,
        confirmation_failures=30,
        name_check=0.84,
    )
    second = dataclasses.replace(_mode(real, [2], HOSTILE_MODE, node_id=101), name_check=0.52)
    slices = list(real.slices)
    slices[0] = dataclasses.replace(
        slices[0], stability=0.95, confirmation_p_value=0.0004, name_check=0.91
    )
    slices[1] = dataclasses.replace(slices[1], name_check=0.41)
    reported = {s.cluster_id for s in slices}
    clusters = [
        c
        if c.cluster_id in reported
        else dataclasses.replace(
            c,
            detectable_failure_rate=detectable_rate(c.size, real.baseline_failure_rate, 0.01),
        )
        for c in real.clusters
    ]
    nodes = [
        ModeNode(
            node_id=m.node_id,
            cluster_ids=m.cluster_ids,
            children=[],
            size=m.size,
            num_failures=m.num_failures,
            p_value=m.p_value,
            adjusted_p_value=m.adjusted_p_value,
            test_used=m.test_used,
        )
        for m in (first, second)
    ]
    metadata = dataclasses.replace(
        real.metadata,
        modes={"merge_level": 0.05, "linkage": "average", "metric": "cosine"},
        stability={"runs": 20, "fraction": 0.8, "jaccard": 0.5, "seed": 0},
        confirmation={
            "seed": 0,
            "discovery_rows": 100,
            "discovery_failures": 39,
            "confirmation_rows": 100,
            "confirmation_failures": 39,
        },
        name_check={"method": "keywords", "flag_below": 0.6, "flagged": 2, "renamed": 0},
    )
    return dataclasses.replace(
        real,
        slices=slices,
        clusters=clusters,
        failure_modes=[first, second],
        mode_nodes=nodes,
        metadata=metadata,
        null_audit=NullAudit(
            runs=200,
            fwer=0.035,
            expected_false_modes=0.04,
            expected_false_slices=0.05,
            slice_fwer=0.04,
            level=0.05,
            seed=0,
        ),
    )


@lru_cache(maxsize=1)
def comparison_report() -> ComparisonReport:
    """Model B is the sample's model; model A fails every 'navigate' prompt and is better on
    'object_counting'."""
    data = analysis_data()
    tasks = np.repeat(TASKS, len(data["prompts"]) // len(TASKS))
    scores_b = np.asarray(data["scores"], dtype=float)
    scores_a = np.where(tasks == "navigate", 0.0, scores_b)
    scores_a = np.where(tasks == "object_counting", 1.0, scores_a)
    return SliceAnalyzer(min_slice_size=10, namer=HostileNamer()).compare_models(
        data["prompts"],
        data["responses"],
        [f"other {r}" for r in data["responses"]],
        scores_a=scores_a,
        scores_b=scores_b,
        model_a_name="<b>model A</b>",
        model_b_name="model B & co",
    )


@lru_cache(maxsize=1)
def coverage_report() -> CoverageReport:
    """Test prompts from three tasks; production prompts from the same three (other rows)
    and from a fourth task the tests never saw (the gap; a few carry the payloads)."""
    by_task = rows_by_task()
    test_prompts = [r["prompt"] for t in TASKS[1:] for r in by_task[t][:40]]
    production = [r["prompt"] for t in TASKS[1:] for r in by_task[t][60:90]]
    unseen = [r["prompt"] for r in by_task["sports_understanding"][:50]]
    production += [f"{PAYLOADS[k]} {p}" for k, p in enumerate(unseen[: len(PAYLOADS)])]
    production += unseen[len(PAYLOADS) :]
    with warnings.catch_warnings():  # the change of meaning is tested in test_coverage.py
        warnings.simplefilter("ignore", CoverageMeaningWarning)
        return SliceAnalyzer(min_slice_size=10, namer=HostileNamer()).audit_coverage(
            test_prompts, production
        )


@lru_cache(maxsize=1)
def planted_report() -> AnalysisReport:
    """A small analysis of planted prompts (160, "baking" failing at 0.6 over 0.1) on fixed
    clusters: a real report for the tracker bridges, built in well under a second."""
    from faultmap.clustering import FixedLabels
    from faultmap.naming import KeywordNamer
    from faultmap.pipeline import SliceSettings, find_slices
    from faultmap.testing import planted_failures, planted_prompts

    data = planted_prompts(160, ("taxes", "baking"), dim=8, seed=0)
    fails = planted_failures(data.groups, {"baking": 0.6}, baseline=0.1, seed=1)
    return find_slices(
        data.prompts,
        ["r"] * len(data),
        np.where(fails, 0.0, 1.0),
        data.vectors,
        clusterer=FixedLabels(list(data.groups)),
        namer=KeywordNamer(),
        settings=SliceSettings(),
        embedding_model="planted",
    )
