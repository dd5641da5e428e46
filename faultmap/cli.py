"""The ``faultmap`` command: analyze, coverage, compare and diff from the shell or CI.

Results go to stdout (the text report, or JSON with ``--json -``) and to files (``--out``
HTML, ``--json`` JSON); progress and warnings go to stderr, and ``--quiet`` silences them.
Exit status: 0 success, 1 a CI gate tripped (``--fail-on-slices``, ``--fail-on-gaps``,
``--fail-on-regression``, or ``diff`` found a new slice), 2 an error (one line on stderr).

Example:
    $ faultmap analyze evals.csv --score-col score --out report.html --json report.json
    $ faultmap diff last_week.json report.json || echo "new failure slice"
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from faultmap.exceptions import ConfigurationError, DataError, FaultmapError

__all__ = ["build_parser", "main"]

logger = logging.getLogger("faultmap")

EXIT_OK, EXIT_GATE, EXIT_ERROR = 0, 1, 2


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
        default="all-MiniLM-L6-v2",
        help="sentence-transformers or litellm model name, or a local model folder "
        "(default: %(default)s, offline)",
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
    group.add_argument("--clustering", choices=("hdbscan", "agglomerative"), default="hdbscan")
    group.add_argument("--random-state", type=int, default=0)
    group.add_argument(
        "--format",
        choices=("jsonl", "json", "csv", "tsv", "parquet"),
        help="input format (default: from the file extension)",
    )
    cache = group.add_mutually_exclusive_group()
    cache.add_argument("--no-cache", action="store_true", help="do not cache embeddings")
    cache.add_argument("--cache-dir", help="embedding cache folder")
    group.add_argument("--out", metavar="PATH", help="write the HTML report to PATH")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``faultmap`` command (subcommands analyze, coverage,
    compare, diff).

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
    p.add_argument(
        "--fail-on-slices", action="store_true", help="exit 1 when a significant slice exists"
    )
    p.set_defaults(run=_analyze)

    p = sub.add_parser(
        "coverage",
        parents=[common, _analysis_options(with_threshold=False)],
        help="find production prompts the test suite has no example of",
        description="Audit how well TEST_FILE's prompts cover PROD_FILE's prompts.",
    )
    p.add_argument("test_file", metavar="TEST_FILE")
    p.add_argument("production_file", metavar="PROD_FILE")
    cols = p.add_argument_group("columns")
    cols.add_argument("--prompt-col", default="prompt", help="in both files (%(default)s)")
    cols.add_argument("--test-prompt-col", help="in TEST_FILE (default: --prompt-col)")
    cols.add_argument("--production-prompt-col", help="in PROD_FILE (default: --prompt-col)")
    cols.add_argument("--embedding-col", help="column of precomputed vectors in both files")
    p.add_argument("--distance-threshold", type=float, help="default: chosen from the data")
    p.add_argument("--min-gap-size", type=int, default=5, help="default: %(default)s")
    p.add_argument("--fail-on-gaps", action="store_true", help="exit 1 when a gap exists")
    p.set_defaults(run=_coverage)

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
    p.set_defaults(run=_compare)

    p = sub.add_parser(
        "diff",
        parents=[common],
        help="new, resolved and persisting slices between two analysis reports",
        description="Match the slices of two `faultmap analyze --json` reports by shared "
        "prompts. Exit 1 when NEW has a slice OLD did not.",
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
    p.set_defaults(run=_diff)
    return parser


# -- helpers -------------------------------------------------------------------------------


class _Prefixed(logging.Formatter):
    """``faultmap: message``, without doubling a prefix the message already has."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if text.startswith("faultmap") else f"faultmap: {text}"


def _setup_output(args: argparse.Namespace) -> None:
    """Progress on stderr (or nothing with --quiet); the CLI owns its process's logging."""
    if args.quiet:
        logging.disable(logging.CRITICAL)
        warnings.simplefilter("ignore")
        for variable in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS"):
            os.environ.setdefault(variable, "1")
        return
    level = logging.DEBUG if args.verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Prefixed("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    logging.captureWarnings(True)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s")


def _check_output(path: str | None, option: str) -> None:
    """Fail before any work when an output file cannot be written."""
    if path is None or path == "-":
        return
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise DataError(f"{option}: the folder '{folder}' does not exist; create it first.")


def _check_outputs(args: argparse.Namespace, report_type: type) -> None:
    _check_output(getattr(args, "out", None), "--out")
    _check_output(args.json, "--json")
    if getattr(args, "out", None) and not hasattr(report_type, "to_html"):
        raise ConfigurationError(
            f"--out needs {report_type.__name__}.to_html(), which this faultmap version does "
            "not have; write JSON with --json instead."
        )


def _analyzer(args: argparse.Namespace) -> Any:
    from faultmap.analyzer import SliceAnalyzer

    cache: bool | str = False if args.no_cache else (args.cache_dir or True)
    options: dict[str, Any] = dict(
        model=args.model,
        embedding_model=args.embedding_model,
        significance_level=args.significance_level,
        min_slice_size=args.min_slice_size,
        n_samples=args.n_samples,
        clustering_method=args.clustering,
        random_state=args.random_state,
        llm_completion_kwargs=dict(args.llm_option) or None,
        show_progress=False if args.quiet else None,
        embedding_cache=cache,
    )
    if hasattr(args, "failure_threshold"):
        options["failure_threshold"] = args.failure_threshold
    return SliceAnalyzer(**options)


def _read(path: str, columns: Sequence[str | None], args: argparse.Namespace) -> Any:
    from faultmap.io import read_table

    table = read_table(path, columns=[c for c in columns if c], format=args.format)
    logger.info("read %d row(s) from %s", len(table), path)
    return table


def _load_vectors(path: str | None) -> Any:
    if path is None:
        return None
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"--embeddings: no such file '{path}'; check the path.") from None
    except (OSError, ValueError) as exc:
        raise DataError(
            f"--embeddings: '{path}' is not a readable NumPy .npy file of vectors ({exc}); "
            "save one with numpy.save(path, vectors)."
        ) from None


def _emit(args: argparse.Namespace, result: Any) -> None:
    """The result: text on stdout (or JSON with --json -), JSON / HTML files."""
    if args.json == "-":
        sys.stdout.write(result.to_json() + "\n")
    else:
        sys.stdout.write(str(result) + "\n")
        if args.json:
            result.to_json(args.json)
            logger.info("wrote %s", args.json)
    out = getattr(args, "out", None)
    if out:
        result.to_html(out)
        logger.info("wrote %s", out)


def _finish(args: argparse.Namespace, result: Any, tripped: bool, message: str) -> int:
    """Emit the result; exit status 1 with ``message`` on stderr when a gate ``tripped``."""
    _emit(args, result)
    if tripped:
        logger.info("%s", message)
        return EXIT_GATE
    return EXIT_OK


# -- commands ------------------------------------------------------------------------------


def _analyze(args: argparse.Namespace) -> int:
    from faultmap.io import _analysis_columns
    from faultmap.reports.models import AnalysisReport

    _check_outputs(args, AnalysisReport)
    score_col = None
    if not (args.reference_col or args.sample_scores):
        score_col = args.score_col or "score"
    response_col = args.response_col or "response"
    table = _read(
        args.file,
        [
            args.prompt_col,
            response_col,
            score_col,
            args.reference_col,
            args.embedding_col,
            *args.metadata_col,
        ],
        args,
    )
    if args.response_col is None and response_col not in table.columns and score_col:
        logger.info("no 'response' column: examples will show no responses")
        response_col = None
    inputs = _analysis_columns(
        table,
        prompt_col=args.prompt_col,
        response_col=response_col,
        score_col=score_col,
        reference_col=args.reference_col,
        embedding_col=args.embedding_col,
        metadata_cols=tuple(args.metadata_col),
        cli=True,
    )
    if args.embeddings:
        inputs["embeddings"] = _load_vectors(args.embeddings)
    report = _analyzer(args).analyze(**inputs)
    return _finish(
        args,
        report,
        args.fail_on_slices and report.num_significant > 0,
        f"{report.num_significant} significant slice(s): failing (--fail-on-slices)",
    )


def _coverage(args: argparse.Namespace) -> int:
    from faultmap.reports.models import CoverageReport

    _check_outputs(args, CoverageReport)
    sides = {}
    for side, path, column, option in (
        ("test", args.test_file, args.test_prompt_col, "--test-prompt-col"),
        ("production", args.production_file, args.production_prompt_col, "--production-prompt-col"),
    ):
        column, option = (column, option) if column else (args.prompt_col, "--prompt-col")
        table = _read(path, [column, args.embedding_col], args)
        prompts = table.text(column, option=option)
        vectors = None
        if args.embedding_col:
            vectors = table.vectors(args.embedding_col, option="--embedding-col")
        sides[side] = (prompts, vectors)
    report = _analyzer(args).audit_coverage(
        sides["test"][0],
        sides["production"][0],
        distance_threshold=args.distance_threshold,
        min_gap_size=args.min_gap_size,
        test_embeddings=sides["test"][1],
        production_embeddings=sides["production"][1],
    )
    return _finish(
        args,
        report,
        args.fail_on_gaps and report.num_gaps > 0,
        f"{report.num_gaps} coverage gap(s): failing (--fail-on-gaps)",
    )


def _compare(args: argparse.Namespace) -> int:
    from faultmap.reports.models import ComparisonReport

    _check_outputs(args, ComparisonReport)
    if bool(args.scores_a) != bool(args.scores_b):
        raise DataError("--scores-a and --scores-b go together; pass both columns or neither.")
    table = _read(
        args.file,
        [
            args.prompt_col,
            args.scores_a,
            args.scores_b,
            args.responses_a,
            args.responses_b,
            args.reference_col,
            args.embedding_col,
        ],
        args,
    )
    prompts = table.text(args.prompt_col, option="--prompt-col")
    inputs: dict[str, Any] = {}
    for side in ("a", "b"):
        column = getattr(args, f"responses_{side}")
        inputs[f"responses_{side}"] = (
            table.text(column, option=f"--responses-{side}", allow_empty=True)
            if column
            else [""] * len(prompts)
        )
        column = getattr(args, f"scores_{side}")
        if column:
            inputs[f"scores_{side}"] = table.numbers(
                column, option=f"--scores-{side}", bounds=(0.0, 1.0)
            )
    if args.reference_col:
        inputs["references"] = table.text(args.reference_col, option="--reference-col")
    if args.embedding_col:
        inputs["embeddings"] = table.vectors(args.embedding_col, option="--embedding-col")
    elif args.embeddings:
        inputs["embeddings"] = _load_vectors(args.embeddings)
    report = _analyzer(args).compare_models(
        prompts, model_a_name=args.name_a, model_b_name=args.name_b, **inputs
    )
    worse = report.global_winner == "a" or any(s.winner == "a" for s in report.slices)
    return _finish(
        args,
        report,
        args.fail_on_regression and worse,
        f"{report.model_b_name} is significantly worse than {report.model_a_name}: failing "
        "(--fail-on-regression)",
    )


def _diff(args: argparse.Namespace) -> int:
    from faultmap.reports.diff import diff_reports, load_report

    _check_output(args.json, "--json")
    old = load_report(args.old, name="OLD report")
    new = load_report(args.new, name="NEW report")
    result = diff_reports(old, new, min_overlap=args.min_overlap, min_shared=args.min_shared)
    return _finish(args, result, result.has_new_slices, f"{len(result.new)} new slice(s): failing")


# -- entry point ---------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``faultmap`` command and return its exit status (0 ok, 1 gate, 2 error).

    Example:
        >>> main(["diff", "old.json", "new.json"])  # doctest: +SKIP
        0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    _setup_output(args)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except FaultmapError as exc:
        sys.stderr.write(f"faultmap: error: {_one_line(exc)}\n")
    except KeyboardInterrupt:
        sys.stderr.write("faultmap: interrupted\n")
        return 130
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        sys.stderr.write(
            f"faultmap: error: {type(exc).__name__}: {_one_line(exc)} (run with --verbose for "
            "the traceback)\n"
        )
    return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
