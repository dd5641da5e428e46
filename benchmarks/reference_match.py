"""Mode 2 on the bundled data with the gold answers as references: how many failures each
``reference_match`` rule finds.

The bundled sample (``examples/data/bigbench_sample.jsonl``, 3,000 BIG-bench rows) has a
simulated response, the gold answer (``reference``) and a score for every row; a row fails
(score below 0.5) exactly when the response is not the gold answer (741 rows). Scoring the
responses against the gold answers should find those failures. This counts, per rule, the
failures found (mode 2 score below ``failure_threshold``) and the false alarms (rows that
pass but score below it), and faultmap 0.5.0's ``(cos + 1) / 2`` for comparison. Only the
responses and references are embedded (all-MiniLM-L6-v2, embedding cache on).

Run from the repository root::

    python -m benchmarks.reference_match
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from faultmap import stages
from faultmap.scoring.reference import REFERENCE_MATCHES, ReferenceScorer

DATA = Path(__file__).resolve().parent.parent / "examples" / "data" / "bigbench_sample.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--failure-threshold", type=float, default=0.5)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    prompts = [r["prompt"] for r in rows]
    responses = [r["response"] for r in rows]
    references = [r["reference"] for r in rows]
    failed = np.array([r["score"] < 0.5 for r in rows])
    embedder = stages.embedder_for(
        "all-MiniLM-L6-v2",
        cache=True,
        max_text_chars=2000,
        usage_kwargs=None,
        max_concurrent_requests=1,
        show_progress=False,
    )
    t = args.failure_threshold
    print(f"{len(rows)} rows, {int(failed.sum())} failures (response != gold answer)")
    for match in REFERENCE_MATCHES:
        scorer = ReferenceScorer(references, embedder, match=match, failure_threshold=t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = scorer.score(prompts, responses)
        flagged = result.scores < t
        print(
            f"reference_match={match!r:9}: finds {int((flagged & failed).sum())} of "
            f"{int(failed.sum())} failures, {int((flagged & ~failed).sum())} false alarms "
            f"(exact-match rows {result.metadata['num_exact_match_rows']}, cosine rows "
            f"{result.metadata['num_cosine_rows']})"
        )
    cos = np.einsum(
        "ij,ij->i",
        embedder.embed(responses, role="document").astype(np.float64),
        embedder.embed(references, role="document").astype(np.float64),
    )
    old = (cos + 1) / 2 < t
    print(
        f"faultmap 0.5.0's (cos + 1) / 2  : finds {int((old & failed).sum())} of "
        f"{int(failed.sum())} failures, {int((old & ~failed).sum())} false alarms"
    )


if __name__ == "__main__":
    main()
