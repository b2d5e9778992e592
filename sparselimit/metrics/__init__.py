"""Sparsity measures of trained networks: PQ index, exact-zero reports, and their scorers."""

from ._plot import plot_history
from ._pq import PQIndex, pq_index
from ._recall import (
    RecallDistortion,
    RecallDistortionCurve,
    RecallDistortionScorer,
    intensification_ratio,
    per_class_recall,
    recall_distortion,
    recall_distortion_curve,
    recall_distortion_report,
)
from ._sparsity import (
    LayerSparsity,
    SparsityReport,
    achieved_sparsity,
    sparsity_report,
    sparsity_scorer,
)

__all__ = [
    "pq_index",
    "PQIndex",
    "sparsity_report",
    "SparsityReport",
    "LayerSparsity",
    "achieved_sparsity",
    "sparsity_scorer",
    "plot_history",
    "recall_distortion",
    "RecallDistortion",
    "per_class_recall",
    "intensification_ratio",
    "recall_distortion_report",
    "RecallDistortionScorer",
    "recall_distortion_curve",
    "RecallDistortionCurve",
]
