"""Property-based fuzzing of every public entry point (issue 14, point 7).

Any input either gives a result or a faultmap error: a ``ValueError`` subclass
(:class:`~faultmap.DataError` or :class:`~faultmap.ConfigurationError`) whose message names
the argument, row or field at fault. Never another exception type, never a hang (each call
runs under an alarm). Embeddings are given or come from :class:`~faultmap.testing.FakeEmbedder`;
no model is loaded, so the whole module runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import signal
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from faultmap import (
    AnalysisReport,
    ComparisonReport,
    ConfigurationError,
    CoverageReport,
    DataError,
    FaultmapError,
    SliceAnalyzer,
)
from faultmap.cli import main
from faultmap.io import read_table
from faultmap.reports.diff import diff_reports
from faultmap.testing import FakeEmbedder

DATA = Path(__file__).resolve().parent / "data"
OLD = {
    AnalysisReport: DATA / "old_analysis_report.json",
    CoverageReport: DATA / "old_coverage_report.json",
    ComparisonReport: DATA / "old_comparison_report.json",
}

fuzz = settings(
    max_examples=30,
    deadline=None,  # the alarm below catches a hang; the shared CI machine is slow at times
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

HANG_AFTER_S = 20


@contextlib.contextmanager
def no_hang(seconds: int = HANG_AFTER_S) -> Iterator[None]:
    """Fail the example when the call runs longer than ``seconds`` (a hang)."""
    if not hasattr(signal, "SIGALRM"):  # Windows: no alarm, no hang check
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise AssertionError(f"the call ran longer than {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(call: Callable[[], Any], names: Sequence[str]) -> Any:
    """Run ``call``: its result, or None after a faultmap error whose message names one of
    ``names``; any other exception fails the test."""
    with no_hang(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are for questionable but usable input
        try:
            result = call()
            event("a result")
            return result
        except (DataError, ConfigurationError) as exc:
            event(f"{type(exc).__name__}")
            assert isinstance(exc, ValueError) and isinstance(exc, FaultmapError)
            message = str(exc)
            assert any(name in message for name in names), (
                f"{type(exc).__name__} names none of {list(names)}: {message}"
            )
            return None


# -- strategies ------------------------------------------------------------------------------

texts = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), min_size=0, max_size=12
) | st.sampled_from(["tax refund", "cake recipe", "\ud83d half", "", "  ", "a\x00b"])
scalars = st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats() | texts
leaves = scalars | st.just(b"bytes") | st.just(object())


def containers(items: st.SearchStrategy[Any], n: int) -> st.SearchStrategy[Any]:
    """``n`` items in every container a caller might pass, ordered or not."""
    lists = st.lists(items, min_size=n, max_size=n)
    return st.one_of(
        lists,
        lists.map(tuple),
        lists.map(lambda xs: np.array(xs, dtype=object)),
        lists.map(lambda xs: set(map(repr, xs))),
        lists.map(lambda xs: (x for x in xs)),
        lists.map(lambda xs: dict(enumerate(xs))),
        st.lists(items, min_size=0, max_size=n + 3),  # another length
        scalars,
    )


def vectors(n: int) -> st.SearchStrategy[Any]:
    good = st.integers(0, 2**16).map(lambda s: np.random.default_rng(s).normal(size=(n, 4)))
    return st.one_of(
        good,
        good.map(lambda v: np.where(v > 1.5, np.nan, v)),
        good.map(lambda v: v[:, :1]),
        good.map(lambda v: v[:-1]),
        good.map(lambda v: np.zeros_like(v)),
        good.map(lambda v: v.tolist()),
        st.none(),
        scalars,
    )


def mostly(good: Any, bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` four times in five, else a draw of ``bad``: several arguments at once are
    then often all valid, so the fuzzers reach the analyses and the views too."""
    return st.integers(0, 4).flatmap(lambda k: bad if k == 0 else st.just(good))


N = 12
good_prompts = [f"question {i} about {'tax' if i % 2 else 'cake'}" for i in range(N)]
good_scores = [float(i % 3 == 0) for i in range(N)]


def analyzer(**kwargs: Any) -> SliceAnalyzer:
    return SliceAnalyzer(
        embedding_model=FakeEmbedder(8),
        embedding_cache=False,
        clustering_method="agglomerative",
        min_slice_size=3,
        map_projection=None,
        **kwargs,
    )


# -- the constructor -------------------------------------------------------------------------

PARAMETERS = [
    "model",
    "embedding_model",
    "significance_level",
    "min_slice_size",
    "failure_threshold",
    "n_samples",
    "clustering_method",
    "temperature",
    "consistency_threshold",
    "embedding_usage_kwargs",
    "embedding_max_text_chars",
    "namer",
    "test",
    "random_state",
    "llm_timeout",
    "embedding_cache",
    "map_projection",
    "map_dims",
    "max_map_points",
    "confirm",
    "correction",
]


@fuzz
@given(name=st.sampled_from(PARAMETERS), value=leaves | st.lists(scalars, max_size=3))
def test_constructor(name: str, value: Any) -> None:
    outcome(lambda: SliceAnalyzer(**{name: value}), [f"'{name}'"])


# -- the analyses ----------------------------------------------------------------------------

ANALYZE_NAMES = ["'prompts", "'responses", "'scores", "'embeddings", "metadata", "'references"]


@fuzz
@given(
    prompts=mostly(good_prompts, containers(texts, N) | st.lists(texts, min_size=N, max_size=N)),
    responses=mostly(["r"] * N, containers(texts, N)),
    scores=mostly(good_scores, containers(scalars, N) | st.none()),
    embeddings=mostly(None, vectors(N)),
    metadata=mostly(None, st.dictionaries(texts, containers(scalars, N), max_size=2)),
)
def test_analyze(prompts: Any, responses: Any, scores: Any, embeddings: Any, metadata: Any) -> None:
    references = None if scores is not None else ["a reference"] * N

    def call() -> AnalysisReport:
        return analyzer().analyze(
            prompts, responses, scores, references, embeddings=embeddings, metadata=metadata
        )

    report = outcome(call, ANALYZE_NAMES)
    if report is not None:
        str(report)
        assert AnalysisReport.from_json(report.to_json()).to_dict() == report.to_dict()


@fuzz
@given(
    frame=st.dictionaries(
        st.sampled_from(["prompt", "response", "score", "route"]) | texts,
        containers(scalars | texts, N),
        max_size=4,
    )
)
def test_analyze_frame(frame: Any) -> None:
    call = lambda: analyzer().analyze_frame(frame, score_col="score")  # noqa: E731
    outcome(call, ["column", "'prompts", "'responses", "'scores", "metadata"])


@fuzz
@given(
    tests=mostly(good_prompts[:6], containers(texts, 6)),
    production=mostly(good_prompts, containers(texts, N)),
    threshold=mostly(None, st.floats(-1, 3) | scalars),
    min_gap_size=mostly(3, st.integers(-1, 6) | scalars),
)
def test_audit_coverage(tests: Any, production: Any, threshold: Any, min_gap_size: Any) -> None:
    names = ["'test_prompts", "'production_prompts", "'distance_threshold'", "'min_gap_size'"]
    report = outcome(
        lambda: analyzer().audit_coverage(tests, production, threshold, min_gap_size), names
    )
    if report is not None:
        str(report)
        assert CoverageReport.from_json(report.to_json()).to_dict() == report.to_dict()


@fuzz
@given(
    responses_b=mostly(["b"] * N, containers(texts, N)),
    scores_a=mostly(good_scores, containers(scalars, N)),
    scores_b=mostly(good_scores[::-1], containers(scalars, N) | st.none()),
    names=mostly(("A", "B"), st.tuples(texts, texts)),
    embeddings=mostly(None, vectors(N)),
)
def test_compare_models(
    responses_b: Any, scores_a: Any, scores_b: Any, names: tuple[Any, Any], embeddings: Any
) -> None:
    def call() -> ComparisonReport:
        return analyzer().compare_models(
            good_prompts,
            ["a"] * N,
            responses_b,
            scores_a,
            scores_b,
            embeddings=embeddings,
            model_a_name=names[0],
            model_b_name=names[1],
        )

    names_ = ["'responses_b", "'scores_a", "'scores_b", "'embeddings", "model_a_name"]
    report = outcome(call, [*names_, "model_b_name"])
    if report is not None:
        str(report)


# -- readers ---------------------------------------------------------------------------------


@fuzz
@given(
    suffix=st.sampled_from([".csv", ".tsv", ".jsonl", ".json"]),
    content=st.binary(max_size=80)
    | st.text(max_size=80).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.sampled_from(
        [b"prompt,score\na,1\nb", b'{"prompt": 1}\n[1]', b"[1, 2]", b"a,a\n1,2", b"\xef\xbb\xbf"]
    ),
)
def test_read_table(tmp_path_factory: pytest.TempPathFactory, suffix: str, content: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / f"data{suffix}"
    path.write_bytes(content)
    table = outcome(lambda: read_table(path), [path.name])
    if table is not None and table.columns:
        outcome(lambda: table.text(table.columns[0], option="--prompt-col"), [path.name])


# -- report files ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**7), 10**7) | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            out += _paths(v, (*path, i))
    return out


PLAIN = {cls: json.loads(path.read_text(encoding="utf-8")) for cls, path in OLD.items()}
PLACES = {cls: _paths(data)[1:] for cls, data in PLAIN.items()}


def alike(value: Any) -> st.SearchStrategy[Any]:
    """Another JSON value of the kind of ``value``."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(0, max(value, 0))
    if isinstance(value, float):
        return st.floats(0, 1) if 0 <= value <= 1 else st.floats(0, 10)
    if isinstance(value, str):
        return texts
    if isinstance(value, list):
        return st.just(value[:-1])
    return st.just(value)


@st.composite
def mutated(draw: st.DrawFn, cls: type) -> dict[str, Any]:
    """A real report file with one to three values replaced or removed."""
    data = copy.deepcopy(PLAIN[cls])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PLACES[cls]))
        parent: Any = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            how = draw(st.sampled_from(["drop", "any", "alike", "alike"]))
            if how == "drop" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif how == "alike":  # a value of the same kind: often still a valid report
                parent[path[-1]] = draw(alike(parent[path[-1]]))
            else:
                parent[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed the place
    return data


REPORT_NAMES = ["AnalysisReport", "CoverageReport", "ComparisonReport", "PromptMap", "Slice"]


@fuzz
@given(st.data())
def test_report_from_json(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(list(OLD)))
    plain = data.draw(
        mostly(None, json_values).flatmap(lambda v: mutated(cls) if v is None else st.just(v))
    )
    text = json.dumps(plain)
    report = outcome(lambda: cls.from_json(text), [*REPORT_NAMES, "Metadata", "Example"])
    if report is not None:  # what loads can be shown and written again
        str(report)
        report.to_html()
        assert cls.from_json(report.to_json()).to_dict() == report.to_dict()
    outcome(lambda: cls.from_dict(plain), [*REPORT_NAMES, "Metadata", "Example"])


@fuzz
@given(old=mutated(AnalysisReport), new=mutated(AnalysisReport))
def test_diff_reports(old: dict[str, Any], new: dict[str, Any]) -> None:
    result = outcome(lambda: diff_reports(old, new), ["OLD report", "NEW report", "AnalysisReport"])
    if result is not None:
        str(result)


# -- the CLI ---------------------------------------------------------------------------------

OPTIONS = [
    "--json",
    "--out",
    "--score-col",
    "--prompt-col",
    "--min-slice-size",
    "--significance-level",
    "--clustering",
    "--embeddings",
    "--quiet",
    "-q",
]


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli")
    rows = "".join(
        json.dumps({"prompt": p, "response": "r", "score": s}) + "\n"
        for p, s in zip(good_prompts, good_scores, strict=True)
    )
    (root / "in.jsonl").write_text(rows, encoding="utf-8")
    np.save(root / "v.npy", np.random.default_rng(0).normal(size=(N, 4)))
    (root / "old.json").write_text(OLD[AnalysisReport].read_text(encoding="utf-8"), "utf-8")
    (root / "folder").mkdir()
    return {k: str(root / k) for k in ("in.jsonl", "v.npy", "old.json", "folder")} | {
        "out": str(root / "out.json")
    }


@fuzz
@given(
    command=st.sampled_from(["analyze", "diff", "coverage", "compare"]),
    words=st.lists(
        st.sampled_from(OPTIONS)
        | st.sampled_from(["in.jsonl", "v.npy", "old.json", "folder", "out"])
        | st.sampled_from(["5", "-1", "0.5", "nan", "score", "prompt", "agglomerative", "x"]),
        max_size=6,
    ),
)
def test_cli(cli_files: dict[str, str], command: str, words: list[str]) -> None:
    argv = [command, *(cli_files.get(w, w) for w in words), "--no-cache", "-q"]
    if command == "analyze" and "--embeddings" not in words:
        argv += ["--embeddings", cli_files["v.npy"]]  # never the real model
    if command in ("coverage", "compare"):
        argv += ["--embedding-col", "vec"]  # no such column: fails before any model
    err = io.StringIO()
    with no_hang(), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse: a usage error
            status = exc.code
    assert status in (0, 1, 2), (argv, status)
    assert "run with --verbose for the traceback" not in err.getvalue(), (argv, err.getvalue())
    assert Path(cli_files["in.jsonl"]).read_text(encoding="utf-8").count("\n") == N
