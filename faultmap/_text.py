"""Small text utilities shared by the analyses and the views (no faultmap imports)."""

from __future__ import annotations

import hashlib
import unicodedata

__all__ = ["clip", "prompt_digest"]

_DIGEST_CHARS = 16


def clip(text: str, limit: int = 140) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis marks a cut).

    Example:
        >>> clip("a  b\\nc", 10), clip("abcdef", 4)
        ('a b c', 'abc…')
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def prompt_digest(prompt: str) -> str:
    """A short, stable digest of a prompt's text: the first 16 hex characters of the SHA-256
    of its NFC-normalised, stripped UTF-8 text.

    Example:
        >>> prompt_digest("  What is 2 + 2? ") == prompt_digest("What is 2 + 2?")
        True
        >>> len(prompt_digest("What is 2 + 2?"))
        16
    """
    text = unicodedata.normalize("NFC", prompt).strip()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
