"""Benchmark helpers for faultmap (not part of the installed package)."""
