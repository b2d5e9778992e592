"""Pruning: masks from importance scores, global one-shot magnitude pruning, the LOMP pruner.

Masks are plain bool tensors (True = kept), never ``torch.nn.utils.prune`` hooks.
"""

from ._global import (
    DATA_IMPORTANCES,
    IMPORTANCES,
    PruningResult,
    magnitude_importance,
    prune_global,
)
from ._importance import make_undecayed_importance, undecayed_importance, undecayed_score
from ._iterative import IterativePruner, sap_prune_count
from ._masks import compute_masks
from ._one_shot import GlobalOneShotPruner

__all__ = [
    "compute_masks",
    "prune_global",
    "PruningResult",
    "magnitude_importance",
    "IMPORTANCES",
    "DATA_IMPORTANCES",
    "undecayed_importance",
    "make_undecayed_importance",
    "undecayed_score",
    "GlobalOneShotPruner",
    "IterativePruner",
    "sap_prune_count",
]
