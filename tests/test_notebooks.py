"""Every notebook in notebooks/ runs top to bottom in a real Jupyter kernel, offline.

The kernel is the interpreter running the tests (``sys.executable``), described by a
kernelspec written into ``tmp_path``: nothing is registered globally, and a ``python3``
kernelspec elsewhere on the machine cannot swap in another Python. The working directory is
``tmp_path`` with ``examples/`` linked in, so notebooks find the bundled data the way they do
when opened from the repository root and write their files where the test can see them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: Environment of the kernel: no model hub, litellm's bundled price table.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}
#: Files a notebook must leave in its working directory.
WRITES = {
    "quickstart.ipynb": ["report.json"],
    "tutorial.ipynb": ["tutorial_report.json"],
    "visualization.ipynb": ["report.html", "visualization_report.json"],
}
CELL_TIMEOUT_S = 600
KERNEL_NAME = "faultmap-notebook-test"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _kernel_manager(folder: Path):
    """A KernelManager for this interpreter's ipykernel, from a kernelspec in ``folder``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = folder / KERNEL_NAME
    spec.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "faultmap tests",
        "language": "python",
        "env": OFFLINE_ENV,
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def _error_report(name: str, nb) -> str:
    """Which cell failed, its source, and the traceback it printed."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                trace = ANSI.sub("", "\n".join(output.get("traceback", [])))
                return f"{name}, cell {index}:\n{cell.source}\n\n{trace}"
    return f"{name}: a cell failed but left no error output"


def test_there_are_notebooks() -> None:
    assert {"quickstart.ipynb", "tutorial.ipynb"} <= {p.name for p in NOTEBOOKS}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    assert not [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")], (
        f"{path.name} is committed with outputs; clear them (outputs are made by running it)"
    )
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "examples").symlink_to(ROOT / "examples")
    client = NotebookClient(
        nb,
        km=_kernel_manager(tmp_path / "kernels"),
        timeout=CELL_TIMEOUT_S,
        startup_timeout=180,
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        client.execute()
    except CellExecutionError:
        pytest.fail(_error_report(path.name, nb), pytrace=False)
    for name in WRITES.get(path.name, []):
        assert (workdir / name).is_file(), f"{path.name} did not write {name}"
