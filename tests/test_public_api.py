"""Public API hygiene: the exported names are exactly the intended ones, and importing
faultmap stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import faultmap

EXPECTED_ALL = {
    "AnalysisReport",
    "ClusterTest",
    "ClusteringError",
    "CohortReport",
    "ComparisonReport",
    "CompatibilityWarning",
    "ConfigurationError",
    "CoverageGap",
    "CoverageMeaningWarning",
    "CoverageReport",
    "DataError",
    "EmbeddingError",
    "FailureMode",
    "FailureSlice",
    "FaultmapError",
    "FaultmapWarning",
    "LLMConfig",
    "LLMError",
    "MissingDependencyError",
    "ModeNode",
    "NullAudit",
    "ReasonReport",
    "RegionTest",
    "ScoringError",
    "ScoringResult",
    "SliceAnalyzer",
    "SliceComparison",
    "__version__",
    "cluster_reasons",
    "cohort_failure_rates",
}

HEAVY = (
    "torch",
    "sentence_transformers",
    "transformers",
    "litellm",
    "openai",
    "umap",
    "sklearn",
    "scipy",
    "rich",
    "plotly",
    "pandas",
    "hdbscan",
    "numba",
    "mlflow",
    "wandb",
    "ray",
)


def test_all_is_sorted_and_exactly_the_intended_names() -> None:
    assert faultmap.__all__ == sorted(faultmap.__all__)
    assert len(faultmap.__all__) == len(set(faultmap.__all__))
    assert set(faultmap.__all__) == EXPECTED_ALL


def test_every_exported_name_exists() -> None:
    for name in faultmap.__all__:
        assert hasattr(faultmap, name), name
    assert isinstance(faultmap.__version__, str) and faultmap.__version__


def test_public_names_not_in_all_are_only_modules() -> None:
    import types

    extra = {
        name
        for name, value in vars(faultmap).items()
        if not name.startswith("_")
        and name not in faultmap.__all__
        and not isinstance(value, types.ModuleType)
    }
    # importlib.metadata helpers used to read the version are the only tolerated leftovers.
    assert extra <= {"annotations", "PackageNotFoundError", "version"}, extra


def test_errors_derive_from_the_documented_bases() -> None:
    assert issubclass(faultmap.ConfigurationError, ValueError)
    assert issubclass(faultmap.DataError, ValueError)
    # faultmap 0.5.0 raised ConfigurationError for bad data: `except ConfigurationError` holds
    assert issubclass(faultmap.DataError, faultmap.ConfigurationError)
    assert issubclass(faultmap.MissingDependencyError, ImportError)
    for name in (
        "ClusteringError",
        "ConfigurationError",
        "DataError",
        "EmbeddingError",
        "LLMError",
        "MissingDependencyError",
        "ScoringError",
    ):
        assert issubclass(getattr(faultmap, name), faultmap.FaultmapError), name
    assert issubclass(faultmap.FaultmapWarning, UserWarning)


def test_import_faultmap_loads_no_heavy_dependency() -> None:
    code = (
        "import json, sys\n"
        "import faultmap\n"
        "from faultmap import SliceAnalyzer\n"
        "SliceAnalyzer()\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
