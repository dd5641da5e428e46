"""Small real reports of the three kinds, shared by the view and schema tests.

Real BIG-bench prompts from the bundled sample, the real local MiniLM embedder, HDBSCAN and
scipy; a few prompts carry hostile markup, and an injected namer (standing in for an LLM)
writes hostile names, root causes and fixes. Each report is built once per test session.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from faultmap import AnalysisReport, ComparisonReport, CoverageReport, SliceAnalyzer
from faultmap.naming import SliceContext, SliceLabel

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
    return SliceAnalyzer(min_slice_size=10, namer=HostileNamer()).audit_coverage(
        test_prompts, production
    )
