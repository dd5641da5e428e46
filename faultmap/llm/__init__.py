"""Shared language-model client (litellm underneath): concurrency, retries, timeouts, JSON."""

from faultmap.llm.client import LLMClient, LLMStats, parse_json_object, redact, run_sync

__all__ = ["LLMClient", "LLMStats", "parse_json_object", "redact", "run_sync"]
