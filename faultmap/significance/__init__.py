"""Stage 4: pure functions on counts. scipy does the arithmetic; nothing here mutates input."""

from faultmap.significance.tests import (
    McNemarResult,
    ProportionTest,
    benjamini_hochberg,
    mcnemar_test,
    min_detectable_region_size,
    one_sided_proportion_test,
    under_representation_min_p,
    under_representation_test,
    wilson_interval,
)

__all__ = [
    "McNemarResult",
    "ProportionTest",
    "benjamini_hochberg",
    "mcnemar_test",
    "min_detectable_region_size",
    "one_sided_proportion_test",
    "under_representation_min_p",
    "under_representation_test",
    "wilson_interval",
]
