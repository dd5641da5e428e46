"""Stage 4: pure functions on counts. scipy does the arithmetic; nothing here mutates input."""

from faultmap.significance.tests import (
    ProportionTest,
    benjamini_hochberg,
    one_sided_proportion_test,
    wilson_interval,
)

__all__ = [
    "ProportionTest",
    "benjamini_hochberg",
    "one_sided_proportion_test",
    "wilson_interval",
]
