"""The templates, style and script of the HTML views (package files next to this module),
the Jinja2 environment that renders them with every value escaped, and the page's
Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import cache, lru_cache
from html import escape
from importlib.resources import files
from typing import Any

__all__ = ["CONTENT_SECURITY_POLICY", "Markup", "json_block", "render", "resource"]

_PACKAGE = __name__.rpartition(".")[0]  # faultmap.reports.html: the templates sit beside it


@cache
def resource(name: str) -> str:
    """The text of a package file of the HTML views (a template, ``page.css``, ``page.js``)."""
    return files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")


class Markup(str):
    """Text a template prints as it is (it has ``__html__``, like Jinja2's own markup): only
    escaped text, and faultmap's own style, script, policy and escaped JSON data block."""

    def __html__(self) -> str:
        return str(self)


def _escaped(value: Any) -> Any:
    """What a template prints for ``value`` (Jinja2's ``finalize``): markup stays as it is,
    any other value is escaped with :func:`html.escape` (``'`` becomes ``&#x27;``, as in every
    other escaped text of faultmap) before autoescaping sees it."""
    if hasattr(value, "__html__"):
        return value
    return Markup(escape(str(value), quote=True))


#: A token longer than this may break (every this many characters); shorter words never do.
LONG_TOKEN = 30


def breakable(value: Any) -> Markup:
    """``value`` escaped, with a ``<wbr>`` (a line-break opportunity that adds no
    character) every :data:`LONG_TOKEN` characters inside a longer token, so that a long
    URL or hash can wrap while ordinary words never break inside (the style breaks no word:
    no ``overflow-wrap: anywhere``).

    Example:
        >>> str(breakable("a <b> " + "x" * 35))
        'a &lt;b&gt; xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx<wbr>xxxxx'
    """
    if hasattr(value, "__html__"):
        return Markup(value.__html__())
    out = []
    for token in re.split(r"(\s+)", str(value)):
        pieces = [token[k : k + LONG_TOKEN] for k in range(0, len(token), LONG_TOKEN)] or [""]
        out.append("<wbr>".join(escape(piece, quote=True) for piece in pieces))
    return Markup("".join(out))


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2  # imported when a view is drawn, so that ``import faultmap`` stays light

    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(resource),
        autoescape=True,
        finalize=_escaped,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["breakable"] = breakable
    return environment


def render(template: str, **context: Any) -> str:
    """The package template ``template`` filled in with ``context``."""
    return _environment().get_template(template).render(**context)


def _script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


#: The page's only script may run (by the hash of ``page.js``), style is inline, and nothing
#: loads from anywhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"script-src '{_script_hash(resource('page.js'))}'; "
    "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
)


def json_block(data: Any) -> str:
    """JSON that cannot end its ``<script>`` element or open markup inside it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
