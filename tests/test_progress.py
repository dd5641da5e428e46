"""Progress bars: the show_progress rule, the clean text fallback in a notebook without
ipywidgets (no TqdmWarning), the bars of the embedder and of batches of LLM calls, and the
fallback in a real Jupyter kernel (nbclient)."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from faultmap import _progress
from faultmap._progress import in_notebook, progress_bar, wants_progress
from faultmap.config import LLMConfig
from faultmap.embedding.local import SentenceTransformerEmbedder
from faultmap.llm.client import LLMClient


class ZMQInteractiveShell:  # the name Jupyter's kernel shell has
    pass


@pytest.fixture
def notebook(monkeypatch):
    """Pretend to run in a Jupyter kernel."""
    fake = types.ModuleType("IPython")
    fake.get_ipython = ZMQInteractiveShell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)


@pytest.fixture
def no_widgets(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ipywidgets" else real(name, *a),
    )


def test_the_rule(monkeypatch) -> None:
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: False)
    assert not in_notebook()
    assert wants_progress(True, 1, 1000) and not wants_progress(False, 10**6, 1)
    assert not wants_progress(None, 10**6, 500)  # nobody watches: log lines instead
    assert not wants_progress(True, 0, 1)  # nothing to do
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: True)
    assert wants_progress(None, 500, 500) and not wants_progress(None, 499, 500)


def test_a_notebook_without_ipywidgets_gets_a_text_bar_and_no_warning(
    notebook, no_widgets, capsys
) -> None:
    from tqdm.std import tqdm

    assert in_notebook() and wants_progress(None, 600, 500)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # TqdmWarning: IProgress not found would raise here
        bar = progress_bar(600, "Embedding", show=None, minimum=500)
        assert type(bar) is tqdm
        bar.update(600)
        bar.close()
    assert "Embedding: 100%" in capsys.readouterr().err


def test_a_notebook_with_ipywidgets_gets_the_widget_bar(notebook, monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: object() if name == "ipywidgets" else real(name, *a),
    )
    from tqdm.notebook import tqdm

    assert _progress._bar_class() is tqdm


def test_the_local_embedder_feeds_the_bar(monkeypatch, capsys) -> None:
    calls: list[int] = []

    class Model:
        def encode(self, texts, **kwargs):
            assert kwargs["show_progress_bar"] is False  # ours, not sentence-transformers'
            calls.append(len(texts))
            return np.ones((len(texts), 4), dtype=np.float32)

    embedder = SentenceTransformerEmbedder(batch_size=8, show_progress=True)
    monkeypatch.setattr(embedder, "_load", lambda: Model())
    assert embedder.embed([f"t{i}" for i in range(100)]).shape == (100, 4)
    assert sum(calls) == 100 and len(calls) > 1  # chunk by chunk
    assert "100/100" in capsys.readouterr().err
    quiet = SentenceTransformerEmbedder(show_progress=False)
    monkeypatch.setattr(quiet, "_load", lambda: Model())
    quiet.embed(["a", "b"])
    assert "Embedding" not in capsys.readouterr().err


def test_batches_of_llm_calls_show_a_bar(capsys) -> None:
    async def completion(**kwargs):
        return {"choices": [{"message": {"content": "ok"}}], "usage": {}}

    config = LLMConfig(model="fake", show_progress=True)
    replies = LLMClient(config, completion_fn=completion).complete_many(
        [[{"role": "user", "content": str(i)}] for i in range(60)]
    )
    assert replies == ["ok"] * 60
    assert "60/60" in capsys.readouterr().err
    LLMClient(LLMConfig(model="fake"), completion_fn=completion).complete_many(
        [[{"role": "user", "content": "x"}]] * 60
    )
    assert "LLM calls" not in capsys.readouterr().err  # stderr is not a terminal here


def test_a_real_kernel_without_ipywidgets_prints_a_text_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)  # the kernel inherits the environment
    if importlib.util.find_spec("ipywidgets") is not None:
        pytest.skip("ipywidgets is installed: the kernel would show the widget bar")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = tmp_path / "kernels" / "faultmap-progress-test"
    spec.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "faultmap tests",
        "language": "python",
        "env": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(spec.parent)], ensure_native_kernel=False)
    km = KernelManager(kernel_name=spec.name, kernel_spec_manager=specs)
    code = (
        "import warnings\n"
        "warnings.simplefilter('always')\n"
        "from faultmap._progress import progress_bar\n"
        "bar = progress_bar(700, 'Embedding', show=None, minimum=500)\n"
        "bar.update(700); bar.close()\n"
        "print(type(bar).__module__)"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, km=km, timeout=120, startup_timeout=120).execute()
    outputs = nb.cells[0].outputs
    streams = [o for o in outputs if o.output_type == "stream"]
    stderr = "".join(o.text for o in streams if o.name == "stderr")
    stdout = "".join(o.text for o in streams if o.name == "stdout")
    assert "700/700" in stderr, outputs
    assert stdout.strip() == "tqdm.std"
    assert "IProgress" not in json.dumps(outputs)
