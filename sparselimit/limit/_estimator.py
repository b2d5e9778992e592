"""PruningLimitEstimator: predict the largest fraction of weights a trained net can lose."""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..curvature import HessianOperator
from ..spectral import skorch_data_loss, slq_spectrum
from ..spectral._estimator import _gather
from ..training._default import _check_default_regressor, _default_estimator
from ..utils import (
    check_weights_finite,
    check_X_y,
    make_generator,
    net_selection,
    resolve_module,
    select_prunable,
)
from ..utils._validation import (
    _inner_sparse_tag,
    _record_n_features,
    _require_y,
    _rng_shielded,
    _torch_seeded,
    _unfreeze,
    check_class_codes,
    check_skorch_estimator,
)
from ._auto import AUTO_MAX_STEPS, _AutoStop
from ._epsilon import EPSILON_RULES, data_loss, epsilon_by_rule
from ._exact import dense_hessian, exact_spectrum
from ._radius import RadiusCurve
from ._solve import akf_slack, solve_pruning_limit
from ._warnings import LimitRegimeWarning
from ._width import GaussianWidth

__all__ = ["PruningLimitEstimator"]


#: regime checks (see ``diagnostics_``)
EPSILON_OVER_LOSS_MIN = 1e-3
NEGATIVE_MASS_MAX = 0.1
EXACT_MAX_PARAMS = 10_000


def _is_skorch(obj) -> bool:
    return hasattr(obj, "module") and hasattr(obj, "get_loss") and hasattr(obj, "initialize")


@contextlib.contextmanager
def _float64_criterion(net):
    """The criterion of ``net`` (the estimator's own copy) in float64 for the duration: the
    exact Hessian feeds float64 outputs, which a float32 tensor the criterion holds (class
    weights, ``pos_weight``) would refuse."""
    original = net.criterion_
    if isinstance(original, torch.nn.Module):
        net.criterion_ = copy.deepcopy(original).to(torch.float64)
    try:
        yield
    finally:
        net.criterion_ = original


class PruningLimitEstimator(BaseEstimator):
    """Predict how far a trained network can be pruned (the fundamental limit of pruning).

    Following Zhang et al. (NeurIPS 2024), pruning the L1-trained weights ``w*`` to a fraction
    ``rho`` removed is feasible without losing performance when the coordinate subspace of the
    kept weights meets the loss sublevel set ``{w : L(w) <= L(w*) + epsilon}``. With the
    Hessian spectrum ``lambda_i`` and the distance ``R(rho)`` from ``w*`` to its magnitude-
    pruned copy, that happens while ``rho <= G(R(rho))``, where
    ``G(R) = (1/D) sum_i 1 / (1 + R^2 |lambda_i| / (2 epsilon))``. The predicted limit is the
    unique solution of ``rho = G(R(rho))``, found by bisection.

    ``fit`` trains the net (or takes a fitted one with ``prefit=True``), computes ``epsilon``,
    the radius curve ``R(rho)`` (one sort of ``|w*|`` and a cumulative sum), the Hessian
    spectrum (stochastic Lanczos quadrature, or a dense eigendecomposition with
    ``spectrum="exact"``), evaluates ``G`` directly on the quadrature and solves.

    Parameters
    ----------
    estimator : skorch net, default=None
        The network, typically a :class:`~sparselimit.L1RegularizedClassifier` or
        :class:`~sparselimit.L1RegularizedRegressor`. ``None`` uses a one-hidden-layer
        ReLU MLP (32 units) trained 60 epochs with SGD (lr 0.05, momentum 0.9, batch 64) and
        ``l1_alpha=1e-4``: an ``L1RegularizedClassifier`` with cross-entropy, or an
        ``L1RegularizedRegressor`` with MSE when ``y`` is floating-point (or continuous). It
        needs 2-D numeric ``X``; class labels are encoded to ``0..n_classes-1`` (``classes_``
        holds the labels, in code order) and regression targets should be of unit scale.
    prefit : bool, default=False
        Whether ``estimator`` is already fitted. If True it is deep-copied into
        ``estimator_`` (the net passed in is never modified); otherwise a clone is fitted
        on ``(X, y)``. A fitted net wrapped in ``sklearn.frozen.FrozenEstimator`` (which
        keeps it fitted through ``clone``) is taken as with ``prefit=True``.
    n_probes : int, default=1
        Random probes of stochastic Lanczos quadrature (the paper uses 1). More probes
        narrow the spread in ``pruning_limit_interval_``. Ignored with ``spectrum="exact"``.
    n_lanczos_steps : int or "auto", default=128
        Lanczos steps per probe (the paper: 128). Full reorthogonalisation keeps
        ``n_probes * n_lanczos_steps * D`` numbers (the weights' precision); a basis larger than
        the free memory raises ``MemoryError`` before any Hessian product. ``"auto"`` stops
        once Laurie's error estimate of the predicted limit, half the gap between the limits
        of the Gauss rule ``G_{m-1}`` and the anti-Gauss rule ``A_m``, has stayed below
        ``auto_tol`` for 6 consecutive steps (at least 16, at most 128 steps); the steps used
        are in ``n_lanczos_steps_``.
    quadrature : {"averaged", "gauss"}, default="averaged"
        Quadrature rule of each probe's tridiagonal ``T_m`` on which ``G`` is evaluated (both
        for a fixed ``n_lanczos_steps`` and for ``"auto"``). ``"gauss"``: the ``m`` Ritz
        values and weights (the paper's rule). ``"averaged"``: Laurie's averaged
        Gauss/anti-Gauss rule ``(G_{m-1} + A_m) / 2`` from the same ``T_m`` (``2m - 1``
        nodes, exact for polynomials of the same degree ``2m - 1``). ``G`` has a kink at 0,
        where the Gauss rule's limit oscillates by up to a few 0.01 between steps; the
        anti-Gauss error has the opposite sign, and the average was 2-3x closer to the
        converged value on the validation nets (max error 0.004 against 0.011 for Gauss at
        128 steps). Ignored with ``spectrum="exact"``.
    epsilon : {"batch_std", "random_batch_std"} or float, default="batch_std"
        Loss tolerance. ``"batch_std"`` (the paper's): the standard deviation over
        consecutive, unshuffled mini-batches of ``epsilon_batch_size`` training samples of the
        batch-mean data loss at ``w*`` (full batches only, ``ddof=0``; see
        :func:`batch_loss_std`). With fewer than two full batches, where that is undefined, it
        falls back to ``"random_batch_std"`` (``epsilon_rule_`` says which was used).
        ``"random_batch_std"``: the standard deviation of the mean data loss of a mini-batch
        drawn at random, computed exactly from the per-sample losses as
        ``std(l) / sqrt(epsilon_batch_size)`` (:func:`random_batch_loss_std`): what
        ``"batch_std"`` estimates, without its dependence on the data's order (class-sorted
        data inflate it) and its scatter (about ``1 / sqrt(2 n / epsilon_batch_size)``, 24% on
        digits). A float is used as is.
    epsilon_batch_size : int, default=128
        Batch size of the two rules (``"random_batch_std"`` takes any positive int, even one
        above the number of samples).
    negative_eigenvalues : {"abs", "flat"}, default="abs"
        ``"abs"`` uses ``|lambda|`` (the paper's choice); ``"flat"`` counts eigenvalues
        ``<= 0`` as zero curvature.
    deflate_zero_rows : bool, default=True
        Find the coordinates whose Hessian row is zero (dead units after L1 training), leave
        them out of the quadrature and add them back exactly: ``G = (1 - p0) G_quad + p0``.
        "Zero" is relative (1e-6 of the largest entry for ``spectrum="exact"``, of the largest
        product for ``"slq"``); a row that small but not zero, counted as flat, changes the
        limit only at extreme scales (``R^2 * 1e-6 * max|lambda| / (2 epsilon)`` not small).
    spectrum : {"slq", "exact"}, default="slq"
        ``"slq"``: stochastic Lanczos quadrature on Hessian-vector products.
        ``"exact"``: the dense float64 Hessian over all prunable weights, eigendecomposed
        (weights ``1/D`` on the ``D`` eigenvalues, one "probe"). For networks with up to
        10,000 prunable weights.
    max_samples : int, float in (0, 1] or None, default=None
        Samples used for the Hessian: all (None), this many, or this fraction, drawn at
        random (``random_state``) and kept in their original order. ``epsilon`` always uses
        all of ``(X, y)``. Subsampling makes the fit cheaper but *raises* the prediction: a
        Hessian of fewer samples has more flat directions. On a 20,000-sample,
        4-class task (64-unit MLP), 2,048 samples predicted 0.73 against 0.69 from all of them
        at ``l1_alpha=1e-4`` (0.85 against 0.85 at 1e-3).
    batch_size : int or 'auto', default='auto'
        Samples per forward/backward pass in Hessian-vector products (time and memory only).
        ``'auto'`` sizes batches from the measured graph memory
        (:class:`~sparselimit.curvature.HessianOperator`).
    include, exclude : str or list of str, default=None
        Which parameters are prunable (:func:`~sparselimit.utils.select_prunable`). When both
        are None, the net's own ``prunable_include`` / ``prunable_exclude`` are used.
    eta : float, default=0.05
        Confidence of the Approximate Kinematic Formula slack ``sqrt(8 log(4/eta)) / sqrt(D)``
        in ``pruning_limit_interval_``.
    auto_tol : float, default=5e-3
        Convergence tolerance of ``n_lanczos_steps="auto"``: the error estimate of the
        predicted limit (see ``n_lanczos_steps``) must stay below ``auto_tol``.
    random_state : int, RandomState, torch.Generator or None, default=None
        Seeds the Lanczos probes, the ``max_samples`` draw and (if an int) the training of a
        not-``prefit`` net (inside ``torch.random.fork_rng``, so the global RNG is restored).
    verbose : int, default=0
        0 silences progress output; 1 prints the stages and their timings.

    Attributes
    ----------
    estimator_ : skorch net
        The fitted net (a deep copy with ``prefit``).
    classes_ : ndarray or None
        With ``estimator=None`` and class labels: the labels, in the order of the codes
        ``estimator_`` was trained on and predicts (``measure_pruning_curve`` encodes ``y``
        with them); otherwise None.
    pruning_limit_ : float
        Predicted largest fraction of prunable weights that can be removed, in
        ``[0, 1 - 1/D]``; the scale of ``GlobalOneShotPruner(sparsity=...)``.
    keep_ratio_ : float
        ``1 - pruning_limit_``.
    pruning_limit_interval_ : tuple of float
        ``(low, high)``: the smallest per-probe solution of ``rho = G_p(R(rho)) - a/sqrt(D)``
        and the largest of ``rho = G_p(R(rho)) + a/sqrt(D)`` (``a`` the AKF constant, ``G_p``
        the quadrature of probe ``p``), clipped to ``[0, 1)``. It holds the AKF slack and the
        probe-to-probe spread.
    probe_limits_ : ndarray of shape (n_probes,)
        The limit solved with each probe's quadrature alone.
    epsilon_rule_ : str
        How ``epsilon_`` was obtained: ``"batch_std"``, ``"random_batch_std"`` (asked for, or
        the fallback of ``"batch_std"`` on fewer than two full batches) or ``"float"``.
    epsilon_ : float
        The loss tolerance used.
    loss_ : float
        The mean data loss at ``w*`` on ``(X, y)`` (no L1 penalty).
    spectrum_ : sparselimit.spectral.SpectralDensity
        The quadrature ``G`` is evaluated on (``nodes``, ``weights``, ``zero_row_fraction``,
        ``n_steps``, ``rule``; ``2m - 1`` nodes per probe with ``quadrature="averaged"``, and
        the Lanczos coefficients: ``spectrum_.with_rule("gauss")`` gives the Ritz values);
        with ``spectrum="exact"`` one row holding all eigenvalues with equal weights.
    radius_curve_ : tuple of ndarray
        ``(rho, R(rho))`` on 201 points of [0, 1].
    width_curve_ : tuple of ndarray
        ``(R, G(R))`` on radii covering ``[0, R(1)]``.
    sharpness_ : float
        ``tr(H) / D``, from the quadrature's first moment with zero rows counted.
    jensen_limit_ : float
        Solution of ``rho = 1 / (1 + R(rho)^2 tr|H| / (2 epsilon D))``; a lower bound of
        ``pruning_limit_`` from Jensen's inequality.
    zero_row_fraction_ : float
        Fraction ``p0`` of prunable weights whose Hessian row is zero (0 when not deflated).
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit`` (when ``X`` is 2-D).
    n_params_ : int
        ``D``, the number of prunable weights.
    n_lanczos_steps_ : int
        Lanczos steps used (the number of eigenvalues with ``spectrum="exact"``).
    diagnostics_ : dict
        JSON-able report of the regime checks: ``l1_alpha``, ``epsilon_over_loss``,
        ``negative_mass`` (share of ``sum tau |theta|`` on negative nodes),
        ``zero_weight_fraction``, ``akf_slack``, ``limit_by_step`` (with
        ``n_lanczos_steps="auto"``: the limit after each Lanczos step, with the rule of
        ``quadrature``, NaN at the steps the stopping rule did not need to evaluate; with a
        fixed number of steps: only the last), ``lanczos_error``
        (Laurie's error estimate of the limit at the last step,
        ``|rho(G_{m-1}) - rho(A_m)| / 2``, probes averaged), ``lanczos_error_by_step``,
        ``warnings`` (the messages also raised as :class:`LimitRegimeWarning`) and
        ``in_regime``.
    timings_ : dict
        Seconds spent in ``train``, ``epsilon``, ``radius``, ``spectrum``, ``solve`` and
        ``total`` (all but training).

    See Also
    --------
    sparselimit.pruning.GlobalOneShotPruner : ``sparsity="auto"`` prunes to this limit.
    measure_pruning_curve : the measured limit this prediction is judged against.

    Notes
    -----
    The theory holds for L1-trained networks near a minimum. The estimator warns with a
    :class:`LimitRegimeWarning` (and lists the warning in ``diagnostics_``) when the net has
    no L1 penalty (``l1_alpha`` missing or 0), when ``epsilon / loss < 1e-3``, when more than
    10% of the quadrature's curvature mass ``sum tau |theta|`` sits on negative eigenvalues,
    when the criterion is ``L1Loss`` (piecewise linear in the outputs: no quadratic model of
    the loss, and a Hessian with a large negative part however long the net trains), or when
    the limit is pinned at 0 or at ``1 - 1/D``.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from sparselimit import L1RegularizedClassifier
    >>> from sparselimit.limit import PruningLimitEstimator
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(256, 6).astype(np.float32); y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    >>> net = L1RegularizedClassifier(
    ...     nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2)),
    ...     criterion=nn.CrossEntropyLoss, l1_alpha=1e-3, lr=0.1, max_epochs=20,
    ...     train_split=None, verbose=0)
    >>> est = PruningLimitEstimator(net, spectrum="exact", epsilon_batch_size=64,
    ...                             random_state=0).fit(X, y)
    >>> 0.0 <= est.pruning_limit_ < 1.0
    True
    >>> est.predict_ratio(epsilon=10 * est.epsilon_) >= est.pruning_limit_
    True
    """

    _parameter_constraints: dict = {
        "estimator": "no_validation",  # checked in fit, with a message naming skorch
        "prefit": ["boolean"],
        "n_probes": [Interval(Integral, 1, None, closed="left")],
        "n_lanczos_steps": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "quadrature": [StrOptions({"averaged", "gauss"})],
        "epsilon": [Interval(Real, 0, None, closed="neither"), StrOptions(set(EPSILON_RULES))],
        "epsilon_batch_size": [Interval(Integral, 1, None, closed="left")],
        "negative_eigenvalues": [StrOptions({"abs", "flat"})],
        "deflate_zero_rows": ["boolean"],
        "spectrum": [StrOptions({"slq", "exact"})],
        "max_samples": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
            None,
        ],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "include": [str, list, tuple, None],
        "exclude": [str, list, tuple, None],
        "eta": [Interval(Real, 0, 1, closed="neither")],
        "auto_tol": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state", torch.Generator],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        prefit=False,
        n_probes=1,
        n_lanczos_steps=128,
        quadrature="averaged",
        epsilon="batch_std",
        epsilon_batch_size=128,
        negative_eigenvalues="abs",
        deflate_zero_rows=True,
        spectrum="slq",
        max_samples=None,
        batch_size="auto",
        include=None,
        exclude=None,
        eta=0.05,
        auto_tol=5e-3,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.prefit = prefit
        self.n_probes = n_probes
        self.n_lanczos_steps = n_lanczos_steps
        self.quadrature = quadrature
        self.epsilon = epsilon
        self.epsilon_batch_size = epsilon_batch_size
        self.negative_eigenvalues = negative_eigenvalues
        self.deflate_zero_rows = deflate_zero_rows
        self.spectrum = spectrum
        self.max_samples = max_samples
        self.batch_size = batch_size
        self.include = include
        self.exclude = exclude
        self.eta = eta
        self.auto_tol = auto_tol
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.non_deterministic = True
        if self.estimator is None:
            tags.input_tags.sparse = True  # the default net densifies scipy.sparse X
        else:  # the net is trained on X as it is
            tags.input_tags.sparse = _inner_sparse_tag(self.estimator)
        return tags

    # ------------------------------------------------------------------ fitting
    def _log(self, msg):
        if self.verbose:
            print(f"[PruningLimitEstimator] {msg}", flush=True)

    def _fit_net(self, X, y, gen):
        """Return (fitted net, X, y) following ``estimator`` / ``prefit``."""
        self.classes_ = None
        if self.estimator is None:
            if self.prefit:
                raise ValueError("`prefit=True` needs an `estimator` (the fitted skorch net).")
            net, X, y, self.classes_ = _default_estimator(X, y, self.random_state)
        else:
            estimator, frozen = _unfreeze(self.estimator)
            if not _is_skorch(estimator):
                raise TypeError(
                    "`estimator` must be a skorch net (e.g. sparselimit.L1RegularizedClassifier)"
                    f"; got {type(estimator).__name__}. Wrap a torch.nn.Module in a skorch "
                    "net first."
                )
            _require_y(
                X,
                y,
                "PruningLimitEstimator",
                "epsilon and the Hessian are taken on the data loss of (X, y)",
            )
            check_class_codes(estimator, y)  # the Hessian and epsilon need codes too
            if self.prefit or frozen:  # a FrozenEstimator holds a fitted net: prefit
                try:
                    resolve_module(estimator)
                except NotFittedError as exc:
                    raise NotFittedError(
                        f"prefit=True but the {type(estimator).__name__} passed as `estimator` "
                        "is not fitted. Fit it first (`estimator.fit(X, y)`), or use "
                        "prefit=False to let PruningLimitEstimator fit a clone of it. If it was "
                        "fitted, a clone lost its weights (GridSearchCV, cross_val_score and "
                        "clone do that): pass sklearn.frozen.FrozenEstimator(net), which keeps "
                        "them."
                    ) from exc
                return copy.deepcopy(estimator), X, y
            net = clone(estimator)
        # only an int seeds training; a Generator or RandomState is the SLQ probes' alone
        seed = self.random_state if isinstance(self.random_state, (Integral, np.integer)) else None
        with _torch_seeded(seed):
            net.fit(X, y)
        if self.estimator is None and is_regressor(net):
            _check_default_regressor(net, y)
        return net, X, y

    def _selection(self, net):
        return net_selection(net, self.include, self.exclude)

    def _hessian_data(self, net, X, y, gen):
        Xt, yt = _gather(net, X, y, type(self).__name__)
        n = len(Xt)
        if self.max_samples is not None:
            m = (
                int(self.max_samples)
                if isinstance(self.max_samples, Integral)
                else max(1, math.ceil(self.max_samples * n))
            )
            if m < n:
                idx = torch.randperm(n, generator=gen)[:m].sort().values
                Xt = Xt[idx]
                yt = yt[idx] if yt is not None else None
        return Xt, yt

    def fit(self, X, y=None):
        """Fit (or take) the net, compute epsilon, R(rho), the spectrum, and solve the limit.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or Dataset
            Training data (the data ``w*`` was trained on: ``epsilon`` and the Hessian are
            taken on it); with a skorch net as ``estimator`` also a ``Dataset`` yielding
            ``(X, y)`` tensors, with ``y=None``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets. Required unless ``X`` is a ``Dataset``.

        Returns
        -------
        self : PruningLimitEstimator
        """
        check_skorch_estimator(self.estimator, type(self).__name__)
        self._validate_params()
        check_X_y(X, y)
        gen = make_generator(self.random_state)
        timings = {}

        _record_n_features(self, X)
        t = time.perf_counter()
        net, X, y = self._fit_net(X, y, gen)
        timings["train"] = 0.0 if self.prefit else time.perf_counter() - t
        # skorch's DataLoaders draw a seed from the global RNG on every pass, even unshuffled;
        # the user's global RNG stays where it was (training above is the user's to seed)
        with _rng_shielded():
            self._fit_limit(net, X, y, gen, timings)
        return self

    def _fit_limit(self, net, X, y, gen, timings):
        """Everything after training: epsilon, R(rho), the spectrum, the limit."""
        t_total = time.perf_counter()

        module = resolve_module(net)
        include, exclude = self._selection(net)
        prunable = select_prunable(module, include, exclude)
        check_weights_finite(prunable, where=f"the fitted {type(net).__name__}")
        names = list(prunable)
        D = int(sum(p.numel() for p in prunable.values()))
        if self.spectrum == "exact" and D > EXACT_MAX_PARAMS:
            raise ValueError(
                f'spectrum="exact" builds a dense {D}x{D} Hessian; it is meant for networks '
                f"with at most {EXACT_MAX_PARAMS} prunable weights. Use spectrum='slq' (the "
                "default) for this network."
            )

        # epsilon and the loss at w*
        t = time.perf_counter()
        if isinstance(self.epsilon, str):
            eps, loss, rule = epsilon_by_rule(net, X, y, self.epsilon, self.epsilon_batch_size)
            if not eps > 0:
                raise ValueError(
                    f"epsilon={self.epsilon!r} is 0: every batch has the same loss (a perfectly "
                    "fitted net, a single class, or constant data). Check y, or pass "
                    "`epsilon` as a positive float."
                )
        else:
            eps, rule = float(self.epsilon), "float"
            loss = data_loss(net, X, y)
        self.epsilon_rule_ = rule
        timings["epsilon"] = time.perf_counter() - t
        self._log(f"epsilon={eps:.4g} (loss {loss:.4g})")

        # radius curve: one sort of |w*|
        t = time.perf_counter()
        radius = RadiusCurve([p.detach() for p in prunable.values()])
        timings["radius"] = time.perf_counter() - t

        # spectrum
        t = time.perf_counter()
        Xh, yh = self._hessian_data(net, X, y, gen)

        loss_fn = skorch_data_loss(net)

        self._limit_by_step = []
        self._error_by_step = []
        if self.spectrum == "exact":
            with _float64_criterion(net):
                op = HessianOperator(
                    module,
                    loss_fn,
                    Xh,
                    yh,
                    params=names,
                    batch_size=self.batch_size,
                    dtype=torch.float64,
                )
                H = dense_hessian(op)
            spec = exact_spectrum(H, deflate_zero_rows=self.deflate_zero_rows)
        else:
            spec = self._slq(module, loss_fn, Xh, yh, names, radius, eps, gen)
        timings["spectrum"] = time.perf_counter() - t
        if self.spectrum == "exact":  # no Lanczos: D products, one eigendecomposition
            self._log(
                f"spectrum: exact, {D}x{D} Hessian ({spec.n_zero_rows} zero rows deflated, "
                f"{int(np.max(spec.n_steps))} eigenvalues) in {timings['spectrum']:.2f}s"
            )
        else:
            self._log(f"spectrum: {int(np.max(spec.n_steps))} steps in {timings['spectrum']:.2f}s")

        # solve
        t = time.perf_counter()
        width = GaussianWidth(
            spec.nodes, spec.weights, spec.zero_row_fraction, self.negative_eigenvalues
        )
        limit = solve_pruning_limit(radius, width, eps)
        probe_limits = np.atleast_1d(solve_pruning_limit(radius, width, eps, per_probe=True))
        slack = akf_slack(D, self.eta)
        lo = np.min(solve_pruning_limit(radius, width, eps, offset=-slack, per_probe=True))
        hi = np.max(solve_pruning_limit(radius, width, eps, offset=slack, per_probe=True))
        jensen = _solve_jensen(radius, width, eps)
        timings["solve"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t_total

        self.estimator_ = net
        self.n_params_ = D
        self.param_names_ = names
        self.epsilon_ = eps
        self.loss_ = loss
        self.spectrum_ = spec
        self.zero_row_fraction_ = float(spec.zero_row_fraction)
        self.n_lanczos_steps_ = int(np.max(spec.n_steps))
        self.pruning_limit_ = float(limit)
        self.keep_ratio_ = 1.0 - self.pruning_limit_
        self.pruning_limit_interval_ = (float(min(lo, limit)), float(max(hi, limit)))
        self.probe_limits_ = probe_limits
        self.sharpness_ = float(_mean_trace(spec))
        self.jensen_limit_ = float(jensen)
        self.radius_curve_ = radius.grid(201)
        r_grid = np.unique(
            np.concatenate([self.radius_curve_[1], np.linspace(0.0, radius(1.0), 101)])
        )
        self.width_curve_ = (r_grid, width(r_grid, eps))
        self._radius = radius
        self._width = width
        self.timings_ = timings
        self.diagnostics_ = self._diagnose(net, spec, width, radius, eps, loss, slack)
        self._log(
            f"pruning limit {self.pruning_limit_:.4f} "
            f"[{self.pruning_limit_interval_[0]:.4f}, {self.pruning_limit_interval_[1]:.4f}]"
        )

    def _slq(self, module, loss_fn, Xh, yh, names, radius, eps, gen):
        op = HessianOperator(module, loss_fn, Xh, yh, params=names, batch_size=self.batch_size)
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
        auto = self.n_lanczos_steps == "auto"
        steps = AUTO_MAX_STEPS if auto else int(self.n_lanczos_steps)
        # "auto" evaluates the limit and its error estimate during the run to decide when to
        # stop; a fixed number of steps evaluates once, at the end
        tracker = _AutoStop(radius, eps, self.negative_eigenvalues, self.auto_tol, self.quadrature)
        spec = slq_spectrum(
            op,
            self.n_probes,
            steps,
            random_state=seed,
            deflate_zero_rows=self.deflate_zero_rows,
            stop_when=tracker if auto else None,
            rule=self.quadrature,
            verbose=self.verbose,
        )
        if spec.alphas is None:  # every Hessian row was zero: no Lanczos ran, G = 1
            self._limit_by_step, self._error_by_step = [], []
        elif auto:
            if math.isnan(tracker.history[-1]):  # ran to the end between evaluations
                tracker.record(spec, int(np.max(spec.n_steps)))
            self._limit_by_step = list(tracker.history)
            self._error_by_step = list(tracker.errors)
        else:  # the final step's limit and error estimate, for ``diagnostics_``
            rho, err = tracker.evaluate(spec)
            self._limit_by_step, self._error_by_step = [rho], [err]
        return spec

    def _diagnose(self, net, spec, width, radius, eps, loss, slack):
        messages = []
        l1 = getattr(net, "l1_alpha", None)
        if not l1:
            found = "it has no l1_alpha" if l1 is None else f"l1_alpha is {l1!r}"
            messages.append(
                f"The network was not trained with an L1 penalty ({found}); the pruning limit "
                "theory is stated for L1-trained networks, whose small weights lie along flat "
                "directions. Train with sparselimit.L1RegularizedClassifier(l1_alpha=1e-4 ...) "
                "for a trustworthy prediction."
            )
        ratio = eps / loss if loss > 0 else math.inf
        if ratio < EPSILON_OVER_LOSS_MIN:
            messages.append(
                f"epsilon={eps:.3g} is tiny relative to the loss {loss:.3g} (ratio {ratio:.2g} "
                f"< {EPSILON_OVER_LOSS_MIN:g}); the predicted limit is then governed by a loss "
                "rise no-one would notice. Pass a larger `epsilon` or use predict_ratio("
                "epsilon=...)."
            )
        nodes = np.asarray(spec.nodes, dtype=np.float64)
        tau = np.asarray(spec.weights, dtype=np.float64)
        abs_mass = float((tau * np.abs(nodes)).sum(axis=1).mean())
        neg_mass = float((tau * np.abs(np.minimum(nodes, 0.0))).sum(axis=1).mean())
        neg_share = neg_mass / abs_mass if abs_mass > 0 else 0.0
        if isinstance(getattr(net, "criterion_", None), torch.nn.L1Loss):
            # training longer does not help: measured on diabetes, 38% of the mass stayed
            # negative after 300 cosine-annealed epochs (MSELoss: 0.2%)
            messages.append(
                "The criterion is L1Loss, which is piecewise linear in the network's outputs: "
                "its Hessian has no positive part from the loss itself, only the network's own "
                "curvature weighted by the signs of the residuals (here "
                f"{neg_share:.0%} of the curvature mass is negative), and the loss is not "
                "quadratic near w*, so the theory's ellipsoid model does not describe it. Use "
                "MSELoss or HuberLoss (smooth near 0) for a meaningful prediction."
            )
        elif neg_share > NEGATIVE_MASS_MAX:
            messages.append(
                f"{neg_share:.0%} of the Hessian's curvature mass is on negative eigenvalues "
                f"(more than {NEGATIVE_MASS_MAX:.0%}): the weights are not near a minimum, "
                "where the theory's ellipsoid model holds. Train longer (or with a smaller "
                "learning rate at the end), or compare negative_eigenvalues='flat'."
            )
        upper = 1.0 - 1.0 / max(self.n_params_, 2)
        if self.pruning_limit_ <= 0.0:
            messages.append(
                "The predicted limit is 0: no pruning is predicted to be safe at this epsilon."
            )
        elif self.pruning_limit_ >= upper and radius(upper) == 0.0:
            # R = 0 there, so G = 1 whatever the Hessian: blaming the curvature would mislead
            messages.append(
                f"The predicted limit is pinned at 1 - 1/D: {radius.zero_fraction:.1%} of the "
                "prunable weights are already exactly zero, so removing all but one of them "
                "moves the weights by R = 0 and the prediction carries no information."
            )
        elif self.pruning_limit_ >= upper:
            messages.append(
                "The predicted limit is pinned at 1 - 1/D: the Hessian is (nearly) zero along "
                "the pruned weights at this epsilon, so the prediction carries no information."
            )
        for msg in messages:  # attributed to the caller of fit (fit -> _fit_limit -> here)
            warnings.warn(msg, LimitRegimeWarning, stacklevel=4)
        return {
            "l1_alpha": None if l1 is None else float(l1),
            "loss": float(loss),
            "epsilon": float(eps),
            "epsilon_rule": self.epsilon_rule_,
            "epsilon_over_loss": float(ratio) if math.isfinite(ratio) else None,
            "negative_mass": neg_share,
            "negative_node_weight": float((tau * (nodes < 0)).sum(axis=1).mean()),
            "zero_row_fraction": float(spec.zero_row_fraction),
            "zero_weight_fraction": float(radius.zero_fraction),
            "mean_abs_curvature": width.mean_curvature()
            if self.negative_eigenvalues == "abs"
            else float((1 - spec.zero_row_fraction) * (tau * np.abs(nodes)).sum(axis=1).mean()),
            "akf_slack": float(slack),
            "limit_by_step": [float(v) for v in getattr(self, "_limit_by_step", [])],
            "lanczos_error": float(self._error_by_step[-1])
            if getattr(self, "_error_by_step", None)
            else None,
            "lanczos_error_by_step": [float(v) for v in getattr(self, "_error_by_step", [])],
            "probe_limits": [float(v) for v in self.probe_limits_],
            "jensen_limit": float(self.jensen_limit_),
            "n_params": int(self.n_params_),
            "n_lanczos_steps": int(np.max(spec.n_steps)),
            "spectrum": self.spectrum,
            "warnings": messages,
            "in_regime": not messages,
        }

    # ------------------------------------------------------------------ prediction
    def predict_ratio(self, epsilon=None):
        """The predicted pruning limit, optionally re-solved for another ``epsilon``.

        Re-solving reuses the cached spectrum and radius curve: no Hessian work.

        Parameters
        ----------
        epsilon : float, default=None
            Loss tolerance; ``None`` returns ``pruning_limit_``.

        Returns
        -------
        limit : float
            Fraction of prunable weights that can be removed, in ``[0, 1)``.
        """
        check_is_fitted(self, "pruning_limit_")
        if epsilon is None:
            return self.pruning_limit_
        if (
            isinstance(epsilon, bool)
            or not isinstance(epsilon, Real)
            or not (math.isfinite(epsilon) and epsilon > 0)
        ):
            raise ValueError(f"`epsilon` must be a positive finite float; got {epsilon!r}.")
        return solve_pruning_limit(self._radius, self._width, float(epsilon))

    def width(self, R, epsilon=None):
        """G(R) of the fitted spectrum (at ``epsilon_`` unless given)."""
        check_is_fitted(self, "pruning_limit_")
        return self._width(R, self.epsilon_ if epsilon is None else epsilon)

    def radius(self, rho):
        """R(rho) of the fitted weights."""
        check_is_fitted(self, "pruning_limit_")
        return self._radius(rho)


def _mean_trace(spec) -> float:
    """tr(H)/D from the quadrature's first moment, zero rows counted as 0."""
    nodes = np.asarray(spec.nodes, dtype=np.float64)
    tau = np.asarray(spec.weights, dtype=np.float64)
    return float((1.0 - spec.zero_row_fraction) * (tau * nodes).sum(axis=1).mean())


def _solve_jensen(radius, width, eps) -> float:
    """Solve rho = 1 / (1 + R(rho)^2 c / (2 eps)) with c = tr|H|/D (zero rows counted as 0):
    a one-node quadrature at the mean curvature."""
    jensen = GaussianWidth(np.array([width.mean_curvature()]), np.ones(1))
    return solve_pruning_limit(radius, jensen, eps)
