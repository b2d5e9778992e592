"""GlobalOneShotPruner: fit (or take) a skorch net, prune it in one shot, optionally fine-tune."""

from __future__ import annotations

import copy
from numbers import Integral, Real

import torch
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..training import MaskEnforcer
from ..utils import (
    PrunedNetMixin,
    check_weights_finite,
    check_X_y,
    net_selection,
    resolve_module,
    select_prunable,
)
from ._global import _check_importance, _resolve_importance, prune_global
from ._masks import _mask_sparsity

__all__ = ["GlobalOneShotPruner"]

#: Name of the callback the pruner appends to the pruned net's ``callbacks``.
ENFORCER_NAME = "pruning_mask_enforcer"


def _check_net_fitted(est) -> None:
    name = type(est).__name__
    initialized = getattr(est, "initialized_", None)
    module = getattr(est, "module_", None) if initialized is not False else None
    if initialized is None and not hasattr(est, "module"):
        raise TypeError(
            f"`estimator` must be a skorch net (e.g. sparselimit.L1RegularizedClassifier); got "
            f"{name}. Wrap a torch.nn.Module in a skorch net, or call sparselimit.pruning."
            "prune_global on the module directly."
        )
    if not initialized or module is None:
        raise NotFittedError(
            f"prefit=True but the {name} passed as `estimator` is not fitted. Fit it first "
            "(`estimator.fit(X, y)`), or use prefit=False to let GlobalOneShotPruner fit a clone "
            "of it."
        )


class GlobalOneShotPruner(PrunedNetMixin, MetaEstimatorMixin, BaseEstimator):
    """Meta-estimator: train a skorch net, prune it in one shot by global magnitude, fine-tune.

    With an :class:`~sparselimit.L1RegularizedClassifier` (or ``...Regressor``) as ``estimator``
    this is LOMP, L1 one-shot magnitude pruning: ``fit`` trains a clone of the net with the L1
    penalty, removes exactly ``round(sparsity * D)`` of its ``D`` prunable weights with the smallest
    magnitude (:func:`prune_global`), and optionally fine-tunes it for ``fine_tune_epochs`` with the
    pruned weights held at exactly zero by a :class:`~sparselimit.training.MaskEnforcer`. It is
    the network analogue of :class:`sklearn.feature_selection.SelectFromModel`.

    The user's ``estimator`` is never modified: it is cloned (``prefit=False``) or deep-copied
    (``prefit=True``) and the copy is pruned.

    Parameters
    ----------
    estimator : skorch net
        The net to train and prune, e.g. ``L1RegularizedClassifier(module, l1_alpha=1e-4, ...)``.
        Required (``None`` raises at ``fit``).
    sparsity : float in [0, 1) or "auto", default=0.9
        Fraction of the prunable weights removed. ``"auto"`` uses the predicted pruning limit
        ``PruningLimitEstimator(estimator=net, prefit=True, **limit_params).fit(X, y)
        .pruning_limit_`` of the trained net (from :mod:`sparselimit.limit`).
    prefit : bool, default=False
        If True, ``estimator`` is already fitted: a deep copy of it is pruned (``fit`` does not
        train it; ``X, y`` serve only the fine-tuning and ``"auto"``). The net passed in is left
        as it was.
    scope : {"global", "layer"}, default="global"
        One magnitude threshold over all prunable weights, or the same fraction per tensor.
    include, exclude : str or list of str, default=None
        Regular expressions selecting the prunable parameters
        (:func:`sparselimit.utils.select_prunable`). When both are None and the net has
        ``prunable_include`` / ``prunable_exclude`` (the L1 nets), those are used, so the pruned
        weights are the L1-penalised ones.
    importance : {"magnitude", "undecayed"} or callable, default="magnitude"
        What "smallest" means: ``"magnitude"`` ranks by ``|w|``; ``"undecayed"`` by the
        Undecayed Pruning score ``|-w g + lambda w^2|`` (Good et al., NeurIPS 2022; ``g`` is
        the data-loss gradient on the training data, ``lambda`` the net's
        ``optimizer__weight_decay``), which attenuates recall distortion; or a callable
        ``(name, param) -> score tensor`` (see :func:`prune_global`).
    fine_tune_epochs : int, default=0
        Epochs of ``partial_fit`` after pruning, with the masks enforced (the net's optimizer
        state carries on from training).
    limit_params : dict, default=None
        Keyword arguments for ``PruningLimitEstimator`` when ``sparsity="auto"``.

    Attributes
    ----------
    estimator_ : skorch net
        The pruned (and fine-tuned) net. A :class:`~sparselimit.training.MaskEnforcer` named
        ``"pruning_mask_enforcer"`` is appended to its callbacks, so further ``partial_fit``
        keeps the pruned weights at zero.
    masks_ : dict of str to bool tensor
        Parameter name -> mask, True where kept.
    threshold_ : float
        Largest importance removed (``-inf`` if nothing was removed).
    target_sparsity_ : float
        The sparsity asked for (the predicted limit for ``sparsity="auto"``).
    sparsity_ : float
        Achieved fraction of prunable weights removed.
    layer_sparsity_ : dict of str to float
        Parameter name -> fraction of its entries removed.
    limit_estimator_ : PruningLimitEstimator
        The fitted limit estimator (only with ``sparsity="auto"``).
    n_features_in_ : int
        Number of features of ``X`` (only when ``X`` is two-dimensional).
    classes_ : ndarray
        Class labels (classifiers only).

    See Also
    --------
    prune_global : The same pruning on a plain ``torch.nn.Module``.
    compute_masks : The masks from arbitrary scores.

    Notes
    -----
    ``transform(X)`` returns the pruned net's output as a NumPy array: skorch's
    ``predict_proba`` -- class probabilities for classifiers, the raw output for regressors -- so
    the pruner can be a non-final pipeline step. Classifier or regressor tags are taken from
    ``estimator``, so ``is_classifier``, stratified CV and default scoring in ``GridSearchCV`` work.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from sparselimit import L1RegularizedClassifier
    >>> from sparselimit.pruning import GlobalOneShotPruner
    >>> X = np.random.RandomState(0).randn(100, 8).astype(np.float32)
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    >>> net = L1RegularizedClassifier(
    ...     nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
    ...     criterion=nn.CrossEntropyLoss, l1_alpha=1e-3, max_epochs=5, lr=0.1,
    ...     train_split=None, verbose=0)
    >>> pruner = GlobalOneShotPruner(net, sparsity=0.75).fit(X, y)
    >>> pruner.sparsity_
    0.75
    >>> pruner.layer_sparsity_  # doctest: +SKIP
    {'0.weight': 0.7265625, '2.weight': 0.84375}
    >>> pruner.predict(X).shape, pruner.transform(X).shape
    ((100,), (100, 2))
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"]), None],
        "sparsity": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "prefit": ["boolean"],
        "scope": [StrOptions({"global", "layer"})],
        "include": [str, list, tuple, None],
        "exclude": [str, list, tuple, None],
        "importance": [str, callable],
        "fine_tune_epochs": [Interval(Integral, 0, None, closed="left")],
        "limit_params": [dict, None],
    }

    def __init__(
        self,
        estimator=None,
        *,
        sparsity=0.9,
        prefit=False,
        scope="global",
        include=None,
        exclude=None,
        importance="magnitude",
        fine_tune_epochs=0,
        limit_params=None,
    ):
        self.estimator = estimator
        self.sparsity = sparsity
        self.prefit = prefit
        self.scope = scope
        self.include = include
        self.exclude = exclude
        self.importance = importance
        self.fine_tune_epochs = fine_tune_epochs
        self.limit_params = limit_params

    def _selection(self, est):
        return net_selection(est, self.include, self.exclude)

    def fit(self, X, y=None, **fit_params):
        """Fit (or copy, with ``prefit``) the net, prune it, optionally fine-tune it.

        Parameters
        ----------
        X : array-like or anything the skorch net accepts
            Training data.
        y : array-like, default=None
            Targets.
        **fit_params : dict
            Passed to the net's ``fit`` (and ``partial_fit`` when fine-tuning).

        Returns
        -------
        self : GlobalOneShotPruner
        """
        self._validate_params()
        if self.estimator is None:
            raise ValueError(
                "`estimator` is required: pass the skorch net to train and prune, e.g. "
                "GlobalOneShotPruner(L1RegularizedClassifier(module, l1_alpha=1e-4), ...)."
            )
        _check_importance(self.importance)  # fail before training
        check_X_y(X, y)

        if self.prefit:
            _check_net_fitted(self.estimator)
            est = copy.deepcopy(self.estimator)
        else:
            if not hasattr(self.estimator, "module"):
                raise TypeError(
                    "`estimator` must be a skorch net (e.g. sparselimit.L1RegularizedClassifier); "
                    f"got {type(self.estimator).__name__}. For a plain torch.nn.Module use "
                    "sparselimit.pruning.prune_global."
                )
            est = clone(self.estimator)
            est.fit(X, y, **fit_params)

        module = resolve_module(est)
        include, exclude = self._selection(est)
        check_weights_finite(
            select_prunable(module, include, exclude), where=f"the fitted {type(est).__name__}"
        )

        if isinstance(self.sparsity, str):  # "auto"
            from ..limit import PruningLimitEstimator  # lazy: the limit module is heavier

            limit = PruningLimitEstimator(
                estimator=est, prefit=True, **(self.limit_params or {})
            ).fit(X, y)
            target = float(limit.pruning_limit_)
            self.limit_estimator_ = limit
        else:
            target = float(self.sparsity)

        with torch.random.fork_rng(devices=[]):  # the gradient pass's DataLoader draws a seed
            importance = _resolve_importance(self.importance, est, X, y)
        result = prune_global(
            module,
            target,
            scope=self.scope,
            include=include,
            exclude=exclude,
            importance=importance,
            copy=False,  # est is our own clone / copy
        )

        callbacks = est.callbacks if isinstance(est.callbacks, list) else []
        callbacks = [
            cb for cb in callbacks if not (isinstance(cb, tuple) and cb[0] == ENFORCER_NAME)
        ]
        est.callbacks = [*callbacks, (ENFORCER_NAME, MaskEnforcer(result.masks))]
        est.initialize_callbacks()
        if self.fine_tune_epochs:
            est.partial_fit(X, y, epochs=self.fine_tune_epochs, **fit_params)

        self.estimator_ = est
        self.masks_ = result.masks
        self.threshold_ = result.threshold
        self.target_sparsity_ = target
        self.sparsity_, self.layer_sparsity_ = _mask_sparsity(result.masks)
        shape = getattr(X, "shape", None)
        if shape is not None and len(shape) == 2:
            self.n_features_in_ = int(shape[1])
        return self
