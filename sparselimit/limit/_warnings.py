"""Typed warnings raised when the pruning-limit theory is applied outside its regime."""

from __future__ import annotations

__all__ = ["LimitRegimeWarning"]


class LimitRegimeWarning(UserWarning):
    """The network or data are outside the regime the pruning-limit theory is stated for.

    The prediction of :class:`~sparselimit.limit.PruningLimitEstimator` assumes an
    L1-trained network near a minimum of its loss, with a loss tolerance ``epsilon`` that is
    a meaningful fraction of the loss. When the estimator sees that this does not hold (no L1
    penalty, ``epsilon`` tiny relative to the loss, a large negative part of the Hessian
    spectrum, a limit pinned at 0 or 1) it emits this warning and records the same message in
    its ``diagnostics_["warnings"]``. The number is still computed: the warning says how far
    to trust it.

    Examples
    --------
    >>> import warnings
    >>> from sparselimit.limit import LimitRegimeWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("no L1 penalty", LimitRegimeWarning)
    >>> caught[0].category.__name__
    'LimitRegimeWarning'
    """
