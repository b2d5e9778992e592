"""Pruning: masks from importance scores, global one-shot magnitude pruning, the LOMP pruner.

Masks are plain bool tensors (True = kept), never ``torch.nn.utils.prune`` hooks.
"""

from ._global import IMPORTANCES, PruningResult, magnitude_importance, prune_global
from ._iterative import IterativePruner, sap_prune_count
from ._masks import compute_masks
from ._one_shot import GlobalOneShotPruner

__all__ = [
    "compute_masks",
    "prune_global",
    "PruningResult",
    "magnitude_importance",
    "IMPORTANCES",
    "GlobalOneShotPruner",
    "IterativePruner",
    "sap_prune_count",
]
