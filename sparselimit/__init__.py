"""sparselimit: how far can a trained network be pruned, and prune it."""

from .limit import (
    LimitRegimeWarning,
    PruningCurve,
    PruningLimitDisplay,
    PruningLimitEstimator,
    measure_pruning_curve,
)
from .metrics import PQIndex, pq_index, recall_distortion
from .pruning import GlobalOneShotPruner, IterativePruner, prune_global
from .spectral import HessianSpectrum
from .training import L1RegularizedClassifier, L1RegularizedRegressor, MaskEnforcer

__version__ = "0.1.0.dev0"

__all__ = [
    "PruningLimitEstimator",
    "measure_pruning_curve",
    "PruningCurve",
    "PruningLimitDisplay",
    "LimitRegimeWarning",
    "HessianSpectrum",
    "IterativePruner",
    "recall_distortion",
    "L1RegularizedClassifier",
    "L1RegularizedRegressor",
    "MaskEnforcer",
    "GlobalOneShotPruner",
    "prune_global",
    "PQIndex",
    "pq_index",
]
