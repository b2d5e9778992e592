"""HessianSpectrum: the Hessian spectrum of a skorch network as a scikit-learn estimator."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ..curvature import HessianOperator
from ..utils import check_X_y, make_generator, resolve_module
from ..utils._criterion import _batch_weight, _with_reduction
from ..utils._validation import (
    _dense,
    _inner_sparse_tag,
    _record_n_features,
    _require_y,
    _rng_shielded,
    _torch_seeded,
    _unfreeze,
    check_skorch_estimator,
)
from ._eigen import top_eigenvalues
from ._slq import slq_spectrum

__all__ = ["HessianSpectrum", "skorch_data_loss"]


def skorch_data_loss(net):
    """The *data* loss of a fitted skorch net as ``loss_fn(y_pred, y_true, X=None)``, mean
    reduction.

    Each call is ``net.get_loss(y_pred, y_true, training=False)``, so the net's own target
    handling applies exactly as in its validation loss: the log of the probabilities for a
    ``NeuralNetClassifier`` with ``NLLLoss`` (skorch's default), the reshape of a 1-D target
    and the float cast of :class:`~sparselimit.L1RegularizedRegressor`. Penalties a subclass
    adds to ``get_loss`` only when ``training=True`` (such as the L1 term) are left out. A
    criterion with another ``reduction`` (``'sum'``, ``'none'``) is switched to ``'mean'``
    during each call and restored after it; the net is never left changed.

    The function carries ``loss_fn.batch_weight(y)``: what a batch's mean counts for in the
    mean over all samples where that is not the batch size -- the total class weight of the
    batch for a class-weighted cross-entropy / NLL (None otherwise).
    :class:`~sparselimit.curvature.HessianOperator` uses it, so batching never changes the
    Hessian.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skorch import NeuralNetRegressor
    >>> from sparselimit.spectral import skorch_data_loss
    >>> net = NeuralNetRegressor(nn.Linear(2, 1), criterion=nn.MSELoss,
    ...                          criterion__reduction="sum").initialize()
    >>> loss_fn = skorch_data_loss(net)
    >>> float(loss_fn(torch.zeros(4, 1), torch.ones(4, 1))), net.criterion_.reduction
    (1.0, 'sum')
    >>> loss_fn.batch_weight(torch.ones(4, 1)) is None  # an MSE batch counts by its size
    True
    """
    if not callable(getattr(net, "get_loss", None)) or not hasattr(net, "criterion"):
        hint = (
            " A plain torch.nn.Module has no data loss of its own: use its criterion (e.g. "
            "nn.CrossEntropyLoss()) directly, or wrap the module in a skorch net."
            if isinstance(net, torch.nn.Module)
            else ""
        )
        raise TypeError(
            "`net` must be an initialized skorch net (NeuralNet, NeuralNetClassifier, "
            f"NeuralNetRegressor or a subclass); got {type(net).__name__}.{hint}"
        )
    if getattr(net, "criterion_", None) is None:
        raise NotFittedError(
            f"This {type(net).__name__} has no `criterion_`: it is not initialized yet. Call "
            "`fit` (or `initialize()`) first."
        )

    def loss_fn(y_pred, y_true, X=None):
        # net.criterion_ is looked up per call: re-initializing the net replaces it
        with _with_reduction(net.criterion_, "mean"):
            return net.get_loss(y_pred, y_true, X=X, training=False)

    loss_fn.batch_weight = lambda y_true: _batch_weight(net.criterion_, y_true)
    return loss_fn


def _gather(net, X, y, owner: str):
    """``(X, y)`` as the tensors the skorch net sees, concatenated (for a ``Dataset`` X, the
    samples it yields)."""
    from skorch.dataset import unpack_data

    loader = torch.utils.data.DataLoader(net.get_dataset(X, y), batch_size=4096, shuffle=False)
    xs, ys = [], []
    for batch in loader:
        Xi, yi = unpack_data(batch)
        if not isinstance(Xi, torch.Tensor):
            raise TypeError(
                f"{owner} needs X that the net turns into a single tensor (a NumPy array, "
                f"tensor or a Dataset yielding tensors); got batches of {type(Xi).__name__}."
            )
        xs.append(Xi)
        if isinstance(yi, torch.Tensor):
            ys.append(yi)
    Xt = torch.cat(xs)
    yt = torch.cat(ys) if ys else None
    return Xt, yt


def _take_rows(a, idx):
    """Rows ``idx`` (sorted positions) of ``a``: by position for pandas objects (``a[idx]``
    would read the positions as column labels), with a tensor index for a tensor, and through
    ``np.asarray`` otherwise (lists), as :class:`HessianOperator` converts them anyway."""
    if a is None:
        return None
    if hasattr(a, "iloc"):
        return a.iloc[idx]
    if isinstance(a, torch.Tensor):
        return a[torch.as_tensor(idx, device=a.device)]
    return np.asarray(a)[idx]


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"`{name}` must be an int >= {low}; got {value!r}.")
    return int(value)


class HessianSpectrum(BaseEstimator):
    """Hessian spectrum of a skorch network's data loss, by stochastic Lanczos quadrature.

    ``fit(X, y)`` fits a clone of ``estimator`` (or takes it as is with ``prefit=True``), builds
    the matrix-free :class:`~sparselimit.curvature.HessianOperator` of its data loss on ``(X, y)``
    (the net's ``get_loss`` with ``training=False``, so penalties are left out; mean over
    samples, eval mode; see :func:`skorch_data_loss`) and runs :func:`slq_spectrum`.

    Parameters
    ----------
    estimator : skorch net, default=None
        An unfitted net (cloned and fitted) or, with ``prefit=True``, a fitted one (used as
        is, never modified). A fitted net wrapped in ``sklearn.frozen.FrozenEstimator`` is
        taken as with ``prefit=True``.
    prefit : bool, default=False
        Whether ``estimator`` is already fitted.
    n_probes : int, default=1
        SLQ probes (run in lockstep, one block product per step).
    n_lanczos_steps : int, default=128
        Lanczos steps per probe (the paper's default).
    params : None, 'all', list of str or dict, default=None
        Parameters of the Hessian (see :class:`~sparselimit.curvature.HessianOperator`); None
        means the prunable weights.
    deflate_zero_rows : bool, default=True
        Detect the coordinates with a zero Hessian row and run SLQ on the others (see
        :func:`zero_curvature_mask`); their fraction is ``zero_row_fraction_``.
    max_samples : None, int or float, default=None
        Use a fixed random subset of the data: an int is a count, a float in (0, 1] a
        fraction (rounded up, as in :class:`~sparselimit.limit.PruningLimitEstimator`). The
        cost of every Lanczos step is proportional to the number of samples, but the Hessian
        of a subsample is a noisy estimate of the full one: its spectrum is spread wider
        (random-matrix noise inflates the extreme eigenvalues, and for subsamples smaller than
        the number of parameters the rank drops, adding spurious zero curvature). Keep several
        thousand samples for a faithful spectrum.
    batch_size : int or 'auto', default='auto'
        Samples per forward/backward pass (time and memory only; the result does not depend
        on it). ``'auto'`` sizes batches from the measured graph memory
        (:class:`~sparselimit.curvature.HessianOperator`).
    n_top_eigenvalues : int, default=1
        Also compute this many largest eigenvalues with ARPACK (0 to skip).
    random_state : None, int or numpy RandomState, default=None
        Seeds the subsample, the probes and the eigenvalue start vector (from a private
        ``torch.Generator``), and the training of an unfitted ``estimator``: it runs with
        torch's global RNG seeded from it inside ``torch.random.fork_rng``, so the global RNG
        is restored afterwards. ``None`` trains with the global RNG as it is.
    verbose : int, default=0
        Progress bar over Lanczos steps when > 0.

    Attributes
    ----------
    estimator_ : skorch net
        The fitted net (``estimator`` itself with ``prefit=True``, the wrapped net of a
        ``FrozenEstimator``).
    spectrum_ : SpectralDensity
        Ritz nodes and weights (plain NumPy).
    trace_ : float
        Trace estimate from the quadrature's first moment.
    top_eigenvalues_ : ndarray of shape (n_top_eigenvalues,)
        Largest eigenvalues (empty when ``n_top_eigenvalues=0``).
    zero_row_fraction_ : float
        Fraction of coordinates with a zero Hessian row (0 without deflation).
    n_params_ : int
        Number of parameters ``D`` of the Hessian.
    param_names_ : list of str
        Their names.
    n_samples_ : int
        Samples the Hessian was taken over.
    n_features_in_ : int
        Number of features of ``X`` (only when ``X`` is two-dimensional).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from torch import nn
    >>> from skorch import NeuralNetClassifier
    >>> from sparselimit.spectral import HessianSpectrum
    >>> X = np.random.RandomState(0).randn(64, 4).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> net = NeuralNetClassifier(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)),
    ...                           criterion=nn.CrossEntropyLoss, max_epochs=2, verbose=0,
    ...                           train_split=None)
    >>> hs = HessianSpectrum(net, n_lanczos_steps=16, random_state=0).fit(X, y)
    >>> hs.n_params_, hs.spectrum_.nodes.shape
    (48, (1, 16))
    """

    def __init__(
        self,
        estimator=None,
        *,
        prefit=False,
        n_probes=1,
        n_lanczos_steps=128,
        params=None,
        deflate_zero_rows=True,
        max_samples=None,
        batch_size="auto",
        n_top_eigenvalues=1,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.prefit = prefit
        self.n_probes = n_probes
        self.n_lanczos_steps = n_lanczos_steps
        self.params = params
        self.deflate_zero_rows = deflate_zero_rows
        self.max_samples = max_samples
        self.batch_size = batch_size
        self.n_top_eigenvalues = n_top_eigenvalues
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.estimator is not None:  # an unfitted net is trained on X as it is
            tags.input_tags.sparse = _inner_sparse_tag(self.estimator)
        return tags

    def _subsample(self, n, gen):
        ms = self.max_samples
        if ms is None:
            return None
        if isinstance(ms, numbers.Integral) and not isinstance(ms, bool):
            if ms < 1:
                raise ValueError(f"`max_samples` as an int must be >= 1; got {ms}.")
            k = min(int(ms), n)
        elif isinstance(ms, numbers.Real) and 0 < ms <= 1:
            k = math.ceil(ms * n)  # as PruningLimitEstimator: a fraction rounds up
        else:
            raise ValueError(
                "`max_samples` must be None, an int >= 1 (a count) or a float in (0, 1] (a "
                f"fraction); got {ms!r}."
            )
        if k >= n:
            return None
        return np.sort(torch.randperm(n, generator=gen)[:k].numpy())

    def fit(self, X, y=None):
        """Fit (or take) the net and estimate its Hessian spectrum on ``(X, y)``.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
            Inputs, unaugmented, in a fixed order (NumPy array, tensor, list, pandas
            DataFrame, scipy.sparse matrix, which is densified, or a ``Dataset`` yielding
            ``(X, y)`` tensors, whose samples are gathered; ``max_samples`` picks rows by
            position).
        y : array-like or tensor of shape (n_samples, ...), default=None
            Targets. Required unless ``X`` is a ``Dataset`` yielding ``(X, y)``.

        Returns
        -------
        self : HessianSpectrum
        """
        check_skorch_estimator(self.estimator, type(self).__name__)
        if self.estimator is None:
            raise ValueError(
                "`estimator` is None; pass a skorch net, e.g. HessianSpectrum(net) (fitted "
                "with prefit=True, or unfitted to fit a clone first)."
            )
        _check_int(self.n_probes, "n_probes", 1)
        _check_int(self.n_lanczos_steps, "n_lanczos_steps", 1)
        if self.batch_size != "auto":
            _check_int(self.batch_size, "batch_size", 1)
        n_top = _check_int(self.n_top_eigenvalues, "n_top_eigenvalues", 0)
        check_X_y(X, y)
        _require_y(X, y, "HessianSpectrum", "the Hessian is that of the data loss of (X, y)")
        X_in = X  # the user's X, for n_features_in_ (X is densified and subsampled below)
        if isinstance(self.random_state, torch.Generator):
            raise TypeError("`random_state` must be None, an int or a numpy RandomState.")
        gen = make_generator(self.random_state)

        net, frozen = _unfreeze(self.estimator)
        if self.prefit or frozen:  # a FrozenEstimator holds a fitted net: prefit
            resolve_module(net)  # raises NotFittedError if uninitialized
        else:
            # seeded as the pruners and PruningLimitEstimator seed it: the same random_state
            # trains the same net, so it gives the same spectrum
            seed = None if self.random_state is None else int(gen.initial_seed())
            with _torch_seeded(seed):
                net = clone(self.estimator).fit(X, y)
        # keep the global RNG as it was: skorch's DataLoaders draw a seed from it every pass
        with _rng_shielded():
            loss_fn = skorch_data_loss(net)
            module = resolve_module(net)

            X = _dense(X)  # the operator takes X as one dense tensor
            if isinstance(X, torch.utils.data.Dataset):  # skorch's or torch's: its samples
                X, y = _gather(net, X, y, type(self).__name__)
            idx = self._subsample(len(X), gen)
            if idx is not None:
                X, y = _take_rows(X, idx), _take_rows(y, idx)

            op = HessianOperator(
                module, loss_fn, X, y, params=self.params, batch_size=self.batch_size
            )
            spectrum = slq_spectrum(
                op,
                self.n_probes,
                self.n_lanczos_steps,
                random_state=gen,
                deflate_zero_rows=self.deflate_zero_rows,
                verbose=self.verbose,
            )
            self.estimator_ = net
            self.spectrum_ = spectrum
            self.trace_ = spectrum.trace()
            self.top_eigenvalues_ = (
                top_eigenvalues(op, n_top, random_state=gen) if n_top else np.empty(0)
            )
            self.zero_row_fraction_ = spectrum.zero_row_fraction
            self.n_params_ = op.n_params
            self.param_names_ = list(op.param_names)
            self.n_samples_ = op.n_samples
        _record_n_features(self, X_in)
        return self

    def density(self, grid=None, sigma=None, *, include_zero_rows=True):
        """Smoothed spectral density ``(grid, values)`` of the fitted spectrum.

        ``grid`` defaults to 512 points spanning the Ritz values with a margin, ``sigma`` to
        1% of that span. Zero rows are included as mass ``p0`` at 0 by default.
        """
        check_is_fitted(self, "spectrum_")
        sd = self.spectrum_
        if grid is None:
            lo, hi = float(min(sd.nodes.min(), 0.0)), float(max(sd.nodes.max(), 0.0))
            span = max(hi - lo, 1e-12)
            grid = np.linspace(lo - 0.05 * span, hi + 0.05 * span, 512)
            sigma = 0.01 * span if sigma is None else sigma
        elif sigma is None:
            grid = np.asarray(grid, dtype=np.float64)
            sigma = 0.01 * max(float(np.ptp(grid)), 1e-12)
        grid = np.asarray(grid, dtype=np.float64)
        return grid, sd.density(grid, sigma, include_zero_rows=include_zero_rows)

    def plot(self, ax=None, **kwargs):
        """Plot the density; see :class:`HessianSpectrumDisplay`."""
        from ._display import HessianSpectrumDisplay

        return HessianSpectrumDisplay.from_estimator(self, ax=ax, **kwargs)
