"""GlobalOneShotPruner: fit (or take) a skorch net, prune it in one shot, optionally fine-tune."""

from __future__ import annotations

import copy
import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import ClassifierTags, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ..training import MaskEnforcer
from ..training._default import (
    _check_default_regressor,
    _default_estimator,
    _default_input,
    _host,
)
from ..utils import (
    PrunedNetMixin,
    check_weights_finite,
    check_X_y,
    make_generator,
    net_selection,
    resolve_module,
    select_prunable,
)
from ..utils._meta import _check_input, _net_has
from ..utils._validation import (
    _record_n_features,
    _require_y,
    _require_y_to_train,
    _rng_shielded,
    _torch_seeded,
    _unfreeze,
    check_class_codes,
    check_skorch_estimator,
)
from ._global import DATA_IMPORTANCES, _check_importance, _resolve_importance, prune_global
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
            "of it. If it was fitted, a clone lost its weights (GridSearchCV, cross_val_score "
            "and clone do that): pass sklearn.frozen.FrozenEstimator(net), which keeps them."
        )


class GlobalOneShotPruner(PrunedNetMixin, MetaEstimatorMixin, BaseEstimator):
    """Meta-estimator: train a skorch net, prune it in one shot by global magnitude, fine-tune.

    With an :class:`~sparselimit.L1RegularizedClassifier` (or ``...Regressor``) as ``estimator``
    this is LOMP, L1 one-shot magnitude pruning: ``fit`` trains a clone of the net with the L1
    penalty, removes exactly ``round(sparsity * D)`` (at most ``D - 1``) of its ``D`` prunable
    weights with the smallest magnitude (:func:`prune_global`), and optionally fine-tunes it for
    ``fine_tune_epochs`` with the pruned weights held at exactly zero by a
    :class:`~sparselimit.training.MaskEnforcer`. It is
    the network analogue of :class:`sklearn.feature_selection.SelectFromModel`.

    The user's ``estimator`` is never modified: it is cloned (``prefit=False``) or deep-copied
    (``prefit=True``) and the copy is pruned.

    Parameters
    ----------
    estimator : skorch net, default=None
        The net to train and prune, e.g. ``L1RegularizedClassifier(module, l1_alpha=1e-4, ...)``.
        ``None`` trains the default network of
        :class:`~sparselimit.limit.PruningLimitEstimator`: a one-hidden-layer ReLU
        :class:`~sparselimit.training.MLP` (32 units), 60 epochs of SGD (lr 0.05, momentum 0.9,
        batch 64) with ``l1_alpha=1e-4``; an ``L1RegularizedClassifier`` (cross-entropy), or an
        ``L1RegularizedRegressor`` (MSE) when ``y`` is floating-point or continuous. It needs
        2-D numeric ``X`` (cast to float32, in ``fit`` and at predict time). Class labels of
        any type are encoded as ``0..n_classes-1`` for training and decoded again by
        ``predict`` and ``score`` (see ``classes_``); regression targets should be of about
        unit scale, and features standardised (``StandardScaler``, alone or in a ``Pipeline``
        before the pruner), as for any MLP trained by SGD. ``estimator=None`` cannot be
        combined with ``prefit=True``. A fitted net wrapped in
        ``sklearn.frozen.FrozenEstimator`` is taken as with ``prefit=True``, whatever
        ``prefit`` says: the wrapper keeps it fitted through ``clone``, so the pruner can go
        into ``GridSearchCV`` or ``cross_val_score``.
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
        the data-loss gradient on the training data, ``lambda`` the weight decay the net's
        optimizer applied to the tensor, its defaults included), which attenuates recall
        distortion; or a callable ``(name, param) -> score tensor`` (see
        :func:`prune_global`).
    fine_tune_epochs : int, default=0
        Epochs of ``partial_fit`` after pruning, with the masks enforced (the net's optimizer
        state carries on from training).
    limit_params : dict, default=None
        Keyword arguments for ``PruningLimitEstimator`` when ``sparsity="auto"``. With
        ``estimator=None`` it sees the data the default net is trained on (float32 ``X``,
        encoded labels).
    random_state : int, RandomState instance or None, default=None
        Seeds the training of the net (not with ``prefit``) and the fine-tuning: they run
        with torch's global RNG seeded from it inside ``torch.random.fork_rng``, so the
        global RNG is restored. ``None`` trains with the global RNG as it is. Also the
        default ``random_state`` of the limit estimator with ``sparsity="auto"``.

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
        Class labels (classifiers only). For a given ``estimator``, those of ``estimator_``.
        With ``estimator=None``, the labels of ``y`` as given (sorted, as by
        :func:`numpy.unique`): ``predict`` returns them, the columns of ``predict_proba`` and
        ``transform`` follow their order, and ``score`` compares with them, while
        ``estimator_`` itself is trained on, and predicts, the codes ``0..n_classes-1``.

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
    With ``estimator=None`` the kind is only known once ``fit`` has seen ``y``: an unfitted
    pruner is tagged a classifier, so that ``cross_val_score`` and ``GridSearchCV`` stratify
    the folds (pass ``cv=KFold(...)`` for a floating target); a fitted one takes the tags of
    its fitted net ``estimator_``. The default regressor's ``predict`` has the shape of ``y``
    (1-D for 1-D ``y``).

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

    Without an ``estimator`` the default network is trained, and the labels stay yours:

    >>> from sklearn.datasets import load_iris
    >>> iris = load_iris()
    >>> names = iris.target_names[iris.target]
    >>> default = GlobalOneShotPruner(sparsity=0.5, random_state=0).fit(iris.data, names)
    >>> default.classes_
    array(['setosa', 'versicolor', 'virginica'], dtype='<U10')
    >>> default.predict(iris.data[:2])
    array(['setosa', 'setosa'], dtype='<U10')
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
        "random_state": ["random_state"],
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
        random_state=None,
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
        self.random_state = random_state

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
            Passed to the net's ``fit`` (and ``partial_fit`` when fine-tuning); skorch passes
            them on to the module's ``forward``. The default net (``estimator=None``) takes
            none: ``sample_weight`` raises ``TypeError``.

        Returns
        -------
        self : GlobalOneShotPruner
        """
        check_skorch_estimator(self.estimator, type(self).__name__)
        self._validate_params()
        _check_importance(self.importance)  # fail before training
        self._check_limit_params()
        check_X_y(X, y)
        self._check_y_given(X, y)
        # a refit with a float sparsity must not keep the limit estimator of an earlier "auto"
        self.__dict__.pop("limit_estimator_", None)
        seed = (
            None if self.random_state is None else make_generator(self.random_state).initial_seed()
        )
        with _torch_seeded(seed):
            est, X, y, default = self._fit_net(X, y, fit_params)
            self._prune(est, X, y, fit_params)
        # (None, None) unless the default net was trained: its labels, the ndim of the user's y
        self._default_classes_, self._default_y_ndim_ = default
        if isinstance(self.sparsity, str):  # its net was trained on codes: say which labels
            self.limit_estimator_.classes_ = default[0]
        _record_n_features(self, X)
        self._record_n_outputs(X)
        return self

    def _check_y_given(self, X, y):
        """``y=None`` fails before any training, in the library's words, for each step that
        needs the targets (the default net says so itself)."""
        if y is None and self.estimator is not None:
            owner = type(self).__name__
            net, frozen = _unfreeze(self.estimator)
            if not (self.prefit or frozen) or self.fine_tune_epochs:
                _require_y_to_train(net, X, y, owner)
            if isinstance(self.importance, str) and self.importance in DATA_IMPORTANCES:
                why = f"importance={self.importance!r} takes the data loss gradient on (X, y)"
                _require_y(X, y, owner, why)
            if isinstance(self.sparsity, str):
                _require_y(X, y, owner, "sparsity='auto' takes the limit on the data loss")

    def _check_limit_params(self):
        """Unknown or conflicting ``limit_params`` keys fail before any training."""
        if not self.limit_params:
            return
        from ..limit import PruningLimitEstimator

        both = sorted({"include", "exclude"} & set(self.limit_params))
        if both:
            raise ValueError(
                f"`limit_params` sets {both}: the limit is predicted for the weights the pruner "
                "prunes, so set `include` / `exclude` on GlobalOneShotPruner itself."
            )
        fixed = {"estimator", "prefit", "include", "exclude"}  # set by the pruner
        valid = set(inspect.signature(PruningLimitEstimator).parameters) - fixed
        unknown = sorted(set(self.limit_params) - valid)
        if unknown:
            raise ValueError(
                f"`limit_params` has keys {unknown} that PruningLimitEstimator does not take; "
                f"valid keys: {sorted(valid)}."
            )

    def _fit_net(self, X, y, fit_params):
        """The trained (or copied) net, the ``(X, y)`` it was trained on, and for the default
        net its labels and the ndim of ``y`` (else ``(None, None)``)."""
        if self.estimator is None:
            if self.prefit:
                raise ValueError(
                    "prefit=True needs the fitted skorch net as `estimator`; got "
                    "estimator=None. Pass the trained net (GlobalOneShotPruner(net, "
                    "prefit=True)), or set prefit=False to train the default network on (X, y)."
                )
            if fit_params:  # skorch would pass them to the MLP's forward, which takes X only
                raise TypeError(
                    f"With estimator=None, fit takes no fit parameters; got {sorted(fit_params)}. "
                    "The default network does not use sample weights or other per-sample data; "
                    "pass your own skorch net as `estimator` (skorch passes fit parameters to "
                    "its module's forward)."
                )
            est, X, y_codes, classes = _default_estimator(X, y)
            est.fit(X, y_codes)
            if is_regressor(est):
                _check_default_regressor(est, y_codes)
            return est, X, y_codes, (classes, np.asarray(_host(y)).ndim)
        net, frozen = _unfreeze(self.estimator)
        if self.prefit or frozen:  # a FrozenEstimator holds a fitted net: prefit
            _check_net_fitted(net)
            if self.fine_tune_epochs:  # fine-tuning trains on y
                check_class_codes(net, y)
            return copy.deepcopy(net), X, y, (None, None)
        if not hasattr(self.estimator, "module"):
            raise TypeError(
                "`estimator` must be a skorch net (e.g. sparselimit.L1RegularizedClassifier); "
                f"got {type(self.estimator).__name__}. For a plain torch.nn.Module use "
                "sparselimit.pruning.prune_global."
            )
        check_class_codes(self.estimator, y)
        est = clone(self.estimator)
        est.fit(X, y, **fit_params)
        return est, X, y, (None, None)

    def _prune(self, est, X, y, fit_params):
        """Prune ``est`` in place, fine-tune it, and set the fitted attributes."""
        module = resolve_module(est)
        include, exclude = self._selection(est)
        selected = select_prunable(module, include, exclude)
        check_weights_finite(selected, where=f"the fitted {type(est).__name__}")

        if isinstance(self.sparsity, str):  # "auto"
            from ..limit import PruningLimitEstimator  # lazy: the limit module is heavier

            # the limit of the weights pruned here, and no others
            params = dict(self.limit_params or {}, include=include, exclude=exclude)
            if self.random_state is not None:
                params.setdefault("random_state", self.random_state)
            limit = PruningLimitEstimator(estimator=est, prefit=True, **params).fit(X, y)
            target = float(limit.pruning_limit_)
            self.limit_estimator_ = limit
        else:
            target = float(self.sparsity)

        with _rng_shielded():  # the gradient pass's DataLoader draws a seed
            importance = _resolve_importance(self.importance, est, X, y, list(selected))
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

    # -- the default net (estimator=None): float32 X in, the user's labels / y shape out -----
    _trains_default_net = True

    def _input(self, X):
        if getattr(self, "_default_y_ndim_", None) is not None:
            # lists / DataFrames become the array the net sees, so the NaN and feature-count
            # checks below apply to them too
            X = _default_input(X)
        return _check_input(self, X)

    def _decode(self, y_pred):
        classes = getattr(self, "_default_classes_", None)
        if classes is not None:
            return classes[np.asarray(y_pred)]
        if getattr(self, "_default_y_ndim_", None) == 1:  # trained on y as a column
            return np.asarray(y_pred).reshape(-1)
        return y_pred

    @available_if(_net_has("score"))
    def score(self, X, y, **kwargs):
        """Accuracy (classifiers) or R² (regressors) of the pruned net on ``(X, y)``.

        Parameters
        ----------
        X : array-like
            Input data.
        y : array-like
            True labels (those of ``classes_``) or targets.
        **kwargs : dict
            Passed to the net's ``score`` (e.g. ``sample_weight``).

        Returns
        -------
        score : float
        """
        X = self._input(X)
        with _rng_shielded():  # skorch's predict draws a DataLoader seed
            if getattr(self, "_default_y_ndim_", None) is None:
                return self.estimator_.score(X, y, **kwargs)
            y_pred = self.estimator_.predict(X)
        metric = r2_score if is_regressor(self.estimator_) else accuracy_score
        return float(metric(y, self._decode(y_pred), **kwargs))

    @property
    def classes_(self):
        """Class labels of the pruned classifier (the user's labels with ``estimator=None``)."""
        check_is_fitted(self, "estimator_")
        classes = getattr(self, "_default_classes_", None)
        return self.estimator_.classes_ if classes is None else classes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.estimator is None:  # the default net: its kind is decided by y at fit
            tags.input_tags.sparse = True  # densified for the default MLP
            tags.target_tags.required = True
            net = self.__dict__.get("estimator_")
            if net is None:
                # before fit, a classifier: labels are the common case, and cross-validation
                # must stratify them (plain KFold on class-sorted data, as load_wine is,
                # leaves a class out of training); a float y needs cv=KFold(...) explicitly
                tags.estimator_type = "classifier"
                tags.classifier_tags = ClassifierTags()
            else:
                inner = get_tags(net)
                tags.estimator_type = inner.estimator_type
                tags.classifier_tags = inner.classifier_tags
                tags.regressor_tags = inner.regressor_tags
        return tags
