"""The fundamental limit of pruning: predict how far a trained network can be pruned."""

from ._curve import PruningCurve, measure_pruning_curve, measured_limit
from ._display import PruningLimitDisplay
from ._epsilon import batch_loss_std, data_loss, random_batch_loss_std, sample_losses
from ._estimator import PruningLimitEstimator
from ._radius import RadiusCurve
from ._report import limit_report
from ._solve import akf_slack, solve_pruning_limit
from ._warnings import LimitRegimeWarning
from ._width import GaussianWidth, gaussian_width

__all__ = [
    "PruningLimitDisplay",
    "limit_report",
    "measure_pruning_curve",
    "PruningCurve",
    "measured_limit",
    "PruningLimitEstimator",
    "GaussianWidth",
    "gaussian_width",
    "RadiusCurve",
    "solve_pruning_limit",
    "akf_slack",
    "batch_loss_std",
    "random_batch_loss_std",
    "sample_losses",
    "data_loss",
    "LimitRegimeWarning",
]
