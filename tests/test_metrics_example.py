"""examples/metrics_example.py runs offline, end to end, and finds what it plants."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "metrics_example.py"
DATA = EXAMPLE.parent / "data" / "bigbench_sample.jsonl"


@pytest.mark.slow
def test_metrics_example_runs_offline(tmp_path) -> None:
    out = tmp_path / "analysis.json"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--per-task", "40", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout
    for number in range(1, 8):
        assert f"== {number}. " in text
    assert "Most confused (true -> predicted):" in text
    assert "Over-represented metadata: route = agent" in text
    assert "Slice x metadata cells that fail more than both" in text
    assert "By slice:" in text and "By route:" in text
    report = json.loads(out.read_text(encoding="utf-8"))
    cells = report["hybrid_cells"]
    assert [(c["column"], c["value"]) for c in cells] == [("prompt_version", "v2")]
    spec = importlib.util.spec_from_file_location("metrics_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)  # defines SLICE_TASKS; main() runs only as a script
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    tasks = [
        r["task"] for t in example.SLICE_TASKS for r in [r for r in rows if r["task"] == t][:40]
    ]
    top, count = Counter(tasks[i] for i in cells[0]["sample_indices"]).most_common(1)[0]
    assert top == "sports_understanding" and count == cells[0]["size"]
