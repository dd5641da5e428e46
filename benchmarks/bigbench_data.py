"""BIG-bench prompts as benchmark data for faultmap.

Source: BIG-bench (https://github.com/google/BIG-bench, Apache License 2.0), taken
from the PyPI source distribution ``bigbench==1.0.0``.  Only the ``task.json``
files under ``bigbench/benchmark_tasks/`` are used.

Typical use (from the repository root)::

    from benchmarks.bigbench_data import ensure_bigbench, load_tasks, planted_slice_set

    root = ensure_bigbench()                      # downloads + extracts once
    rows = load_tasks(root, max_per_task=1000)
    data = planted_slice_set(
        rows, n=5000, planted_tasks=["navigate", "object_counting", "date_understanding"]
    )

Each JSON task file holds ``examples: [{"input": str, "target": str | list,
"target_scores": {choice: score}}, ...]``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

BIGBENCH_VERSION = "1.0.0"
SDIST_NAME = f"bigbench-{BIGBENCH_VERSION}.tar.gz"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent / ".cache" / "bigbench"
SDIST_SHA256 = "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2"
FALLBACK_PIP = "pip==25.0.1"
SDIST_ENV_VAR = "BIGBENCH_SDIST"
"""Environment variable naming an already downloaded sdist tarball to reuse."""

_TASKS_DIR = "benchmark_tasks"
_MARKER = f".extracted-bigbench-{BIGBENCH_VERSION}"

ASCII_ART_TASKS: frozenset[str] = frozenset(
    {
        # Prompts are pictures drawn with characters, not natural text: they would
        # form trivially separable blobs in embedding space and say nothing about
        # how faultmap handles real prompts.
        "mnist_ascii",  # 28x28 digit images drawn with '@#*+=-:.' or 'B' / space
        "ascii_word_recognition",  # words rendered as multi-line ASCII art
        "kanji_ascii",  # kanji rendered as ASCII art (subtasks only)
        "cifar10_classification",  # images as base64 / hex strings (subtasks only)
    }
)
"""Tasks skipped by :func:`load_tasks` because their prompts are not natural text.

Judgment call: only tasks whose inputs are *pictures* encoded as characters are
excluded.  Symbolic but text-like tasks (``dyck_languages``, ``checkmate_in_one``,
``geometric_shapes`` SVG paths, arithmetic) and non-English natural language
(Hindi, Kannada, Persian, ...) are kept, since real prompt logs contain both.
"""


# ── download / extraction ─────────────────────────────────────────────────────


def _safe_task_member(name: str) -> PurePosixPath | None:
    """Relative path below ``benchmark_tasks/`` for a safe ``task.json`` member."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or path.name != "task.json":
        return None
    if _TASKS_DIR not in path.parts:
        return None
    rel = PurePosixPath(*path.parts[path.parts.index(_TASKS_DIR) + 1 :])
    return rel if len(rel.parts) >= 2 else None


def _extract_task_files(sdist: Path, dest_root: Path) -> int:
    """Extract only regular ``*/task.json`` members of ``sdist`` below ``dest_root``."""
    count = 0
    with tarfile.open(sdist, mode="r:gz") as tar:
        for member in tar:
            if not member.isfile():  # skips links, devices, directories
                continue
            rel = _safe_task_member(member.name)
            if rel is None:
                continue
            target = dest_root.joinpath(*rel.parts)
            if not target.resolve().is_relative_to(dest_root.resolve()):
                continue
            fileobj = tar.extractfile(member)
            if fileobj is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with fileobj, open(target, "wb") as out:
                out.write(fileobj.read())
            count += 1
    return count


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _current_pip_major() -> int:
    try:
        return int(importlib.metadata.version("pip").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return 0


def _pip_download(pip_cmd: list[str], requirement: str, dest_dir: Path) -> bool:
    cmd = [
        *pip_cmd,
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        requirement,
        "-d",
        str(dest_dir),
    ]
    return subprocess.run(cmd, check=False).returncode == 0


def _download_sdist(dest_dir: Path) -> Path:
    """Fetch the bigbench sdist from PyPI with pip (no dependencies).

    pip always prepares an sdist's metadata, and recent pip (seen with 26.3) then
    refuses this one ("Distributions from PyPI cannot declare direct URL
    dependencies": its setup.py lists ``bleurt @ file://...``).  So with pip >= 26,
    or if the current pip fails, the download uses an older pip
    (``FALLBACK_PIP``) run in place from its wheel file, which has no such check.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    sdist = dest_dir / SDIST_NAME
    requirement = f"bigbench=={BIGBENCH_VERSION}"
    logger.info("Downloading %s sdist (~358 MB) to %s", requirement, dest_dir)
    if _current_pip_major() < 26:
        current_pip = [sys.executable, "-m", "pip"]
        if _pip_download(current_pip, requirement, dest_dir) and sdist.is_file():
            return sdist
        logger.warning("pip download failed; retrying with %s", FALLBACK_PIP)

    logger.info("Using %s for the download", FALLBACK_PIP)
    with tempfile.TemporaryDirectory() as tmp:
        if not _pip_download([sys.executable, "-m", "pip"], FALLBACK_PIP, Path(tmp)):
            raise RuntimeError(f"could not download {FALLBACK_PIP}")
        wheels = sorted(Path(tmp).glob("pip-*.whl"))
        if not wheels:
            raise RuntimeError(f"no wheel for {FALLBACK_PIP} in {tmp}")
        # A pip wheel is runnable in place: python pip-X.whl/pip <args>
        old_pip = [sys.executable, str(wheels[0] / "pip")]
        if not _pip_download(old_pip, requirement, dest_dir):
            raise RuntimeError(f"pip download {requirement} failed")
    if not sdist.is_file():
        raise FileNotFoundError(f"pip download did not produce {sdist}")
    return sdist


def ensure_bigbench(
    cache_dir: Path = DEFAULT_CACHE_DIR,
    sdist: Path | None = None,
) -> Path:
    """Make the BIG-bench ``task.json`` files available locally.

    Extraction is idempotent: a marker file in ``cache_dir`` records a finished
    extraction.  The sdist is taken, in order, from ``sdist``, from the
    ``BIGBENCH_SDIST`` environment variable, from ``cache_dir/bigbench-1.0.0.tar.gz``,
    or downloaded from PyPI with ``pip download --no-deps bigbench==1.0.0``.

    Args:
        cache_dir: Directory holding the tarball and the extracted files.
        sdist: Optional path to an already downloaded ``bigbench-1.0.0.tar.gz``.

    Returns:
        The ``benchmark_tasks`` root (one folder per task).
    """
    cache_dir = Path(cache_dir)
    root = cache_dir / _TASKS_DIR
    marker = cache_dir / _MARKER
    if marker.is_file() and root.is_dir():
        logger.info("BIG-bench tasks already extracted at %s", root)
        return root

    candidates = [sdist, os.environ.get(SDIST_ENV_VAR), cache_dir / SDIST_NAME]
    tarball = next((Path(c) for c in candidates if c and Path(c).is_file()), None)
    if tarball is None:
        tarball = _download_sdist(cache_dir)
    digest = _sha256(tarball)
    if digest != SDIST_SHA256:
        raise RuntimeError(f"{tarball}: sha256 {digest} != expected {SDIST_SHA256}")

    logger.info("Extracting task.json files from %s", tarball)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        tmp_root = Path(tmp) / _TASKS_DIR
        n_files = _extract_task_files(tarball, tmp_root)
        if n_files == 0:
            raise RuntimeError(f"no task.json files found in {tarball}")
        if root.exists():
            shutil.rmtree(root)
        tmp_root.rename(root)
    marker.write_text(f"{n_files} task.json files from {tarball.name}\n")
    logger.info("Extracted %d task.json files to %s", n_files, root)
    return root


# ── loading ───────────────────────────────────────────────────────────────────


def _first_target(example: Mapping[str, Any]) -> str:
    """First listed target, else the highest-scoring choice, else ``""``."""
    target = example.get("target")
    while isinstance(target, list) and target:
        target = target[0]
    if isinstance(target, (str, int, float)) and not isinstance(target, bool):
        text = str(target).strip()
        if text:
            return text
    scores = example.get("target_scores")
    if isinstance(scores, Mapping) and scores:
        numeric = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
        if numeric:
            return str(max(numeric, key=lambda k: numeric[k]))
    return ""


def _choices(example: Mapping[str, Any]) -> list[str]:
    scores = example.get("target_scores")
    return [str(k) for k in scores] if isinstance(scores, Mapping) else []


def _task_rng(seed: int, task: str) -> np.random.Generator:
    """Per-task generator, independent of which other tasks are loaded."""
    return np.random.default_rng([seed, zlib.crc32(task.encode("utf-8"))])


def load_tasks(
    root: Path,
    max_per_task: int | None = None,
    min_len: int = 1,
    max_chars: int = 1000,
    seed: int = 0,
    skip_tasks: frozenset[str] = ASCII_ART_TASKS,
) -> list[dict[str, Any]]:
    """Load prompts from the top-level ``task.json`` of every BIG-bench task.

    Subtask folders are never read (avoids duplicated / re-split examples); tasks
    whose top-level file holds no examples, fails to parse, or has no string
    inputs are skipped, as are ``skip_tasks`` (ASCII-art tasks by default).

    Within a task, examples are shuffled with a generator derived from
    ``(seed, task)``; the first ``max_per_task`` unseen prompts are kept.  Prompts
    are deduplicated globally (tasks visited in sorted order, first one wins) and
    the result is shuffled with ``seed``, so the output is fully deterministic.

    Args:
        root: The ``benchmark_tasks`` folder (see :func:`ensure_bigbench`).
        max_per_task: Cap on rows per task; ``None`` keeps all.
        min_len: Minimum prompt length in characters after stripping.
        max_chars: Prompts are truncated to this many characters.
        seed: Seed for the per-task sampling and the final order.
        skip_tasks: Task names to leave out.

    Returns:
        Rows ``{"task", "prompt", "target", "choices"}``.
    """
    root = Path(root)
    task_files = sorted(p for p in root.glob("*/task.json") if p.is_file())
    if not task_files:
        raise FileNotFoundError(f"no */task.json files under {root}")

    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    n_skipped = 0
    for path in task_files:
        task = path.parent.name
        if task in skip_tasks:
            n_skipped += 1
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                examples = json.load(fh).get("examples") or []
        except (OSError, ValueError, AttributeError) as exc:
            logger.warning("Skipping %s: unreadable task.json (%s)", task, exc)
            n_skipped += 1
            continue
        usable = [
            ex for ex in examples if isinstance(ex, Mapping) and isinstance(ex.get("input"), str)
        ]
        if not usable:
            n_skipped += 1
            continue

        order = _task_rng(seed, task).permutation(len(usable))
        kept = 0
        for i in order:
            if max_per_task is not None and kept >= max_per_task:
                break
            ex = usable[int(i)]
            prompt = ex["input"].strip()[:max_chars]
            if len(prompt) < min_len or prompt in seen:
                continue
            seen.add(prompt)
            rows.append(
                {
                    "task": task,
                    "prompt": prompt,
                    "target": _first_target(ex),
                    "choices": _choices(ex),
                }
            )
            kept += 1

    order = np.random.default_rng(seed).permutation(len(rows))
    rows = [rows[int(i)] for i in order]
    n_tasks = len({r["task"] for r in rows})
    logger.info(
        "Loaded %d prompts from %d tasks (%d task files skipped)", len(rows), n_tasks, n_skipped
    )
    return rows


# ── planted-slice benchmark sets ──────────────────────────────────────────────


def planted_slice_set(
    rows: Sequence[Mapping[str, Any]],
    n: int,
    planted_tasks: list[str],
    baseline_rate: float = 0.05,
    planted_rate: float = 0.6,
    seed: int = 0,
    planted_cap: int | None = None,
) -> dict[str, Any]:
    """Sample ``n`` prompts and simulate failures concentrated in ``planted_tasks``.

    Every planted task contributes ``min(available, planted_cap)`` rows, where the
    cap defaults to ``max(100, n // 50)`` (100 rows per planted task at n=5,000,
    1,000 at n=50,000).  The remaining rows are drawn uniformly without
    replacement from all other tasks.  Failures are i.i.d. Bernoulli draws with
    ``planted_rate`` inside planted tasks and ``baseline_rate`` elsewhere.

    Args:
        rows: Rows with at least ``"task"`` and ``"prompt"`` keys (:func:`load_tasks`).
        n: Number of prompts to return.
        planted_tasks: Task names whose prompts fail at ``planted_rate``.
        baseline_rate: Failure probability outside planted tasks.
        planted_rate: Failure probability inside planted tasks.
        seed: Seed for sampling and failure draws.
        planted_cap: Rows per planted task; default ``max(100, n // 50)``.

    Returns:
        ``{"prompts": list[str], "tasks": list[str], "failures": bool ndarray,
        "planted_tasks": list[str], "planted_mask": bool ndarray,
        "indices": int ndarray}`` where ``indices`` are positions in ``rows`` (useful
        to pick matching rows of a precomputed embedding matrix).
    """
    if n <= 0:
        raise ValueError("n must be positive")
    for name, rate in (("baseline_rate", baseline_rate), ("planted_rate", planted_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be in [0, 1]")
    tasks_all = np.array([str(r["task"]) for r in rows], dtype=object)
    available = set(tasks_all.tolist())
    missing = [t for t in planted_tasks if t not in available]
    if missing:
        raise ValueError(f"planted tasks not present in rows: {missing}")

    rng = np.random.default_rng(seed)
    cap = planted_cap if planted_cap is not None else max(100, n // 50)
    planted_set = set(planted_tasks)

    chosen: list[np.ndarray] = []
    for task in planted_tasks:
        idx = np.flatnonzero(tasks_all == task)
        chosen.append(rng.permutation(idx)[: min(cap, idx.size)])
    n_planted = int(sum(c.size for c in chosen))
    if n_planted > n:
        raise ValueError(f"planted tasks need {n_planted} rows but n={n}; lower planted_cap")
    other = np.flatnonzero(~np.isin(tasks_all, list(planted_set)))
    n_other = n - n_planted
    if n_other > other.size:
        raise ValueError(f"need {n_other} non-planted rows, only {other.size} available")
    chosen.append(rng.choice(other, size=n_other, replace=False))

    indices = rng.permutation(np.concatenate(chosen)).astype(np.int64)
    tasks = [str(tasks_all[i]) for i in indices]
    planted_mask = np.array([t in planted_set for t in tasks], dtype=bool)
    rates = np.where(planted_mask, planted_rate, baseline_rate)
    failures = rng.random(indices.size) < rates

    logger.info(
        "Planted set: n=%d, %d planted rows in %d tasks, failure rate %.3f",
        n,
        n_planted,
        len(planted_tasks),
        float(failures.mean()),
    )
    if math.isclose(float(failures.mean()), 0.0):
        logger.warning("No failures drawn; increase n or the failure rates")
    return {
        "prompts": [str(rows[i]["prompt"]) for i in indices],
        "tasks": tasks,
        "failures": failures,
        "planted_tasks": list(planted_tasks),
        "planted_mask": planted_mask,
        "indices": indices,
    }
