"""The demo (``examples/quickstart.py``, what ``make demo`` runs) cold and warm, and one ONNX
export alone, each in its own process.

*Cold*: a fresh, empty cache folder (``FAULTMAP_CACHE_DIR``; the demo uses the default
cache), so the run embeds the 3,000 bundled prompts and, on ``onnx``, exports the model
first. *Warm*: the same command again on that folder (every vector read from the cache).
*New prompts*: the cached vectors removed, the exported model kept (``faultmap cache clear
--keep-models``), the demo again: what a later run on prompts never embedded costs.
*Export alone*: ``_export_onnx`` of the packaged all-MiniLM-L6-v2 into an empty folder in a
fresh process: the export call, and the process's wall time with its imports.
Wall seconds and peak RSS (``ru_maxrss`` of that child) per run; the load average before each.

    .venv/bin/python -m benchmarks.demo_timing                     # auto (the default), torch
    .venv/bin/python -m benchmarks.demo_timing --backends auto
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_EXPORT = """
import json, tempfile, time
from pathlib import Path
t0 = time.perf_counter()
from faultmap.embedding.backends import _export_onnx
from faultmap.embedding.local import SentenceTransformerEmbedder
path = SentenceTransformerEmbedder()._resolve_path()
t1 = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    _export_onnx(path, Path(tmp))
    t2 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "export_s": t2 - t1}))
"""


def _run(command: list[str], env: dict[str, str]) -> dict:
    load = os.getloadavg()
    start = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    out = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{command} failed ({status})")
    return {
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "load_before": [round(x, 2) for x in load],
        "stdout_tail": out.strip().splitlines()[-1] if out.strip() else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="auto,torch")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/demo.json")
    args = parser.parse_args()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    results: dict = {"machine": f"{os.cpu_count()} CPUs", "runs": {}}
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="faultmap-demo-") as cache:
            demo = [
                sys.executable,
                "examples/quickstart.py",
                "--out",
                str(Path(cache) / "report.json"),
                "--embedding-backend",
                backend,
            ]
            run_env = {**env, "FAULTMAP_CACHE_DIR": cache}
            cold = _run(demo, run_env)
            warm = _run(demo, run_env)
            # what a run on new prompts costs: no vector cached, the exported model kept
            subprocess.run(
                [sys.executable, "-m", "faultmap.cli", "cache", "clear", "--keep-models"],
                cwd=ROOT,
                env=run_env,
                check=True,
                capture_output=True,
            )
            new = _run(demo, run_env)
            results["runs"][backend] = {"cold": cold, "warm": warm, "new_prompts": new}
            for name, run in (("cold", cold), ("warm", warm), ("new prompts", new)):
                print(backend, name, run, flush=True)
    export = _run([sys.executable, "-c", _EXPORT], env)
    export.update(json.loads(export.pop("stdout_tail")))
    results["onnx_export_alone"] = export
    print("export", export, flush=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
