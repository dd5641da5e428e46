"""Stage 5: name each slice. Keywords offline (default); an LLM refines when configured."""

from faultmap.naming.base import KINDS, Namer, SliceContext, SliceLabel
from faultmap.naming.keywords import KeywordNamer, distinctive_terms
from faultmap.naming.llm import LLMNamer

__all__ = [
    "KINDS",
    "KeywordNamer",
    "LLMNamer",
    "Namer",
    "SliceContext",
    "SliceLabel",
    "distinctive_terms",
]
