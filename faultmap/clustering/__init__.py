"""Stage 3: group prompt vectors: HDBSCAN (automatic k), agglomerative, or your labels."""

from faultmap.clustering.agglomerative import AgglomerativeClusterer
from faultmap.clustering.base import Clusterer
from faultmap.clustering.fixed import FixedLabels
from faultmap.clustering.hdbscan import HDBSCANClusterer

__all__ = ["AgglomerativeClusterer", "Clusterer", "FixedLabels", "HDBSCANClusterer"]
