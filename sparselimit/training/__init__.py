"""Training: skorch nets with an L1 penalty and callbacks for pruning-aware training."""

from ._dns import DynamicNetworkSurgery
from ._l1 import L1RegularizedClassifier, L1RegularizedRegressor, l1_penalty
from ._masking import MaskEnforcer
from ._models import MLP
from ._progress import EpochProgressBar
from ._scoring import PQIndexScoring, SparsityScoring

__all__ = [
    "L1RegularizedClassifier",
    "L1RegularizedRegressor",
    "l1_penalty",
    "MaskEnforcer",
    "MLP",
    "EpochProgressBar",
    "PQIndexScoring",
    "SparsityScoring",
    "DynamicNetworkSurgery",
]
