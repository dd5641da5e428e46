"""The core under every analysis: row identity (:mod:`~faultmap.core.rows`), the
group-testing steps (:mod:`~faultmap.core.groups`), maps of the prompts
(:mod:`~faultmap.core.projection`) and the run record (:mod:`~faultmap.core.run`).

Importing this package loads nothing: import the module you need.
"""
