"""The network trained when an estimator is given ``estimator=None``.

``PruningLimitEstimator`` and ``GlobalOneShotPruner`` share it, so that "no estimator" means
the same net, trained the same way, in both; it lives here because pruning must not import
from ``limit`` (``limit`` may import from ``training``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.exceptions import DataConversionWarning
from torch import nn

from ..utils import check_weights_finite
from ..utils._validation import _dense
from ._l1 import L1RegularizedClassifier, L1RegularizedRegressor
from ._models import MLP


def _host(a):
    """A tensor as a NumPy array (``np.asarray`` refuses one that requires grad, or one on a
    GPU); anything else unchanged."""
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a


def _default_input(X) -> np.ndarray:
    """``X`` as the default net takes it: a 2-D float32 array (a scipy sparse matrix is
    densified: the default net is a small dense MLP)."""
    X = _dense(X)
    if isinstance(X, Mapping):  # np.asarray would make it a 0-d object array ("shape ()")
        raise TypeError(
            f"With estimator=None, X must be a 2-D array (n_samples, n_features); got a dict "
            f"with keys {sorted(map(str, X))[:5]} (skorch's form for a module with several "
            "inputs). Pass your own skorch net, whose module takes these keyword arguments, "
            "as `estimator`."
        )
    X = np.asarray(_host(X))
    if X.ndim != 2:
        raise ValueError(
            f"With estimator=None, X must be a 2-D array (n_samples, n_features); got shape "
            f"{X.shape}. Reshape your data (X.reshape(-1, 1) for a single feature, "
            "X.reshape(1, -1) for a single sample), or pass your own skorch net as `estimator` "
            "for other inputs."
        )
    # scikit-learn's wording ("0 sample(s) (shape=...) while a minimum of 1 is required")
    for axis, what in ((0, "sample"), (1, "feature")):
        if X.shape[axis] == 0:
            raise ValueError(
                f"With estimator=None, found array with 0 {what}(s) (shape={X.shape}) while a "
                "minimum of 1 is required. Pass non-empty training data."
            )
    try:
        return X.astype(np.float32)
    except (TypeError, ValueError) as exc:  # keep the type: a dict in X is a TypeError
        raise type(exc)(
            f"With estimator=None, X must be numeric; got dtype {X.dtype} ({exc}). Encode "
            "categorical columns first (e.g. sklearn.preprocessing.OneHotEncoder in a Pipeline)."
        ) from None


def _default_estimator(X, y, random_state=None):
    """The unfitted default net and the ``(X, y)`` to train it on.

    A one-hidden-layer ReLU :class:`MLP` (32 units), 60 epochs of SGD (lr 0.05, momentum 0.9,
    batch 64), ``l1_alpha=1e-4``: an :class:`L1RegularizedRegressor` (MSE) when ``y`` is
    floating-point or continuous, else an :class:`L1RegularizedClassifier` (cross-entropy) on
    the labels encoded as ``0..n_classes-1``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric features.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Class labels of any type, or regression targets (of about unit scale).
    random_state : object, default=None
        Unused: building the net draws no random numbers; callers seed its training.

    Returns
    -------
    net : L1RegularizedClassifier or L1RegularizedRegressor
        Unfitted.
    X : ndarray of float32, shape (n_samples, n_features)
    y : ndarray
        int64 codes of shape (n_samples,) for a classifier; float32 of shape
        (n_samples, n_outputs) for a regressor.
    classes : ndarray or None
        The labels in code order (``np.unique(y)``), or None for a regressor.
    """
    from sklearn.utils.multiclass import type_of_target

    if y is None:
        raise ValueError(
            "With estimator=None, the default network requires y to be passed, but the target "
            "y is None: it is trained on (X, y). Pass the labels or targets, or pass your own "
            "skorch net as `estimator`."
        )
    X = _default_input(X)
    y = np.asarray(_host(y))
    common = dict(
        l1_alpha=1e-4,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        lr=0.05,
        max_epochs=60,
        batch_size=64,
        train_split=None,
        verbose=0,
        module__hidden=(32,),
        module__n_features=X.shape[1],
    )
    # a floating target is a regression target, even when its values are whole numbers
    # (load_diabetes): guessing classes from the values would make one class per value
    if y.dtype.kind == "f" or type_of_target(y) in ("continuous", "continuous-multioutput"):
        y = y.astype(np.float32).reshape(len(y), -1)
        net = L1RegularizedRegressor(
            MLP, module__n_outputs=y.shape[1], criterion=nn.MSELoss, **common
        )
        classes = None
    else:
        if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
            raise ValueError(
                f"With estimator=None, class labels must be of shape (n_samples,); got y of "
                f"shape {y.shape}. The default network is a single-label classifier: pass one "
                "label per sample, a floating y for multi-output regression, or your own net."
            )
        if y.ndim == 2:  # scikit-learn's classifiers say so, and ravel
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the "
                "shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=3,
            )
        classes, y = np.unique(y.reshape(-1), return_inverse=True)
        y = y.reshape(-1).astype(np.int64)
        if len(classes) < 2:
            raise ValueError(
                f"y holds only one class ({classes[0]!r}); a classifier needs at least two. "
                "Pass labels of two or more classes, or a floating y for regression."
            )
        net = L1RegularizedClassifier(
            MLP, module__n_outputs=len(classes), criterion=nn.CrossEntropyLoss, **common
        )
    return net, X, y, classes


def _check_default_regressor(net, y) -> None:
    """The default regressor's fixed SGD step suits targets of about unit scale; say so when
    it diverged rather than reporting NaN weights."""
    try:
        check_weights_finite(dict(net.module_.named_parameters()))
    except ValueError as exc:
        raise ValueError(
            "The default regressor (estimator=None: SGD with lr=0.05) diverged on y with "
            f"standard deviation {float(np.std(y)):.4g} and mean {float(np.mean(y)):.4g}. "
            "Standardise y (e.g. with sklearn.preprocessing.StandardScaler) or pass your own "
            "estimator."
        ) from exc
