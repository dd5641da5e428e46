"""Which model made a set of vectors: a fingerprint of the model's weights.

Slices of two reports can be compared by their centroids only when both sets of vectors come
from the same model. A report's ``embedding_model`` names an embedder *with* its settings
(how much of a text it reads, request options); its ``embedding_fingerprint`` names the
weights alone, so that a run that reads longer texts, or a faster backend of the same model,
still compares with earlier runs.

The rule, for a local model folder (sentence-transformers, the packaged all-MiniLM-L6-v2
included): its PyTorch weight files, ``*.safetensors`` (or, where there are none,
``pytorch_model*.bin``), in the folder and its module subfolders (``2_Dense/`` ...). One file
gives ``"sha256:"`` and its SHA-256, the value the Hugging Face Hub shows for the file; several
give the SHA-256 of their relative paths and digests. Exports of the same weights for other
backends, which sentence-transformers keeps beside them (``onnx/``, ``openvino/``), are left
out: a backend that runs those exports reads the same weights and keeps the fingerprint. So
does an int8-quantised export: its vectors differ slightly from the float ones, and the diff
compares centroids of whole groups against their own spread (with every vector moved to
cosine 0.99 of its original, the planted-set diffs of ``benchmarks/README.md`` are unchanged
but for one pair). The tokenizer and pooling settings are taken to travel with the weights. Each
file's digest is kept per (path, size, modification time) for the life of the process, so
the 90 MB of the default model are read once (about 0.1 s).

An API model (litellm) has no files to read: its fingerprint is ``"litellm:"`` and the model
name, which providers version by name. Vectors passed as ``embeddings=`` have none unless
the caller names their model (``analyze(..., embeddings_model=...)``).

Example:
    >>> weights_fingerprint("/no/such/folder") is None
    True
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

__all__ = ["BACKEND_FOLDERS", "hub_snapshot", "weights_fingerprint"]

#: Subfolders of a model folder that hold exports of its weights for other backends.
BACKEND_FOLDERS = frozenset({"onnx", "openvino"})


@lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file's bytes; ``size`` and ``mtime_ns`` key the cache, so a file that
    changed is read again."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _weight_files(folder: Path) -> list[Path]:
    def found(pattern: str) -> list[Path]:
        return sorted(
            p
            for p in folder.rglob(pattern)
            if p.is_file()
            and not (BACKEND_FOLDERS | {".git", ".cache"}) & set(p.relative_to(folder).parts[:-1])
        )

    return found("*.safetensors") or found("pytorch_model*.bin")


def weights_fingerprint(folder: str | os.PathLike[str]) -> str | None:
    """``"sha256:..."`` naming the weights in a local model folder (see the module
    docstring), or None when it holds no PyTorch weight file."""
    root = Path(folder)
    if not root.is_dir():
        return None
    files = _weight_files(root)
    if not files:
        return None
    digests = []
    for path in files:
        stat = path.stat()
        digest = _file_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        digests.append((path.relative_to(root).as_posix(), digest))
    if len(digests) == 1:
        return f"sha256:{digests[0][1]}"
    listing = "".join(f"{name}\t{digest}\n" for name, digest in digests)
    return f"sha256:{hashlib.sha256(listing.encode('utf-8')).hexdigest()}"


def hub_snapshot(name: str) -> str | None:
    """The local copy of a Hugging Face Hub model (a bare sentence-transformers name means
    ``sentence-transformers/NAME``), found without the network; None when it is not there."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    repo = name if "/" in name else f"sentence-transformers/{name}"
    try:
        return str(snapshot_download(repo, local_files_only=True))
    except Exception:  # not downloaded, or not a Hub name: no fingerprint
        return None
