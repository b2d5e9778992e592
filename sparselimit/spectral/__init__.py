"""Spectra of symmetric operators: Lanczos, stochastic Lanczos quadrature, traces, extreme
eigenvalues, zero-curvature deflation, and the HessianSpectrum estimator."""

from ._density import SpectralDensity
from ._display import HessianSpectrumDisplay
from ._eigen import top_eigenvalues
from ._estimator import HessianSpectrum, skorch_data_loss
from ._lanczos import LanczosBreakdownWarning, lanczos
from ._slq import slq_spectrum, zero_curvature_mask
from ._trace import hutchinson_trace

__all__ = [
    "SpectralDensity",
    "slq_spectrum",
    "lanczos",
    "hutchinson_trace",
    "top_eigenvalues",
    "zero_curvature_mask",
    "HessianSpectrum",
    "HessianSpectrumDisplay",
    "LanczosBreakdownWarning",
    "skorch_data_loss",
]
