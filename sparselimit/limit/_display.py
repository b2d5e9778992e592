"""PruningLimitDisplay: the paper's two figures, in scikit-learn's Display style."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._curve import _check_curve
from ._estimator import PruningLimitEstimator

__all__ = ["PruningLimitDisplay"]


class PruningLimitDisplay:
    """Plot the predicted pruning limit, and the measured one when a curve is given.

    Two panels, as in Zhang et al. (2024):

    1. *width*: the theory ``G(R)`` against the weights' own curve ``(R(rho), rho)``; the
       predicted limit is where they cross (marked), ``rho* = G(R(rho*))``.
    2. *accuracy*: score against sparsity of one-shot magnitude pruning, with the dense
       score, the predicted limit (and its interval) and the measured limit as vertical
       lines. Drawn only when a :class:`PruningCurve` is available.

    Build it with :meth:`from_estimator`; matplotlib is imported only when plotting.

    Parameters
    ----------
    width_radius, width_values : ndarray
        ``R`` and ``G(R)``.
    radius_sparsity, radius_values : ndarray
        ``rho`` and ``R(rho)``.
    pruning_limit : float
        Predicted limit ``rho*``.
    limit_radius : float
        ``R(rho*)``.
    interval : tuple of float, default=None
        Interval of the prediction.
    curve : PruningCurve, default=None
        Measured curve for the second panel.

    Attributes
    ----------
    axes_ : list of matplotlib Axes
        The panels drawn (1 or 2).
    figure_ : matplotlib Figure
        Figure of the first panel.
    crossing_ : matplotlib artist
        The marker of the crossing.

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.limit import PruningLimitDisplay
    >>> rho = np.linspace(0, 1, 11); R = rho ** 2
    >>> disp = PruningLimitDisplay(width_radius=R, width_values=1 / (1 + R), radius_sparsity=rho,
    ...                            radius_values=R, pruning_limit=0.6, limit_radius=0.36)
    >>> disp = disp.plot()
    >>> len(disp.axes_)
    1
    """

    def __init__(
        self,
        *,
        width_radius,
        width_values,
        radius_sparsity,
        radius_values,
        pruning_limit,
        limit_radius,
        interval=None,
        curve=None,
    ):
        self.width_radius = np.asarray(width_radius)
        self.width_values = np.asarray(width_values)
        self.radius_sparsity = np.asarray(radius_sparsity)
        self.radius_values = np.asarray(radius_values)
        self.pruning_limit = float(pruning_limit)
        self.limit_radius = float(limit_radius)
        self.interval = interval
        self.curve = curve

    @classmethod
    def from_estimator(cls, estimator, curve=None, *, ax=None):
        """Plot from a fitted :class:`PruningLimitEstimator` (and a measured curve).

        Parameters
        ----------
        estimator : PruningLimitEstimator
            Fitted.
        curve : PruningCurve, default=None
            From :func:`measure_pruning_curve` on ``estimator`` (a curve of another number of
            prunable weights raises ``ValueError``); adds the accuracy panel.
        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw: one Axes per panel (the first ones, in row order, of an array from
            ``plt.subplots``). A new figure (1 or 2 panels side by side) when None.

        Returns
        -------
        display : PruningLimitDisplay
        """
        if not isinstance(estimator, PruningLimitEstimator):
            raise TypeError(
                "`estimator` must be a fitted PruningLimitEstimator (the curve goes second: "
                f"from_estimator(estimator, curve)); got {type(estimator).__name__}."
            )
        check_is_fitted(estimator, "pruning_limit_")
        _check_curve(estimator, curve)
        rho, R = estimator.radius_curve_
        r_max = float(R[-1])
        r_star = float(estimator.radius(estimator.pruning_limit_))
        # zoom the radius axis on the crossing: the largest weights make R(1) huge
        hi = min(1.0, estimator.pruning_limit_ + 0.5 * (1.0 - estimator.pruning_limit_))
        r_show = min(r_max, max(2.5 * r_star, float(estimator.radius(hi)))) or r_max or 1.0
        grid = np.linspace(0.0, r_show, 400)
        sel = R <= r_show
        disp = cls(
            width_radius=grid,
            width_values=estimator.width(grid),
            radius_sparsity=rho[sel],
            radius_values=R[sel],
            pruning_limit=estimator.pruning_limit_,
            limit_radius=r_star,
            interval=estimator.pruning_limit_interval_,
            curve=curve,
        )
        return disp.plot(ax=ax)

    def plot(self, *, ax=None):
        """Draw the panels.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            One Axes per panel (in row order for a 2-D array); a new figure when None.

        Returns
        -------
        self : PruningLimitDisplay
        """
        import matplotlib.pyplot as plt

        n_panels = 2 if self.curve is not None else 1
        if ax is None:
            fig, axes = plt.subplots(1, n_panels, figsize=(5.5 * n_panels, 4.2), squeeze=False)
            axes = list(axes[0])
        else:
            # a grid from plt.subplots(..., squeeze=False) is 2-D: its Axes in row order
            axes = list(np.ravel(np.asarray(ax, dtype=object)))
            if len(axes) < n_panels:
                raise ValueError(
                    f"`ax` must hold {n_panels} Axes (one per panel); got {len(axes)}."
                )
        a = axes[0]
        a.plot(self.width_radius, self.width_values, label="theory $G(R)$", color="C0")
        a.plot(
            self.radius_values, self.radius_sparsity, label=r"weights $(R(\rho), \rho)$", color="C1"
        )
        self.crossing_ = a.plot(
            [self.limit_radius],
            [self.pruning_limit],
            "o",
            color="k",
            label=rf"predicted limit $\rho^*$ = {self.pruning_limit:.3f}",
        )[0]
        a.set_xlabel(r"distance $R$ from $w^*$ to the pruned weights")
        a.set_ylabel(r"fraction $\rho$ removed / $G(R)$")
        a.set_ylim(0.0, 1.02)
        a.set_xlim(left=0.0)
        a.legend(loc="best", fontsize="small")
        a.set_title("Pruning limit: $\\rho = G(R(\\rho))$")
        if n_panels == 2:
            c = self.curve
            b = axes[1]
            b.plot(
                c.sparsities,
                c.scores,
                ".-",
                color="C2",
                label="one-shot pruning"
                if not c.fine_tune_epochs
                else f"pruned + {c.fine_tune_epochs} epochs retraining",
            )
            b.axhline(c.dense_score, color="gray", ls=":", lw=1, label="dense")
            if self.interval is not None:
                b.axvspan(self.interval[0], self.interval[1], color="C0", alpha=0.12)
            b.axvline(
                self.pruning_limit, color="C0", ls="--", label=f"predicted {self.pruning_limit:.3f}"
            )
            b.axvline(
                c.measured_limit,
                color="C3",
                ls="-.",
                label=f"measured ({c.rule}) {c.measured_limit:.3f}",
            )
            b.set_xlabel(r"sparsity $\rho$ (fraction of weights removed)")
            b.set_ylabel(c.score_name)
            b.legend(loc="lower left", fontsize="small")
            b.set_title("Score vs sparsity")
        self.axes_ = axes[:n_panels]
        self.figure_ = axes[0].figure
        return self
