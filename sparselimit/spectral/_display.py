"""Plot of a Hessian spectral density, in scikit-learn's Display style."""

from __future__ import annotations

import numpy as np

__all__ = ["HessianSpectrumDisplay"]


class HessianSpectrumDisplay:
    """Smoothed Hessian spectral density plot.

    Build it with :meth:`from_estimator` (a fitted :class:`HessianSpectrum`) or
    :meth:`from_spectrum` (a :class:`SpectralDensity`). matplotlib is imported only when
    plotting (``pip install sparselimit[plot]``).

    Parameters
    ----------
    grid : ndarray
        Eigenvalue grid.
    density : ndarray
        Density on the grid.
    zero_row_fraction : float, default=0.0
        Mass of deflated zero rows (shown in the legend).
    nodes : ndarray, default=None
        Ritz values, drawn as a rug when given.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    line_ : matplotlib Line2D

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.spectral import HessianSpectrumDisplay, SpectralDensity
    >>> sd = SpectralDensity(nodes=[[0.0, 2.0]], weights=[[0.5, 0.5]], n_params=2)
    >>> disp = HessianSpectrumDisplay.from_spectrum(sd)  # doctest: +SKIP
    """

    def __init__(self, grid, density, *, zero_row_fraction=0.0, nodes=None):
        self.grid = np.asarray(grid)
        self.density = np.asarray(density)
        self.zero_row_fraction = float(zero_row_fraction)
        self.nodes = None if nodes is None else np.asarray(nodes)

    def plot(self, ax=None, *, log_scale=True, name=None, **kwargs):
        """Draw the density on ``ax`` (a new figure if None); ``log_scale`` uses a logarithmic
        density axis, which shows the bulk and the outliers of Hessian spectra together."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "Plotting needs matplotlib: pip install 'sparselimit[plot]'."
            ) from exc
        if ax is None:
            _, ax = plt.subplots()
        label = name or "SLQ density"
        if self.zero_row_fraction > 0:
            label += f" (zero rows: {self.zero_row_fraction:.1%})"
        kwargs.setdefault("label", label)
        (self.line_,) = ax.plot(self.grid, self.density, **kwargs)
        if self.nodes is not None:
            # rug at the bottom of the axes (axes coordinates in y: visible on a log scale)
            ax.plot(
                self.nodes.ravel(),
                np.full(self.nodes.size, 0.02),
                "|",
                color="0.4",
                markersize=8,
                transform=ax.get_xaxis_transform(),
                label="Ritz values",
            )
        if log_scale:
            ax.set_yscale("log")
            positive = self.density[self.density > 0]
            if positive.size:
                ax.set_ylim(max(positive.min(), positive.max() * 1e-8), positive.max() * 2)
        ax.set_xlabel("eigenvalue")
        ax.set_ylabel("density")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_spectrum(
        cls, spectrum, *, grid=None, sigma=None, include_zero_rows=True, ax=None, **kwargs
    ):
        """Plot a :class:`SpectralDensity`; see :meth:`HessianSpectrum.density` for the
        default grid and bandwidth."""
        from ._estimator import HessianSpectrum

        holder = HessianSpectrum()
        holder.spectrum_ = spectrum
        grid, dens = holder.density(grid, sigma, include_zero_rows=include_zero_rows)
        disp = cls(grid, dens, zero_row_fraction=spectrum.zero_row_fraction, nodes=spectrum.nodes)
        return disp.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(
        cls, estimator, *, grid=None, sigma=None, include_zero_rows=True, ax=None, **kwargs
    ):
        """Plot the spectrum of a fitted :class:`HessianSpectrum`."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator, "spectrum_")
        return cls.from_spectrum(
            estimator.spectrum_,
            grid=grid,
            sigma=sigma,
            include_zero_rows=include_zero_rows,
            ax=ax,
            **kwargs,
        )
