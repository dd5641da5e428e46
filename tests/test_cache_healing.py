"""A damaged embedding-cache shard heals instead of breaking every later run (issue 14,
point 1): each kind of damage is injected, the next analysis succeeds, the shard is moved
aside with a warning that names the cache folder, and its texts are embedded again."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from faultmap import SliceAnalyzer
from faultmap.embedding.cache import (
    CachedEmbedder,
    _digest,
    clear_cache,
    shard_checksum,
    verify_cache,
)
from faultmap.testing import FakeEmbedder

TEXTS = [f"prompt number {i} about topic {i % 3}" for i in range(12)]
ROOT = Path(__file__).resolve().parents[1]


def _filled(tmp_path: Path) -> Path:
    """A cache holding TEXTS in one shard; the shard's path."""
    CachedEmbedder(FakeEmbedder(), tmp_path).embed(TEXTS)
    (shard,) = tmp_path.rglob("shard-*.npz")
    return shard


def _cut(shard: Path) -> None:
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])


def _empty(shard: Path) -> None:
    shard.write_bytes(b"")


def _rewrite(shard: Path, keys: np.ndarray, vectors: np.ndarray, *, keep_name: bool) -> None:
    """Replace the shard by a well-formed .npz of other contents (a checksum name of its
    own unless ``keep_name``)."""
    target = shard if keep_name else shard.with_name(f"shard-{shard_checksum(keys, vectors)}.npz")
    shard.unlink()
    with open(target, "wb") as fh:
        np.savez(fh, keys=keys, vectors=vectors)


def _wrong_width(shard: Path) -> None:
    """The shard split in two: 8 texts as they were, 4 in a shard of another width."""
    with np.load(shard) as data:
        keys, vectors = data["keys"], data["vectors"]
    _rewrite(shard, keys[:8], vectors[:8], keep_name=False)
    with open(shard.with_name(f"shard-{'0' * 32}.npz"), "wb") as fh:
        np.savez(fh, keys=keys[8:], vectors=np.ones((4, 5), np.float32))


def _nan(shard: Path) -> None:
    with np.load(shard) as data:
        keys, vectors = data["keys"], data["vectors"].copy()
    vectors[3] = np.nan
    _rewrite(shard, keys, vectors, keep_name=False)


def _bad_checksum(shard: Path) -> None:
    with np.load(shard) as data:
        keys, vectors = data["keys"], data["vectors"].copy()
    vectors[0] = -vectors[0]  # still finite, unit and of the right width: only the sum tells
    _rewrite(shard, keys, vectors, keep_name=True)


def _garbage(shard: Path) -> None:
    shard.write_bytes(b"PK\x03\x04 certainly not a zip archive")


DAMAGE = {
    "cut in half": _cut,
    "0 bytes": _empty,
    "another width": _wrong_width,
    "NaN vectors": _nan,
    "bad checksum": _bad_checksum,
    "garbage": _garbage,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_shard_heals_on_the_next_analysis(tmp_path, caplog, damage):
    shard = _filled(tmp_path)
    DAMAGE[damage](shard)
    assert not verify_cache(tmp_path).ok

    inner = FakeEmbedder()
    analyzer = SliceAnalyzer(
        embedding_model=inner, embedding_cache=tmp_path, min_slice_size=3, map_projection=None
    )
    with caplog.at_level(logging.WARNING, logger="faultmap"):
        report = analyzer.analyze(TEXTS, ["r"] * len(TEXTS), scores=[0.9] * len(TEXTS))
    assert report.total_prompts == len(TEXTS)
    lost = 4 if damage == "another width" else len(TEXTS)
    assert inner.n_embedded == lost, "the damaged shard's texts were embedded again"
    np.testing.assert_array_equal(
        CachedEmbedder(FakeEmbedder(), tmp_path).embed(TEXTS), FakeEmbedder().embed(TEXTS)
    )
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(shard.parent) in m and "moved aside" in m for m in warned), warned
    assert list(shard.parent.glob("damaged-shard-*.npz")), "the damaged shard is kept aside"
    check = verify_cache(tmp_path)
    assert check.ok and len(check.moved_aside) == 1

    # Once healed, nothing is embedded again and nothing more is warned about.
    again = FakeEmbedder()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="faultmap"):
        CachedEmbedder(again, tmp_path).embed(TEXTS)
    assert again.n_embedded == 0 and not caplog.records


def test_a_width_the_model_disagrees_with_is_embedded_again(tmp_path):
    """Every shard of a folder has one width, but not the model's: the model is right."""
    shard = _filled(tmp_path)
    with np.load(shard) as data:
        keys = data["keys"]
    _rewrite(shard, keys, np.ones((len(keys), 5), np.float32), keep_name=False)
    inner = FakeEmbedder()
    got = CachedEmbedder(inner, tmp_path).embed([*TEXTS, "one text not cached"])
    assert got.shape == (len(TEXTS) + 1, inner.dim)
    np.testing.assert_array_equal(got, FakeEmbedder().embed([*TEXTS, "one text not cached"]))
    assert verify_cache(tmp_path).ok


def test_legacy_shard_without_checksum_still_loads(tmp_path):
    """Shards named by a random uuid (before checksums) are checked, not rejected."""
    shard = _filled(tmp_path)
    legacy = shard.with_name("shard-0123456789abcdef0123456789abcdef.npz")
    shard.rename(legacy)
    inner = FakeEmbedder()
    CachedEmbedder(inner, tmp_path).embed(TEXTS)
    assert inner.n_embedded == 0
    (only,) = verify_cache(tmp_path).shards
    assert only.problem is None and not only.checksummed and only.rows == len(TEXTS)
    with np.load(legacy) as data:  # a damaged legacy shard is still caught
        keys, vectors = data["keys"], data["vectors"].copy()
    vectors[0] = np.nan
    _rewrite(legacy, keys, vectors, keep_name=True)
    assert not verify_cache(tmp_path).ok


def test_shards_are_named_by_their_checksum_and_fsynced(tmp_path, monkeypatch):
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    shard = _filled(tmp_path)
    with np.load(shard) as data:
        assert shard.name == f"shard-{shard_checksum(data['keys'], data['vectors'])}.npz"
    assert len(synced) >= 2, "the file before the rename, then its folder"


def test_compaction_keeps_every_vector_and_heals(tmp_path):
    inner = FakeEmbedder()
    cached = CachedEmbedder(inner, tmp_path, max_shards=3)
    for text in TEXTS[:3]:
        cached.embed([text])
    (tmp_path / "embeddings").joinpath(
        next(p.name for p in (tmp_path / "embeddings").iterdir()), "shard-cut.npz"
    ).write_bytes(b"PK\x03\x04")
    cached.embed([TEXTS[3]])  # the fourth shard: merged into one, the damaged one set aside
    shards = list(tmp_path.rglob("shard-*.npz"))
    assert len([s for s in shards if not s.name.startswith("damaged-")]) == 1
    again = FakeEmbedder()
    CachedEmbedder(again, tmp_path).embed(TEXTS[:4])
    assert again.n_embedded == 0


def _cli(*args: str, cache_dir: Path | None = None) -> subprocess.CompletedProcess:
    """``faultmap ARGS`` of this tree, in a subprocess (the CLI owns its process's logging)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if cache_dir is not None:
        env["FAULTMAP_CACHE_DIR"] = str(cache_dir)
    return subprocess.run(
        [sys.executable, "-m", "faultmap.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cache_verify_and_clear_commands(tmp_path):
    shard = _filled(tmp_path)
    (tmp_path / "unrelated.txt").write_text("not the cache's")
    where = ["--cache-dir", str(tmp_path)]
    done = _cli("cache", "verify", *where)
    assert done.returncode == 0, done.stderr
    assert "1 good shard(s) (12 vectors), 0 damaged" in done.stdout

    _cut(shard)
    done = _cli("cache", "verify", *where)
    assert done.returncode == 1, done.stderr
    assert "1 damaged" in done.stdout and shard.name in done.stdout
    assert "unreadable" in done.stdout
    assert shard.exists(), "verify alone changes nothing"
    assert _cli("cache", "verify", "--repair", *where).returncode == 1
    assert not shard.exists() and shard.with_name("damaged-" + shard.name).exists()
    done = _cli("cache", "verify", *where)
    assert done.returncode == 0 and "1 shard(s) moved aside earlier" in done.stdout

    done = _cli("cache", "clear", *where)
    assert done.returncode == 0 and "removed 1 file(s)" in done.stdout, done.stderr
    assert not (tmp_path / "embeddings").exists()
    assert (tmp_path / "unrelated.txt").exists(), "only the cache's own files go"


def test_cache_commands_follow_faultmap_cache_dir(tmp_path):
    _filled(tmp_path)
    done = _cli("cache", "verify", cache_dir=tmp_path)
    assert done.returncode == 0 and str(tmp_path) in done.stdout, done.stdout + done.stderr
    done = _cli("cache", "clear", cache_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.rglob("*.npz"))
    assert clear_cache(tmp_path) == 0


def _killed_writer(folder: str) -> None:  # pragma: no cover - runs in a child process
    inner = FakeEmbedder()
    cached = CachedEmbedder(inner, folder, write_every=5)
    texts = [f"killed writer text {i}" for i in range(10_000)]
    cached.embed(texts)


def test_kill_9_mid_write_loses_nothing_written(tmp_path):
    """A writer killed at any moment leaves whole shards (and maybe a temporary file)."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); "
        f"from test_cache_healing import _killed_writer; _killed_writer({str(tmp_path)!r})"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.rglob("shard-*.npz"))) < 3 and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.02)
    finally:
        proc.kill()  # SIGKILL: no clean-up runs
        proc.wait(timeout=30)
    check = verify_cache(tmp_path)
    assert check.ok and check.shards, [s.problem for s in check.damaged]
    cached: set[bytes] = set()
    for shard in check.shards:
        with np.load(shard.path) as data:
            cached |= {k.tobytes() for k in data["keys"]}
    texts = [t for t in (f"killed writer text {i}" for i in range(10_000)) if _digest(t) in cached]
    assert texts and len(texts) == len(cached)
    inner = FakeEmbedder()
    CachedEmbedder(inner, tmp_path).embed(texts)
    assert inner.n_embedded == 0, "every text in a shard is read back"


def test_clear_removes_exported_models_unless_kept(tmp_path):
    """`faultmap cache clear` removes the backends' exported models too (remade on next use);
    --keep-models (clear_cache(models=False)) keeps them; other folders stay."""
    _filled(tmp_path)
    models = tmp_path / "models"
    for name in ("onnx-" + "a" * 32, "static-" + "b" * 32, ".tmp-onnx-" + "c" * 32 + "-x1y2"):
        (models / name).mkdir(parents=True)
        (models / name / "model.onnx").write_bytes(b"onnx")
        (models / name / "faultmap-backend.json").write_text("{}")
    (models / "mine").mkdir()
    assert clear_cache(tmp_path, models=False) == 1
    assert len(list(models.iterdir())) == 4
    done = _cli("cache", "clear", "--keep-models", "--cache-dir", str(tmp_path))
    assert done.returncode == 0 and "removed 0 file(s)" in done.stdout, done.stderr
    done = _cli("cache", "clear", "--cache-dir", str(tmp_path))
    assert done.returncode == 0 and "removed 6 file(s)" in done.stdout, done.stderr
    assert [p.name for p in models.iterdir()] == ["mine"], "only the cache's own folders go"
