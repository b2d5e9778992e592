"""sparselimit: how far can a trained network be pruned, and prune it."""

from .metrics import PQIndex, pq_index
from .pruning import GlobalOneShotPruner, prune_global
from .training import L1RegularizedClassifier, L1RegularizedRegressor, MaskEnforcer

__version__ = "0.1.0.dev0"

__all__ = [
    "L1RegularizedClassifier",
    "L1RegularizedRegressor",
    "MaskEnforcer",
    "GlobalOneShotPruner",
    "prune_global",
    "PQIndex",
    "pq_index",
]
