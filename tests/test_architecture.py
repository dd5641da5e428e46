"""The layering of STYLE.md, enforced: import-linter's contracts in pyproject.toml.

Imports inside functions count (grimp reads every import statement), so a circle dodged by
a function-level import fails here too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a dev dependency: pip install -e '.[dev]'"
    done = subprocess.run(
        [exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_result_models_import_no_view() -> None:
    import grimp

    graph = grimp.build_graph("faultmap")
    models = "faultmap.reports.models"
    views = {
        m
        for m in graph.modules
        if m.startswith("faultmap.reports.")
        and m.split(".")[2] in {"text", "html", "rich", "plot", "diff", "schema"}
    }
    reached = graph.find_upstream_modules(models)  # what models depends on
    assert not (reached & views), sorted(reached & views)
