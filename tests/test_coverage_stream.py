"""The coverage audit streamed from Parquet (``audit_coverage_frame(streaming=True)``): the same
findings as the in-memory audit on the same rows, bounded reading (checked by counting the
reader's calls, not by RSS), errors naming file and row, optional per-prompt lists. Slow
tests use real MiniLM vectors of real BIG-bench prompts (the session's ``real_subset``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_coverage import PRODUCTION, TEST

from faultmap import ConfigurationError, CoverageReport, DataError, SliceAnalyzer
from faultmap.analyses import coverage_stream
from faultmap.analyses.coverage import find_coverage_gaps
from faultmap.analyses.coverage_steps import CoverageSettings
from faultmap.clustering import HDBSCANClusterer
from faultmap.io import _coverage_batches, _files
from faultmap.io._coverage_batches import ParquetBatches
from faultmap.naming import KeywordNamer
from faultmap.reports import validate_report

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.filterwarnings("ignore::faultmap.CoverageMeaningWarning")


def _write(path: Path, prompts: list[Any], vectors: Any, row_group: int = 50) -> Path:
    if isinstance(vectors, np.ndarray):
        column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])
    else:  # lists (ragged or with nulls)
        column = pa.array(vectors, pa.list_(pa.float32()))
    pq.write_table(
        pa.table({"prompt": pa.array(prompts, pa.string()), "embedding": column}),
        path,
        row_group_size=row_group,
    )
    return path


def _files_of(tmp_path: Path, test: tuple, production: tuple, parts: int = 2) -> dict:
    """The suite as one file, production split over ``parts`` files in one folder."""
    folder = tmp_path / "production"
    folder.mkdir()
    bounds = np.linspace(0, len(production[0]), parts + 1).astype(int)
    for k in range(parts):
        a, b = bounds[k], bounds[k + 1]
        _write(folder / f"part-{k}.parquet", production[0][a:b], production[1][a:b], 37)
    return {"test": _write(tmp_path / "suite.parquet", test[0], test[1]), "production": folder}


def _same(a: dict, b: dict, ignore: tuple[str, ...] = ()) -> list[str]:
    """Keys of two report dicts that differ (timings and how it was read left out)."""
    skip = {"timings_s", "streaming", *ignore}
    ma = {k: v for k, v in a["metadata"].items() if k not in skip}
    mb = {k: v for k, v in b["metadata"].items() if k not in skip}
    top = (set(a) | set(b)) - {"metadata", *ignore}
    keys = [k for k in top if a.get(k) != b.get(k)]
    return keys + [f"metadata.{k}" for k in set(ma) | set(mb) if ma.get(k) != mb.get(k)]


# -- synthetic topics: fast ----------------------------------------------------------------------


def test_streamed_small_batches_give_the_in_memory_report(tmp_path) -> None:
    paths = _files_of(tmp_path, TEST, PRODUCTION)
    memory = SliceAnalyzer().audit_coverage(
        TEST[0], PRODUCTION[0], test_embeddings=TEST[1], production_embeddings=PRODUCTION[1]
    )
    streamed = SliceAnalyzer().audit_coverage_frame(
        paths["test"], paths["production"], embedding_col="embedding", streaming=True, batch_rows=16
    )
    assert streamed.num_gaps == 1
    assert _same(memory.to_dict(), streamed.to_dict()) == []
    # 120 rows a file in row groups of 37, 37, 37, 9: batches of 16, 16, 5 (x3) and 9
    assert streamed.metadata["streaming"] == {"files": 2, "batch_rows": 16, "batches": 20}


def test_auto_reads_small_parquet_whole_as_audit_coverage_does(tmp_path) -> None:
    paths = _files_of(tmp_path, TEST, PRODUCTION)
    memory = SliceAnalyzer().audit_coverage(
        TEST[0], PRODUCTION[0], test_embeddings=TEST[1], production_embeddings=PRODUCTION[1]
    )
    whole = SliceAnalyzer().audit_coverage_frame(
        paths["test"], paths["production"], embedding_col="embedding"
    )
    assert "streaming" not in whole.metadata
    assert _same(memory.to_dict(), whole.to_dict()) == []


def test_streaming_reads_batches_of_the_needed_columns_never_the_table(
    tmp_path, monkeypatch
) -> None:
    paths = _files_of(tmp_path, TEST, PRODUCTION)
    calls: list[tuple[tuple[str, ...], int]] = []
    rows_read: list[int] = []
    real = _coverage_batches._iter_batches

    def counted(parquet, batch_size, columns, row_groups):
        calls.append((tuple(columns), batch_size))
        for record in real(parquet, batch_size, columns, row_groups):
            rows_read.append(record.num_rows)
            yield record

    def whole(path: Any, *args: Any) -> None:
        raise AssertionError(f"{path} was read whole")

    monkeypatch.setattr(_coverage_batches, "_iter_batches", counted)
    monkeypatch.setattr(_files, "_read_parquet", whole)
    # the suite is read whole, as documented: give it as a frame here
    SliceAnalyzer().audit_coverage_frame(
        {"prompt": TEST[0], "embedding": list(TEST[1])},
        paths["production"],
        embedding_col="embedding",
        streaming=True,
        batch_rows=16,
    )
    assert max(rows_read) <= 16
    assert {c for c, _ in calls} <= {("embedding",), ("prompt", "embedding")}
    # at most three passes: sample (row groups holding it), every row, what the report shows
    assert sum(rows_read) <= 3 * len(PRODUCTION[0])


def test_row_lists_off_leaves_none_and_a_flag_with_every_count(tmp_path) -> None:
    paths = _files_of(tmp_path, TEST, PRODUCTION)
    kept, dropped = (
        SliceAnalyzer().audit_coverage_frame(
            paths["test"],
            paths["production"],
            embedding_col="embedding",
            streaming=True,
            keep_row_lists=keep,
        )
        for keep in (True, False)
    )
    assert dropped.metadata["row_lists_kept"] is False and "row_lists_kept" not in kept.metadata
    assert dropped.nearest_test_distances is None and dropped.nearest_test_indices is None
    assert all(g.prompt_indices is None for g in dropped.gaps)
    assert all(r["prompt_indices"] is None for r in dropped.metadata["rejected_gaps"])
    assert [g.size for g in dropped.gaps] == [len(g.prompt_indices) for g in kept.gaps]
    differ = _same(
        kept.to_dict(),
        dropped.to_dict(),
        ignore=("gaps", "nearest_test_distances", "nearest_test_indices", "row_lists_kept"),
    )
    assert set(differ) <= {"metadata.unclustered_prompt_indices", "metadata.rejected_gaps"}
    path = tmp_path / "report.json"
    path.write_text(dropped.to_json(), encoding="utf-8")
    assert validate_report(path) == "coverage"
    back = CoverageReport.from_json(path.read_text(encoding="utf-8"))
    assert back.gaps[0].prompt_indices is None and back.metadata["row_lists_kept"] is False
    assert json.loads(back.to_json()) == json.loads(dropped.to_json())
    assert "Beyond the threshold but in no gap" in str(back) or not back.num_uncovered
    with pytest.raises(DataError, match="row_lists"):
        back.to_frame()


@pytest.mark.parametrize(
    "bad_row, prompt, vector, match",
    [
        (50, None, None, r"part-1\.parquet, row 50: column 'prompt' .*null"),
        (7, "   ", None, r"part-1\.parquet, row 7: column 'prompt' .*whitespace"),
        (61, None, [np.nan] * 24, r"part-1\.parquet, row 61: column 'embedding' .*NaN"),
        (3, None, [0.0] * 24, r"part-1\.parquet, row 3: column 'embedding' .*zeros"),
        (90, None, [0.5] * 23, r"part-1\.parquet, row 90: column 'embedding' .*23 numbers"),
    ],
)
def test_a_bad_cell_names_the_file_row_and_column(
    tmp_path, bad_row: int, prompt: Any, vector: Any, match: str
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    half = 120
    _write(folder / "part-0.parquet", PRODUCTION[0][:half], PRODUCTION[1][:half])
    prompts = list(PRODUCTION[0][half:])
    vectors = [v.tolist() for v in PRODUCTION[1][half:]]
    if vector is not None:
        vectors[bad_row] = vector
    else:
        prompts[bad_row] = prompt
    _write(folder / "part-1.parquet", prompts, vectors, row_group=32)
    with pytest.raises(DataError, match=match):
        SliceAnalyzer().audit_coverage_frame(
            {"prompt": TEST[0], "embedding": list(TEST[1])},
            folder,
            embedding_col="embedding",
            streaming=True,
            batch_rows=16,
        )


def test_what_cannot_stream_is_a_configuration_error(tmp_path) -> None:
    paths = _files_of(tmp_path, TEST, PRODUCTION)
    analyzer = SliceAnalyzer()
    frame = {"prompt": PRODUCTION[0], "embedding": list(PRODUCTION[1])}
    with pytest.raises(ConfigurationError, match="streaming=True reads 'production' from Parquet"):
        analyzer.audit_coverage_frame(
            paths["test"], frame, embedding_col="embedding", streaming=True
        )
    with pytest.raises(ConfigurationError, match="embedding_col="):
        analyzer.audit_coverage_frame(paths["test"], paths["production"], streaming=True)
    with pytest.raises(ConfigurationError, match="row_lists= applies to a streamed audit"):
        analyzer.audit_coverage_frame(
            paths["test"],
            paths["production"],
            embedding_col="embedding",
            streaming=False,
            keep_row_lists=True,
        )
    with pytest.raises(ConfigurationError, match="'streaming' parameter"):
        analyzer.audit_coverage_frame(paths["test"], paths["production"], streaming="yes")
    with pytest.raises(DataError, match="has no column 'vec' \\(from embedding_col\\)"):
        analyzer.audit_coverage_frame(
            paths["test"],
            paths["production"],
            embedding_col="vec",
            test_embedding_col="embedding",
            streaming=True,
        )


def test_a_sampled_fit_and_the_cell_search_stream_to_the_same_findings(tmp_path) -> None:
    """Above max_region_points the regions are fitted on a seeded sample and the rest
    assigned batch by batch; with the cell index tuned on the same seeded rows."""
    paths = _files_of(tmp_path, TEST, PRODUCTION, parts=3)
    settings = CoverageSettings(max_region_points=200, neighbors="cells")
    common: dict[str, Any] = {
        "clusterer": HDBSCANClusterer(),
        "namer": KeywordNamer(),
        "settings": settings,
        "embedding_model": "precomputed",
    }
    memory = find_coverage_gaps(TEST[0], PRODUCTION[0], TEST[1], PRODUCTION[1], **common)
    source = ParquetBatches(
        paths["production"], prompt_col="prompt", embedding_col="embedding", batch_size=16
    )
    streamed = coverage_stream.stream_coverage_gaps(TEST[0], TEST[1], source, **common)
    assert memory.metadata["nearest_neighbors"]["method"] == "cells"
    assert _same(memory.to_dict(), streamed.to_dict(), ignore=("index_seconds",)) in (
        [],
        ["metadata.nearest_neighbors"],
    )
    a, b = memory.metadata["nearest_neighbors"], streamed.metadata["nearest_neighbors"]
    assert {k: v for k, v in a.items() if k != "index_seconds"} == {
        k: v for k, v in b.items() if k != "index_seconds"
    }


# -- real prompts, real MiniLM vectors (slow) ----------------------------------------------------

_DISTANCES = {
    "nearest_test_distances",
    "mean_distance",
    "cosine_mean_distance",
    "median_distance",
    "max_distance",
}


@pytest.mark.slow
def test_real_vectors_streamed_give_the_same_gaps_counts_and_p_values(
    real_subset, tmp_path
) -> None:
    tasks = real_subset["tasks"]
    missing = ("date_understanding", "navigate", "object_counting")
    rng = np.random.default_rng(0)
    eligible = np.flatnonzero(~np.isin(tasks, list(missing)))
    test_idx = np.sort(rng.choice(eligible, 300, replace=False))
    prod_idx = np.setdiff1d(np.arange(len(tasks)), test_idx)
    prompts, vectors = real_subset["prompts"], real_subset["vectors"]
    test = ([prompts[i] for i in test_idx], vectors[test_idx])
    production = ([prompts[i] for i in prod_idx], vectors[prod_idx])
    paths = _files_of(tmp_path, test, production, parts=3)
    memory = SliceAnalyzer().audit_coverage(
        test[0], production[0], test_embeddings=test[1], production_embeddings=production[1]
    )
    streamed = SliceAnalyzer().audit_coverage_frame(
        paths["test"], paths["production"], embedding_col="embedding", streaming=True, batch_rows=29
    )
    assert memory.num_gaps >= 2
    # Distances agree to float32 rounding, not bit for bit: BLAS picks its kernel by the
    # shape of the block (29 rows here, 900 in memory). Everything counted is identical.
    a, b = memory.to_dict(), streamed.to_dict()
    assert _same(a, b, ignore=(*_DISTANCES, "gaps", "rejected_gaps")) == []
    np.testing.assert_allclose(a["nearest_test_distances"], b["nearest_test_distances"], atol=1e-6)
    pairs = [*zip(a["gaps"], b["gaps"], strict=True)]
    rejected = a["metadata"]["rejected_gaps"], b["metadata"]["rejected_gaps"]
    pairs += [*zip(*rejected, strict=True)]
    for ga, gb in pairs:
        assert {k: v for k, v in ga.items() if k not in _DISTANCES} == {
            k: v for k, v in gb.items() if k not in _DISTANCES
        }
        for key in _DISTANCES & set(ga):
            assert ga[key] == pytest.approx(gb[key], abs=1e-6)
    for gap in streamed.gaps:
        task_share = np.isin(tasks[prod_idx][gap.prompt_indices], missing).mean()
        assert task_share >= 0.6


def test_a_search_object_is_called_once_a_batch(tmp_path) -> None:
    """``neighbor_search=`` an object (such as RayNeighborSearch) searches each batch."""
    from faultmap._neighbors import nearest_neighbors

    class Exact:
        calls = 0

        def search(self, queries, corpus, *, memory_budget):
            Exact.calls += 1
            sims, idx = nearest_neighbors(queries, corpus, memory_budget=memory_budget)
            return sims, idx, {"method": "exact", "backend": "test"}

    paths = _files_of(tmp_path, TEST, PRODUCTION)
    memory = SliceAnalyzer().audit_coverage(
        TEST[0], PRODUCTION[0], test_embeddings=TEST[1], production_embeddings=PRODUCTION[1]
    )
    streamed = SliceAnalyzer().audit_coverage_frame(
        paths["test"],
        paths["production"],
        embedding_col="embedding",
        streaming=True,
        batch_rows=16,
        neighbor_search=Exact(),
    )
    assert Exact.calls == streamed.metadata["streaming"]["batches"] == 20
    assert streamed.metadata["nearest_neighbors"] == {
        "method": "exact",
        "backend": "test",
        "batches": 20,
    }
    assert _same(memory.to_dict(), streamed.to_dict(), ignore=("nearest_neighbors",)) == []
