"""Where the slice pipeline used to live; its parts moved to :mod:`faultmap.core` (the
steps every analysis shares) and :mod:`faultmap.analyses.slices` (the recipe). The names
stay importable from here."""

from faultmap.analyses.slices import SliceSettings, find_slices
from faultmap.core.groups import Group, describe_groups, name_groups, representatives
from faultmap.core.groups import cluster as cluster_vectors
from faultmap.core.projection import MapSettings, map_sample, prompt_map

__all__ = [
    "Group",
    "MapSettings",
    "SliceSettings",
    "cluster_vectors",
    "describe_groups",
    "find_slices",
    "map_sample",
    "name_groups",
    "prompt_map",
    "representatives",
]
