"""Classic metrics, metadata cohorts, hybrid slices and reason clustering, offline.

Run it with `python examples/metrics_example.py` (about a minute on a laptop CPU; the local
all-MiniLM-L6-v2 model, no API key, no network). It reads the bundled BIG-bench sample
(`examples/data/`): real prompts, reference answers and responses, with simulated scores.

What is simulated here, on top of the sample's simulated scores (the sample carries no
metadata and no evaluator reasons):

* each prompt's `route` ("search", "chat", or "agent" for most navigation prompts) and
  `prompt_version` ("v1" or "v2") are drawn with a fixed seed;
* sports prompts sent with prompt version v2 are made to fail (score 0.1) 80% of the time:
  a failure that lives in one (topic x metadata value) cell, for the hybrid slices to find;
* evaluator reasons are written from each failing row's reference and response by a few
  templates, as a rule-based judge would (the planted sports failures get a format
  complaint, since their answers are right).

The score is read two ways: below 0.5 is a failure (as in `SliceAnalyzer`), and, for the
calibration sections, as the probability that the response is correct.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from faultmap import SliceAnalyzer, cluster_reasons, cohort_failure_rates
from faultmap import metrics as fm
from faultmap.cohorts import calibration_by_cohort

DATA = Path(__file__).parent / "data" / "bigbench_sample.jsonl"
SLICE_TASKS = [
    "date_understanding",
    "object_counting",
    "navigate",
    "sports_understanding",
    "movie_recommendation",
    "intent_recognition",
]
REASON_TEMPLATES = {
    "date_understanding": "Wrong date: the answer {response} should be {reference}.",
    "object_counting": "Miscounted the objects: said {response}, the right count is {reference}.",
    "navigate": "Lost track of the position after the moves: answered {response}, not {reference}.",
}
FORMAT_COMPLAINTS = [
    "The reply ignores the required format: one word, plausible or implausible.",
    "Answer buried in a long explanation instead of the single required word.",
    "Did not answer with plausible or implausible as the instructions ask.",
]


def section(title: str) -> None:
    print(f"\n== {title} ==\n")


def reason_for(row: dict) -> str:
    template = REASON_TEMPLATES.get(
        row["task"], "Picked {response} although the expected answer is {reference}."
    )
    return template.format(response=row["response"], reference=row["reference"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--per-task", type=int, default=60, help="prompts per task to embed")
    parser.add_argument("--out", type=Path, default=None, help="write the analysis JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]

    section("1. Classification: intent recognition, reference vs response (7 intents)")
    intents = [r for r in rows if r["task"] == "intent_recognition"]
    y_true = [r["reference"] for r in intents]
    y_pred = [r["response"] for r in intents]
    print(fm.classification_report(y_true, y_pred, top_confusions=5))
    print(
        f"\nmacro F1 {fm.f1_score(y_true, y_pred, average='macro'):.3f}  "
        f"MCC {fm.matthews_corrcoef(y_true, y_pred):.3f}  "
        f"Cohen's kappa {fm.cohen_kappa(y_true, y_pred):.3f}"
    )

    section("2. Mistakes and confidence: navigation (True/False)")
    nav = [r for r in rows if r["task"] == "navigate"]
    y_true = [r["reference"] for r in nav]
    y_pred = [r["response"] for r in nav]
    # P("True"): the score is the probability that the given answer is right
    p_true = np.array([r["score"] if r["response"] == "True" else 1 - r["score"] for r in nav])
    print(fm.misclassification_summary(y_true, y_pred, p_true, labels=["False", "True"]))
    gap = fm.confidence_gap(y_true, y_pred, p_true, n_bins=10, labels=["False", "True"])
    print(f"\n{gap}")
    print(f"incorrect predictions per confidence bin: {gap.incorrect_counts.tolist()}")
    print(
        f"ROC AUC {fm.roc_auc(y_true, p_true, labels=['False', 'True']):.3f}  "
        f"log loss {fm.log_loss(y_true, p_true, labels=['False', 'True']):.3f}  "
        f"Brier {fm.brier_score(y_true, p_true, labels=['False', 'True']):.3f}"
    )

    section("3. Calibration: is a score of 0.8 right 80% of the time? (all 3,000 rows)")
    correct = np.array([r["response"] == r["reference"] for r in rows])
    score = np.array([r["score"] for r in rows])
    print(fm.reliability_curve(correct, score, n_bins=10))
    equal_mass = fm.expected_calibration_error(correct, score, n_bins=10, strategy="quantile")
    print(f"\nECE with equal-mass bins: {equal_mass:.4f}")
    print("\nPer task:")
    print(fm.calibration_by_group(correct, score, [r["task"] for r in rows], n_bins=10))

    section("4. Semantic slices with metadata: analyze(..., metadata=...)")
    picked = [r for t in SLICE_TASKS for r in [r for r in rows if r["task"] == t][: args.per_task]]
    rng = np.random.default_rng(0)
    n = len(picked)
    task = np.array([r["task"] for r in picked])
    route = np.where(
        (task == "navigate") & (rng.random(n) < 0.8), "agent", rng.choice(["search", "chat"], n)
    )
    version = rng.choice(["v1", "v2"], n)
    scores = np.array([r["score"] for r in picked])
    planted = (task == "sports_understanding") & (version == "v2") & (rng.random(n) < 0.8)
    scores[planted] = 0.1
    metadata = {"route": route.tolist(), "prompt_version": version.tolist()}
    prompts = [r["prompt"] for r in picked]
    report = SliceAnalyzer().analyze(
        prompts, [r["response"] for r in picked], scores=scores, metadata=metadata
    )
    print(report)
    if args.out is not None:
        report.to_json(args.out)
        print(f"\nWrote {args.out}")
    right = np.array([r["response"] == r["reference"] for r in picked])
    print("\nCalibration of the score per slice:")
    print(fm.calibration_by_slice(report, right, scores, n_bins=5))

    section("5. Cohorts: failure rate by metadata value")
    failed = scores < 0.5
    print(cohort_failure_rates(failed, metadata))
    print("\nCalibration per route:")
    print(calibration_by_cohort(right, scores, {"route": metadata["route"]}, n_bins=5)["route"])

    section("6. Reasons: what the judge wrote about the failures, grouped")
    reasons = [reason_for(r) if f else None for r, f in zip(picked, failed, strict=True)]
    for i in np.flatnonzero(planted):
        reasons[i] = FORMAT_COMPLAINTS[i % len(FORMAT_COMPLAINTS)]
    by_reason = cluster_reasons(
        reasons, failed, slice_labels=report, cohorts={"route": metadata["route"]}
    )
    print(by_reason)

    section("7. Segmentation: a predicted mask shifted by two pixels (toy masks)")
    yy, xx = np.mgrid[:32, :32]
    truth = ((yy - 16) ** 2 + (xx - 16) ** 2 < 64).astype(int)
    truth[(yy < 6) & (xx < 6)] = 2  # a small second class in the corner
    pred = np.roll(truth, 2, axis=1)
    print(
        f"foreground IoU {fm.iou(truth > 0, pred > 0):.3f}  Dice "
        f"{fm.dice_coefficient(truth > 0, pred > 0):.3f}  pixel accuracy "
        f"{fm.pixel_accuracy(truth, pred, num_classes=3):.3f}"
    )
    per_class = fm.iou(truth, pred, num_classes=3, average=None)
    print(f"per-class IoU {np.round(per_class, 3).tolist()}  (0 = background)")


if __name__ == "__main__":
    main()
