"""The argument parser of the ``faultmap`` command: option types, the options the
subcommands share, and one subparser per command (its ``run`` is the command)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from faultmap.cli._cache import add_cache_parser
from faultmap.cli._commands import analyze, compare, coverage, diff

__all__ = ["build_parser"]


# -- argument types ------------------------------------------------------------------------


def _llm_option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed: Any = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.strip(), parsed


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


# -- parser --------------------------------------------------------------------------------


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("output")
    group.add_argument("-q", "--quiet", action="store_true", help="nothing on stderr but errors")
    group.add_argument(
        "-v", "--verbose", action="store_true", help="debug logs and tracebacks on stderr"
    )
    group.add_argument(
        "--json", metavar="PATH", help="write the result as JSON ('-': to stdout, no text)"
    )
    return common


def _analysis_options(with_threshold: bool = True) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("analysis")
    group.add_argument(
        "--embedding-model",
        help="sentence-transformers or litellm model name, or a local model folder "
        "(default: all-MiniLM-L6-v2, offline); for analyze with --embeddings or "
        "--embedding-col, the model that made those vectors (nothing is embedded; its "
        "fingerprint is recorded so that `faultmap diff` can match findings by meaning)",
    )
    group.add_argument(
        "--model", help="litellm model for slice names and causes (default: keyword names)"
    )
    group.add_argument(
        "--llm-option",
        metavar="KEY=VALUE",
        action="append",
        type=_llm_option,
        default=[],
        help="extra litellm completion argument (VALUE read as JSON when it parses); repeatable",
    )
    group.add_argument("--min-slice-size", type=int, default=10, help="default: %(default)s")
    group.add_argument(
        "--n-samples",
        type=_count,
        default=8,
        help="responses sampled per prompt when scoring by sampling (%(default)s)",
    )
    group.add_argument(
        "--significance-level", type=_fraction, default=0.05, help="FDR level (%(default)s)"
    )
    if with_threshold:
        group.add_argument(
            "--failure-threshold",
            type=float,
            default=0.5,
            help="a row fails when its score is below this (%(default)s)",
        )
        group.add_argument(
            "--reference-match",
            choices=("auto", "exact", "cosine"),
            default="auto",
            help="mode 2 (--reference-col): 'auto' compares short answers (at most 4 words: "
            "numbers, dates, yes/no, labels) exactly and the rest by max(0, cosine); 'exact' "
            "or 'cosine' for every row (%(default)s)",
        )
    group.add_argument(
        "--correction",
        choices=("bh", "by", "holm"),
        default="bh",
        help="multiple-testing correction: Benjamini-Hochberg, Benjamini-Yekutieli or Holm "
        "(%(default)s)",
    )
    group.add_argument("--clustering", choices=("hdbscan", "agglomerative"), default="hdbscan")
    group.add_argument("--random-state", type=int, default=0)
    group.add_argument(
        "--format",
        choices=("jsonl", "json", "csv", "tsv", "parquet"),
        help="input format (default: from the file extension)",
    )
    group.add_argument(
        "--embedding-backend",
        choices=("auto", "torch", "onnx", "onnx-int8", "static"),
        default="auto",
        help="how a local embedding model runs: auto (the default: torch on a GPU, else onnx), "
        "torch, onnx (same vectors as torch, ~2x faster on a CPU), onnx-int8 (faster, vectors "
        "moved) or static (model2vec, fastest, coarsest); see 'Embedding backends' in the "
        "README",
    )
    cache = group.add_mutually_exclusive_group()
    cache.add_argument("--no-cache", action="store_true", help="do not cache embeddings")
    cache.add_argument("--cache-dir", help="embedding cache folder")
    group.add_argument("--out", metavar="PATH", help="write the HTML report to PATH")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``faultmap`` command (subcommands analyze, coverage,
    compare, diff, cache).

    Example:
        >>> build_parser().parse_args(["diff", "old.json", "new.json"]).command
        'diff'
    """
    from faultmap import __version__

    parser = argparse.ArgumentParser(
        prog="faultmap",
        description="Find where and why a model fails: statistically tested failure slices.",
        epilog="Exit status: 0 ok, 1 a --fail-on-* gate tripped or diff found a new slice, "
        "2 error.",
    )
    parser.add_argument("--version", action="version", version=f"faultmap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options()

    p = sub.add_parser(
        "analyze",
        parents=[common, _analysis_options()],
        help="find failure slices in a JSONL, CSV or Parquet file",
        description="Find groups of similar prompts that fail significantly more often.",
    )
    p.add_argument("file", help="JSONL, JSON, CSV, TSV or Parquet file, one row per evaluation")
    cols = p.add_argument_group("columns")
    cols.add_argument("--prompt-col", default="prompt", help="default: %(default)s")
    cols.add_argument(
        "--response-col",
        help="default: response (optional with scores: responses only show in examples)",
    )
    mode = cols.add_mutually_exclusive_group()
    mode.add_argument("--score-col", help="scores in [0, 1], higher = better (default: score)")
    mode.add_argument("--reference-col", help="reference answers: score by similarity (mode 2)")
    mode.add_argument(
        "--sample-scores",
        action="store_true",
        help="score by sampling responses from --model (mode 3)",
    )
    vec = cols.add_mutually_exclusive_group()
    vec.add_argument("--embedding-col", help="column of precomputed prompt vectors")
    vec.add_argument("--embeddings", metavar="FILE.npy", help="precomputed prompt vectors")
    cols.add_argument(
        "--metadata-col",
        action="append",
        default=[],
        metavar="COL",
        help="metadata column (route, model, language...) for hybrid slices; repeatable",
    )
    evidence = p.add_argument_group("evidence (each off by default)")
    evidence.add_argument(
        "--null-runs",
        type=int,
        default=0,
        metavar="K",
        help="rerun the tests and the merge into failure modes on K permutations of the "
        "labels (cheap)",
    )
    evidence.add_argument(
        "--stability-runs",
        type=int,
        default=0,
        metavar="B",
        help="recluster and retest B subsamples of 80%% of the rows (B clusterings)",
    )
    evidence.add_argument(
        "--confirm",
        choices=("split",),
        help="find on a random half, confirm on the other half",
    )
    p.add_argument(
        "--fail-on-slices", action="store_true", help="exit 1 when a significant slice exists"
    )
    p.add_argument("--fail-on-modes", action="store_true", help="exit 1 when a failure mode exists")
    p.set_defaults(run=analyze)

    p = sub.add_parser(
        "coverage",
        parents=[common, _analysis_options(with_threshold=False)],
        help="find regions of production prompts the test suite under-represents",
        description=(
            "Audit how well TEST_FILE's prompts cover PROD_FILE's prompts. Both sets are "
            "clustered together into regions; a gap is a region of at least --min-gap-size "
            "production prompts where the test suite is significantly under-represented "
            "(one-sided Fisher test, corrected across regions), whatever the distances. The "
            "coverage score is the share of production prompts in no gap; the share within "
            "the distance threshold of a test prompt (faultmap 0.5.0's coverage score) is "
            "reported as distance_coverage_score. --fail-on-gaps gates on the gaps, not on "
            "either score."
        ),
    )
    p.add_argument("test_file", metavar="TEST_FILE")
    p.add_argument("production_file", metavar="PROD_FILE")
    cols = p.add_argument_group("columns")
    cols.add_argument("--prompt-col", default="prompt", help="in both files (%(default)s)")
    cols.add_argument("--test-prompt-col", help="in TEST_FILE (default: --prompt-col)")
    cols.add_argument("--production-prompt-col", help="in PROD_FILE (default: --prompt-col)")
    cols.add_argument("--embedding-col", help="column of precomputed vectors in both files")
    threshold = p.add_mutually_exclusive_group()
    threshold.add_argument(
        "--distance-threshold",
        type=float,
        help="distance for distance_coverage_score and the gaps' distance evidence, on "
        "faultmap 0.5.0's scale (Euclidean between unit vectors, 0-2); it does not decide "
        "gaps (default: chosen from the test prompts)",
    )
    threshold.add_argument(
        "--cosine-distance-threshold",
        type=float,
        help="the same threshold as a cosine distance (1 - cosine similarity, 0-2)",
    )
    p.add_argument(
        "--min-gap-size",
        type=int,
        default=5,
        help="fewest production prompts in a gap (default: %(default)s)",
    )
    p.add_argument(
        "--neighbor-search",
        choices=("auto", "exact", "cells"),
        default="auto",
        help="nearest test prompt of each production prompt: exact, or by k-means cells "
        "with a measured error (for millions of prompts); auto: exact up to 10^10 pairs",
    )
    p.add_argument(
        "--fail-on-gaps",
        action="store_true",
        help="exit 1 when a gap (an under-represented region) exists",
    )
    p.set_defaults(run=coverage)

    p = sub.add_parser(
        "compare",
        parents=[common, _analysis_options()],
        help="compare two models on the same prompts, overall and per slice",
        description="McNemar tests of model A against model B, overall and per slice.",
    )
    p.add_argument("file")
    cols = p.add_argument_group("columns")
    cols.add_argument("--prompt-col", default="prompt", help="default: %(default)s")
    cols.add_argument("--scores-a", metavar="COL", help="model A's scores in [0, 1]")
    cols.add_argument("--scores-b", metavar="COL", help="model B's scores in [0, 1]")
    cols.add_argument("--responses-a", metavar="COL", help="model A's responses")
    cols.add_argument("--responses-b", metavar="COL", help="model B's responses")
    cols.add_argument("--reference-col", help="reference answers (mode 2, needs responses)")
    vec = cols.add_mutually_exclusive_group()
    vec.add_argument("--embedding-col", help="column of precomputed prompt vectors")
    vec.add_argument("--embeddings", metavar="FILE.npy", help="precomputed prompt vectors")
    p.add_argument("--name-a", default="Model A", help="default: %(default)s")
    p.add_argument("--name-b", default="Model B", help="default: %(default)s")
    p.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when model B is significantly worse than A, overall or on a slice",
    )
    p.set_defaults(run=compare)

    p = sub.add_parser(
        "diff",
        parents=[common],
        help="new, resolved and persisting failure modes and slices between two analysis reports",
        description="Match the failure modes and the slices of two `faultmap analyze --json` "
        "reports, which may come from different prompts (two weeks of logs). Two findings "
        "match when they share prompts, or by meaning: when both reports were embedded by "
        "the same model (the weights' fingerprint), when their centroids are as close as "
        "their members are to them, so the same failure on new prompts persists and a "
        "failure not there before is new. Between reports of different embedding models "
        "findings match by shared prompts only, and the diff says so. Each match shows its "
        "evidence: similarity of the centroids (and what it had to reach), shared prompts "
        "and their overlap. Exit 1 when NEW has a new slice (matching no slice or failure "
        "mode of OLD).",
    )
    p.add_argument("old", metavar="OLD.json")
    p.add_argument("new", metavar="NEW.json")
    p.add_argument(
        "--min-overlap",
        type=float,
        default=0.5,
        help="overlap coefficient needed for a match (%(default)s)",
    )
    p.add_argument(
        "--min-shared", type=_count, default=3, help="shared prompts needed (%(default)s)"
    )
    p.add_argument(
        "--prompts-only",
        action="store_true",
        help="match by shared prompts only, not by meaning",
    )
    p.add_argument("--out", metavar="PATH", help="write the diff as an HTML page to PATH")
    p.set_defaults(run=diff)

    add_cache_parser(sub)
    return parser
