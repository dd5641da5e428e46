"""One short recipe per analysis over :mod:`faultmap.core` and the stages: failure slices
(:mod:`~faultmap.analyses.slices`), model comparison (:mod:`~faultmap.analyses.comparison`),
coverage audits (:mod:`~faultmap.analyses.coverage`), hybrid slices
(:mod:`~faultmap.analyses.hybrid`) and reason themes (:mod:`~faultmap.analyses.reasons`).

Importing this package loads nothing: import the recipe you need.
"""
