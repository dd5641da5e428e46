"""The subcommands: read the columns the options name, run the analysis, emit the result
and apply the command's CI gate. Each takes the parsed arguments and returns the exit
status."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from faultmap.cli._output import check_outputs, finish, logger
from faultmap.exceptions import DataError

__all__ = ["analyze", "compare", "coverage", "diff"]


def _analyzer(args: argparse.Namespace) -> Any:
    from faultmap.analyzer import SliceAnalyzer

    cache: bool | str = False if args.no_cache else (args.cache_dir or True)
    options: dict[str, Any] = dict(
        model=args.model,
        embedding_model=args.embedding_model or "all-MiniLM-L6-v2",
        significance_level=args.significance_level,
        min_slice_size=args.min_slice_size,
        n_samples=args.n_samples,
        clustering_method=args.clustering,
        random_state=args.random_state,
        llm_completion_kwargs=dict(args.llm_option) or None,
        show_progress=False if args.quiet else None,
        embedding_cache=cache,
        correction=args.correction,
        embedding_backend=args.embedding_backend,
    )
    if getattr(args, "confirm", None):
        options["confirm"] = args.confirm
    if hasattr(args, "failure_threshold"):
        options["failure_threshold"] = args.failure_threshold
    if hasattr(args, "reference_match"):
        options["reference_match"] = args.reference_match
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


# -- commands ------------------------------------------------------------------------------


def analyze(args: argparse.Namespace) -> int:
    from faultmap.io._inputs import analysis_columns
    from faultmap.reports.models import AnalysisReport

    check_outputs(args, AnalysisReport, [("FILE", args.file), ("--embeddings", args.embeddings)])
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
    inputs = analysis_columns(
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
    if "embeddings" in inputs and args.embedding_model:
        inputs["embeddings_model"] = args.embedding_model  # the model that made them
    report = _analyzer(args).analyze(
        **inputs, null_runs=args.null_runs, stability_runs=args.stability_runs
    )
    gates = [
        (
            args.fail_on_slices and report.num_significant > 0,
            f"{report.num_significant} significant slice(s): failing (--fail-on-slices)",
        ),
        (
            args.fail_on_modes and report.num_failure_modes > 0,
            f"{report.num_failure_modes} failure mode(s): failing (--fail-on-modes)",
        ),
    ]
    tripped = [message for hit, message in gates if hit]
    return finish(args, report, bool(tripped), "; ".join(tripped))


def coverage(args: argparse.Namespace) -> int:
    from faultmap.reports.models import CoverageReport

    check_outputs(
        args,
        CoverageReport,
        [("TEST_FILE", args.test_file), ("PRODUCTION_FILE", args.production_file)],
    )
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
        cosine_distance_threshold=args.cosine_distance_threshold,
        test_embeddings=sides["test"][1],
        production_embeddings=sides["production"][1],
        neighbor_search=args.neighbor_search,
    )
    return finish(
        args,
        report,
        args.fail_on_gaps and report.num_gaps > 0,
        f"{report.num_gaps} coverage gap(s): failing (--fail-on-gaps)",
    )


def compare(args: argparse.Namespace) -> int:
    from faultmap.reports.models import ComparisonReport

    check_outputs(args, ComparisonReport, [("FILE", args.file), ("--embeddings", args.embeddings)])
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
    return finish(
        args,
        report,
        args.fail_on_regression and worse,
        f"{report.model_b_name} is significantly worse than {report.model_a_name}: failing "
        "(--fail-on-regression)",
    )


def diff(args: argparse.Namespace) -> int:
    from faultmap.reports.diff import SliceDiff, diff_reports, load_report

    check_outputs(args, SliceDiff, [("OLD", args.old), ("NEW", args.new)])
    old = load_report(args.old, name="OLD report")
    new = load_report(args.new, name="NEW report")
    result = diff_reports(
        old,
        new,
        min_overlap=args.min_overlap,
        min_shared=args.min_shared,
        by_meaning=not args.prompts_only,
    )
    return finish(args, result, result.has_new_slices, f"{len(result.new)} new slice(s): failing")
