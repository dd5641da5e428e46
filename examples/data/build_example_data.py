"""Build ``examples/data/bigbench_sample.jsonl`` from BIG-bench prompts.

Prompts and reference answers are real BIG-bench examples; the model responses and
scores are *simulated* (see SOURCE.md).  Deterministic for a given ``--seed``.

Usage (from the repository root)::

    python examples/data/build_example_data.py
    python examples/data/build_example_data.py --sdist /path/to/bigbench-1.0.0.tar.gz
    python examples/data/build_example_data.py --root /path/to/benchmark_tasks
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.bigbench_data import DEFAULT_CACHE_DIR, ensure_bigbench, load_tasks  # noqa: E402

logger = logging.getLogger("build_example_data")

DEFAULT_OUT = Path(__file__).resolve().parent / "bigbench_sample.jsonl"

# Simulated per-task probability that the "model" answers correctly.  Most tasks
# are easy for it; three multi-step reasoning tasks are planted as weak spots.
PASS_PROB: dict[str, float] = {
    "sports_understanding": 0.92,
    "logical_fallacy_detection": 0.88,
    "social_iqa": 0.90,
    "strategyqa": 0.86,
    "epistemic_reasoning": 0.89,
    "reasoning_about_colored_objects": 0.87,
    "movie_recommendation": 0.91,
    "implicatures": 0.93,
    "intent_recognition": 0.95,
    "date_understanding": 0.42,  # weak: calendar arithmetic
    "navigate": 0.38,  # weak: tracking position over several steps
    "object_counting": 0.30,  # weak: counting items in a list
}

ROWS_PER_TASK = 250
MAX_PROMPT_CHARS = 600

_NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


def reference_answer(row: Mapping[str, Any], raw_choices: Mapping[str, float] | None) -> str:
    """Best-scoring choice when the example is multiple choice, else its first target."""
    if raw_choices:
        return max(raw_choices, key=lambda k: raw_choices[k])
    return str(row["target"])


def _wrong_number(reference: str, rng: np.random.Generator) -> str | None:
    """Off-by-one/two variant of a numeric answer, in the reference's own format."""
    text = reference.strip().lower()
    if text.isdigit():
        value, as_word = int(text), False
    elif text in _NUMBER_WORDS:
        value, as_word = _NUMBER_WORDS.index(text), True
    else:
        return None
    offsets = [d for d in (-2, -1, 1, 2) if value + d >= 0]
    wrong = value + int(rng.choice(offsets))
    if as_word and wrong < len(_NUMBER_WORDS):
        return _NUMBER_WORDS[wrong]
    return str(wrong)


def wrong_answer(
    reference: str,
    raw_choices: Mapping[str, float] | None,
    task_references: Sequence[str],
    rng: np.random.Generator,
) -> str:
    """A plausible incorrect response.

    1. A lower-scoring choice from ``target_scores`` when there is one;
    2. else an off-by-one/two number for numeric answers;
    3. else another reference answer from the same task that differs.
    """
    if raw_choices:
        best = max(raw_choices.values())
        wrong = [c for c, s in raw_choices.items() if s < best and c.strip() != reference.strip()]
        if wrong:
            return str(wrong[int(rng.integers(len(wrong)))]).strip()
    number = _wrong_number(reference, rng)
    if number is not None:
        return number
    others = sorted({r for r in task_references if r != reference})
    if others:
        return others[int(rng.integers(len(others)))]
    return "I'm not sure."


def _raw_target_scores(root: Path, tasks: Sequence[str]) -> dict[tuple[str, str], dict[str, float]]:
    """(task, stripped input) -> numeric target_scores, for choosing wrong answers."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for task in tasks:
        with open(root / task / "task.json", encoding="utf-8") as fh:
            examples = json.load(fh)["examples"]
        for ex in examples:
            scores = ex.get("target_scores")
            if isinstance(ex.get("input"), str) and isinstance(scores, dict) and scores:
                numeric = {
                    str(k): float(v) for k, v in scores.items() if isinstance(v, (int, float))
                }
                out.setdefault((task, ex["input"].strip()), numeric)
    return out


def build(root: Path, seed: int = 0, per_task: int = ROWS_PER_TASK) -> list[dict[str, Any]]:
    tasks = sorted(PASS_PROB)
    rows = [
        r
        for r in load_tasks(root, max_per_task=None, max_chars=10**6, seed=seed)
        if r["task"] in PASS_PROB and len(r["prompt"]) <= MAX_PROMPT_CHARS
    ]
    raw_scores = _raw_target_scores(root, tasks)
    rng = np.random.default_rng(seed)

    by_task: dict[str, list[dict[str, Any]]] = {t: [] for t in tasks}
    for r in rows:  # load_tasks order is already a seeded shuffle
        if len(by_task[r["task"]]) < per_task:
            by_task[r["task"]].append(r)

    records: list[dict[str, Any]] = []
    for task in tasks:
        picked = by_task[task]
        if len(picked) < per_task:
            logger.warning("%s: only %d prompts available", task, len(picked))
        choices = [raw_scores.get((task, r["prompt"])) for r in picked]
        refs = [reference_answer(r, c).strip() for r, c in zip(picked, choices, strict=True)]
        passed = rng.random(len(picked)) < PASS_PROB[task]
        for r, c, ref, ok in zip(picked, choices, refs, passed, strict=True):
            if ok:
                response = ref
                score = 0.6 + 0.4 * rng.beta(5.0, 2.0)
            else:
                response = wrong_answer(ref, c, refs, rng)
                score = 0.45 * rng.beta(2.0, 5.0)
            records.append(
                {
                    "task": task,
                    "prompt": r["prompt"],
                    "response": response,
                    "reference": ref,
                    "score": round(float(score), 3),
                }
            )

    order = rng.permutation(len(records))
    return [{"id": i, **records[int(j)]} for i, j in enumerate(order)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, help="benchmark_tasks folder (skips download)")
    parser.add_argument("--sdist", type=Path, help="existing bigbench-1.0.0.tar.gz")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-task", type=int, default=ROWS_PER_TASK)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")

    root = args.root or ensure_bigbench(args.cache_dir, sdist=args.sdist)
    records = build(root, seed=args.seed, per_task=args.per_task)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    fail = sum(rec["score"] < 0.5 for rec in records)
    logger.info("Wrote %d rows (%d failures) to %s", len(records), fail, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
