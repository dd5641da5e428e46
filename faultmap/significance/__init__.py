"""Stage 4: pure functions on counts. scipy does the arithmetic; nothing here mutates input."""

from faultmap.significance.tests import (
    CORRECTIONS,
    McNemarResult,
    ProportionTest,
    adjust,
    benjamini_hochberg,
    detectable_rate,
    detectable_rates,
    homogeneity_tests,
    mcnemar_test,
    min_detectable_region_size,
    one_sided_proportion_test,
    one_sided_proportion_tests,
    rejection_level,
    under_representation_min_p,
    under_representation_test,
    wilson_interval,
)

__all__ = [
    "CORRECTIONS",
    "McNemarResult",
    "ProportionTest",
    "adjust",
    "benjamini_hochberg",
    "detectable_rate",
    "detectable_rates",
    "homogeneity_tests",
    "mcnemar_test",
    "min_detectable_region_size",
    "one_sided_proportion_test",
    "one_sided_proportion_tests",
    "rejection_level",
    "under_representation_min_p",
    "under_representation_test",
    "wilson_interval",
]
