"""Credentials redacted by their value, wherever faultmap writes text.

The rule: a *credential* is the value of any setting whose name has a word ``key``,
``apikey``, ``token``, ``secret``, ``password``, ``passwd``, ``credential(s)``,
``authorization``, ``auth``, ``cookie`` or ``signature`` (``api_key``, ``x-api-key``,
``Authorization``, ``aws_secret_access_key``; ``max_tokens`` is not one: ``tokens`` is not
a listed word), at any depth of the keyword arguments given to faultmap (the LLM's
``completion_kwargs``, ``embedding_usage_kwargs``; a value under such a name is a credential
whole, nested or not, and so is each word of it: the token of ``"Bearer abc..."``), a
password in a URL (``https://user:PASSWORD@host``) or a credential-named query parameter
(``?key=...``), and the value of every environment variable with such a name
(``OPENAI_API_KEY``, ``HF_TOKEN``). Values shorter than 6 characters are not taken: they
would blank out ordinary words. From the environment, which holds variables nobody gave
faultmap (``SSH_AUTH_SOCK``, ``AUTH_MODE=disabled``), a value or word is taken only when it
looks like a credential: at least 12 characters, with a letter and a digit.

Credentials given to faultmap are remembered for the life of the process
(:func:`register_secrets`); the environment is read each time. :func:`redact` replaces each
of them, as is and as JSON and HTML would escape it, by ``[REDACTED]``. It is applied to
model identities (a report's ``embedding_model``; the embedding cache's folder is a hash of
the identity), to every message of the ``faultmap`` logger (:func:`install_log_filter`), to
the message of every :class:`~faultmap.exceptions.FaultmapError`, and to the JSON, HTML and
text views of results.

Example:
    >>> register_secrets({"query": {"api_key": "abc123-not-a-known-prefix-XYZ"}})
    >>> redact("401: key abc123-not-a-known-prefix-XYZ is not valid")
    '401: key [REDACTED] is not valid'
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "REDACTED",
    "install_log_filter",
    "is_credential_name",
    "known_secrets",
    "mask_credentials",
    "redact",
    "register_secrets",
    "secret_values",
]

REDACTED = "[REDACTED]"
MIN_GIVEN = 6
MIN_ENVIRONMENT = 12

_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "credential",
        "credentials",
        "authorization",
        "auth",
        "cookie",
        "signature",
    }
)
_PARTS = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_URL_PASSWORD = re.compile(r"://[^/\s:@]+:([^@/\s]+)@")
_URL_PARAMETER = re.compile(r"[?&;]([A-Za-z0-9_.\-]+)=([^&#;\s]+)")

_lock = threading.Lock()
_registered: set[str] = set()


def is_credential_name(name: object) -> bool:
    """True when the setting or variable ``name`` names a credential (see the module rule).

    Example:
        >>> [is_credential_name(n) for n in ("api_key", "X-Api-Key", "max_tokens", "apiBase")]
        [True, True, False, False]
    """
    if not isinstance(name, str):
        return False
    return any(part.lower() in _WORDS for part in _PARTS.split(name) if part)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings(item)


_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "apikey"})


def _with_words(value: str, minimum: int) -> set[str]:
    out = {value} if len(value) >= minimum else set()
    out |= {w for w in value.split() if len(w) >= minimum and w.lower() not in _SCHEMES}
    return out


def _in_urls(text: str) -> set[str]:
    found = {m.group(1) for m in _URL_PASSWORD.finditer(text)}
    found |= {m.group(2) for m in _URL_PARAMETER.finditer(text) if is_credential_name(m.group(1))}
    return {v for v in found if len(v) >= MIN_GIVEN}


def secret_values(*sources: Any) -> set[str]:
    """The credentials in ``sources`` (mappings, nested at any depth; see the module rule).

    Example:
        >>> sorted(secret_values({"extra_headers": {"Authorization": "Bearer tok-123456"},
        ...                       "api_base": "https://u:hunter22@host/v1", "max_tokens": 900000}))
        ['Bearer tok-123456', 'hunter22', 'tok-123456']
    """
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for name, item in value.items():
                if is_credential_name(name):
                    for text in _strings(item):
                        found.update(_with_words(text, MIN_GIVEN))
                else:
                    walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            found.update(_in_urls(value))

    for source in sources:
        walk(source)
    return found


def register_secrets(*sources: Any) -> None:
    """Remember the credentials in ``sources`` (see :func:`secret_values`) for redaction."""
    values = secret_values(*sources)
    if values:
        with _lock:
            _registered.update(values)


def _environment() -> set[str]:
    found: set[str] = set()
    for name, value in os.environ.items():
        if is_credential_name(name):
            found.update(w for w in _with_words(value, MIN_ENVIRONMENT) if _looks_secret(w))
    return found


def _looks_secret(value: str) -> bool:
    """A letter and a digit, no spaces: a key or token, not an ordinary word or setting."""
    return (
        not any(c.isspace() for c in value)
        and any(c.isalpha() for c in value)
        and any(c.isdigit() for c in value)
    )


def known_secrets(extra: Iterable[str] = ()) -> list[str]:
    """Every credential to redact now, longest first: registered, from the environment and
    ``extra``."""
    with _lock:
        values = set(_registered)
    values |= _environment()
    values |= {str(v) for v in extra if len(str(v)) >= MIN_GIVEN}
    return sorted(values, key=len, reverse=True)


def _forms(value: str) -> list[str]:
    quoted = json.dumps(value)[1:-1]
    ascii_quoted = json.dumps(value, ensure_ascii=True)[1:-1]
    forms = {value, quoted, ascii_quoted, html.escape(value), html.escape(quoted)}
    return sorted(forms, key=len, reverse=True)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every credential (see the module rule; ``extra`` too) replaced by
    ``[REDACTED]``, also where JSON or HTML escaped it."""
    secrets = known_secrets(extra)
    if not secrets or not text:
        return text
    for value in secrets:
        for form in _forms(value):
            if form in text:
                text = text.replace(form, REDACTED)
    return text


def mask_credentials(value: Any) -> Any:
    """A copy of the mapping ``value`` with every credential-named entry's value replaced by
    ``[REDACTED]`` (nested mappings and lists too), e.g. for an identity string.

    Example:
        >>> mask_credentials({"query": {"api_key": "sk-1", "input_type": "query"}})
        {'query': {'api_key': '[REDACTED]', 'input_type': 'query'}}
    """
    if isinstance(value, Mapping):
        return {
            k: REDACTED if is_credential_name(k) else mask_credentials(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_credentials(v) for v in value]
    if isinstance(value, tuple):
        return tuple(mask_credentials(v) for v in value)
    return value


class _RedactingFilter(logging.Filter):
    """Redacts credentials from each record's message (the message made from its args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as it would
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = _RedactingFilter("faultmap-secrets")


def install_log_filter(name: str = "faultmap") -> None:
    """Redact credentials from every record of the logger ``name`` (once; idempotent)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


# faultmap's own logger only: no handler is added and no other logger is touched.
install_log_filter()
