"""Recall distortion of pruning (Good et al., NeurIPS 2022).

Pruning a classifier rarely costs every class the same. With per-class recall ``r_c`` and
accuracy ``a``, the ratio ``rho_c = r_c / a`` says how a class fares relative to the average;
*intensification* is pruning pushing ``rho_c`` further from 1 (weak classes get relatively weaker,
strong ones stronger). The summary

    alpha = mean_c (rho_c,pruned - 1) / (rho_c,dense - 1)   over classes with rho_c,dense != 1

is above 1 under intensification and below 1 under de-intensification.
"""

from __future__ import annotations

import copy as _copy
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..utils import check_sparsity, check_X_y
from ..utils._validation import _rng_shielded, _torch_ready, _unfreeze

__all__ = [
    "per_class_recall",
    "intensification_ratio",
    "recall_distortion",
    "RecallDistortion",
    "recall_distortion_report",
    "RecallDistortionScorer",
    "recall_distortion_curve",
    "RecallDistortionCurve",
]


def _labels(y_true, labels):
    y_true = np.asarray(y_true)
    if y_true.ndim != 1:
        raise ValueError(f"`y_true` must be a 1-D array of class labels; got shape {y_true.shape}.")
    if y_true.size == 0:
        raise ValueError("`y_true` is empty; recall needs at least one sample per class.")
    present = np.unique(y_true)
    if labels is None:
        return y_true, present
    labels = np.asarray(labels)
    absent = [lab.item() if hasattr(lab, "item") else lab for lab in labels if lab not in present]
    if absent:
        raise ValueError(
            f"Class labels {absent} do not occur in `y_true`, so their recall is undefined. "
            "Evaluate on data containing every class (e.g. a stratified split) or leave them "
            "out of `labels`."
        )
    return y_true, labels


def _is_text(a: np.ndarray) -> bool:
    return a.dtype.kind in "US" or (
        a.dtype.kind == "O" and a.size > 0 and isinstance(a.flat[0], (str, bytes))
    )


def _check_pred(y_true: np.ndarray, y_pred, name: str) -> np.ndarray:
    """``y_pred`` as an array of the shape of ``y_true``, with labels of its kind: text labels
    against numeric predictions never compare equal, so every recall would silently be 0 and
    ``alpha`` NaN."""
    y_pred = np.asarray(y_pred)
    if y_pred.shape != y_true.shape:
        raise ValueError(
            f"`{name}` must have the shape of `y_true` {y_true.shape}; got {y_pred.shape}."
        )
    if y_true.size and _is_text(y_true) != _is_text(y_pred):
        kinds = ("text", "numeric") if _is_text(y_true) else ("numeric", "text")
        true, pred = (
            a.flat[0].item() if isinstance(a.flat[0], np.generic) else a.flat[0]
            for a in (y_true, y_pred)
        )
        raise ValueError(
            f"`y_true` holds {kinds[0]} labels (e.g. {true!r}) but `{name}` holds "
            f"{kinds[1]} ones (e.g. {pred!r}), so no prediction can match. A skorch "
            "net predicts class codes 0..n_classes-1: pass y encoded as it was trained "
            "(sklearn.preprocessing.LabelEncoder), or models that predict your labels (a "
            "GlobalOneShotPruner trained with estimator=None does)."
        )
    return y_pred


def per_class_recall(y_true, y_pred, labels=None) -> np.ndarray:
    """Recall of every class: the fraction of its samples predicted as that class.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels, of one kind (both numbers or both text).
    labels : array-like, default=None
        Classes to report, in this order; default: the sorted classes present in ``y_true``.
        A label absent from ``y_true`` raises ``ValueError`` (its recall is undefined).

    Returns
    -------
    recall : ndarray of shape (n_labels,)

    Examples
    --------
    >>> from sparselimit.metrics._recall import per_class_recall
    >>> per_class_recall([0, 0, 1, 1], [0, 1, 1, 1])
    array([0.5, 1. ])
    """
    y_true, labels = _labels(y_true, labels)
    y_pred = _check_pred(y_true, y_pred, "y_pred")
    return np.array([np.mean(y_pred[y_true == lab] == lab) for lab in labels], dtype=float)


def intensification_ratio(rho_dense, rho_pruned, *, atol: float = 1e-12) -> float:
    """``alpha = mean_c (rho_pruned_c - 1) / (rho_dense_c - 1)`` over classes with
    ``rho_dense_c != 1`` (within ``atol``); NaN when there is no such class.

    Examples
    --------
    >>> from sparselimit.metrics._recall import intensification_ratio
    >>> round(intensification_ratio([1.125, 0.875], [0.95 / 0.75, 0.55 / 0.75]), 4)
    2.1333
    """
    rho_dense = np.asarray(rho_dense, dtype=float)
    rho_pruned = np.asarray(rho_pruned, dtype=float)
    keep = np.abs(rho_dense - 1.0) > atol
    if not keep.any():
        return float("nan")
    return float(np.mean((rho_pruned[keep] - 1.0) / (rho_dense[keep] - 1.0)))


def _json_float(x):
    x = float(x)
    return None if not math.isfinite(x) else x


@dataclass
class RecallDistortion:
    """Per-class recall before/after pruning and the intensification summary.

    Attributes
    ----------
    labels : ndarray
        The classes, in report order.
    support : ndarray of int
        Samples per class in ``y_true``.
    recall_dense, recall_pruned : ndarray
        Per-class recall of the dense and the pruned model.
    accuracy_dense, accuracy_pruned : float
        Accuracies (over all samples).
    rho_dense, rho_pruned : ndarray
        ``recall / accuracy`` per class.
    alpha : float
        Intensification summary (> 1: pruning widened the gaps between classes; NaN when every
        dense ``rho`` is 1).

    Examples
    --------
    >>> from sparselimit.metrics._recall import recall_distortion
    >>> res = recall_distortion([0, 0, 1, 1], [0, 0, 1, 0], [0, 0, 0, 0])
    >>> res.rho_dense, res.rho_pruned
    (array([1.3333, 0.6667]), array([2., 0.]))
    >>> res.alpha, res.to_dict()["recall_pruned"]
    (3.0, [1.0, 0.0])
    """

    labels: np.ndarray
    support: np.ndarray
    recall_dense: np.ndarray
    recall_pruned: np.ndarray
    accuracy_dense: float
    accuracy_pruned: float
    rho_dense: np.ndarray
    rho_pruned: np.ndarray
    alpha: float

    @property
    def intensified(self) -> bool:
        """Whether pruning intensified the recall differences (``alpha > 1``)."""
        return bool(self.alpha > 1.0)

    def to_dict(self) -> dict:
        """JSON-able dict (lists and floats; NaN becomes None)."""
        return {
            "labels": [lab.item() if hasattr(lab, "item") else lab for lab in self.labels],
            "support": [int(s) for s in self.support],
            "recall_dense": [_json_float(r) for r in self.recall_dense],
            "recall_pruned": [_json_float(r) for r in self.recall_pruned],
            "accuracy_dense": _json_float(self.accuracy_dense),
            "accuracy_pruned": _json_float(self.accuracy_pruned),
            "rho_dense": [_json_float(r) for r in self.rho_dense],
            "rho_pruned": [_json_float(r) for r in self.rho_pruned],
            "alpha": _json_float(self.alpha),
        }


def _rho(recall, accuracy):
    if accuracy <= 0:
        return np.full_like(recall, np.nan)
    return recall / accuracy


def recall_distortion(y_true, y_pred_dense, y_pred_pruned, *, labels=None) -> RecallDistortion:
    """Per-class recall, accuracy and ``rho_c = r_c / a`` before and after pruning, and ``alpha``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred_dense, y_pred_pruned : array-like of shape (n_samples,)
        Predictions of the dense and of the pruned model on the same samples, labels of the
        kind of ``y_true`` (text labels against class codes are a ``ValueError``).
    labels : array-like, default=None
        Classes to report (default: those in ``y_true``); each must occur in ``y_true``.

    Returns
    -------
    result : RecallDistortion

    Examples
    --------
    The worked example of the paper's summary: two classes of 20 samples, dense recalls
    0.9 / 0.7 (accuracy 0.8), pruned 0.95 / 0.55 (accuracy 0.75).

    >>> import numpy as np
    >>> from sparselimit.metrics._recall import recall_distortion
    >>> y = np.repeat([0, 1], 20)
    >>> dense = y.copy(); dense[:2] = 1; dense[20:26] = 0
    >>> pruned = y.copy(); pruned[:1] = 1; pruned[20:29] = 0
    >>> res = recall_distortion(y, dense, pruned)
    >>> res.recall_dense, res.accuracy_dense, res.recall_pruned, res.accuracy_pruned
    (array([0.9, 0.7]), 0.8, array([0.95, 0.55]), 0.75)
    >>> round(res.alpha, 4), res.intensified
    (2.1333, True)
    """
    y_true, labels = _labels(y_true, labels)
    y_pred_dense = _check_pred(y_true, y_pred_dense, "y_pred_dense")
    y_pred_pruned = _check_pred(y_true, y_pred_pruned, "y_pred_pruned")
    rec_d = per_class_recall(y_true, y_pred_dense, labels)
    rec_p = per_class_recall(y_true, y_pred_pruned, labels)
    acc_d = float(np.mean(y_pred_dense == y_true))
    acc_p = float(np.mean(y_pred_pruned == y_true))
    rho_d, rho_p = _rho(rec_d, acc_d), _rho(rec_p, acc_p)
    return RecallDistortion(
        labels=np.asarray(labels),
        support=np.array([int(np.sum(y_true == lab)) for lab in labels]),
        recall_dense=rec_d,
        recall_pruned=rec_p,
        accuracy_dense=acc_d,
        accuracy_pruned=acc_p,
        rho_dense=rho_d,
        rho_pruned=rho_p,
        alpha=intensification_ratio(rho_d, rho_p),
    )


# -- predictions from estimators / modules ----------------------------------------------------


def _check_eval_data(X, y, owner: str) -> None:
    """Labels to measure recall against, and finite data of one length, before predicting: a
    network predicts a class for NaN inputs too (the argmax of NaN scores is class 0)."""
    if y is None:
        raise ValueError(
            f"{owner} requires y to be passed, but the target y is None: the recall of each "
            "class is measured against the true labels. Pass the labels of X."
        )
    check_X_y(X, y)


def _split_pipeline(obj, X):
    # the network is swapped in the net itself, not in a FrozenEstimator wrapper (which would
    # keep the swapped attribute and predict with the net's own network)
    obj, _ = _unfreeze(obj)
    steps = getattr(obj, "steps", None)
    if isinstance(steps, list) and steps:
        if len(steps) > 1:
            X = obj[:-1].transform(X)
        return _split_pipeline(steps[-1][1], X)
    return obj, X


@torch.no_grad()
def _module_predict(module: nn.Module, X, batch_size: int = 1024) -> np.ndarray:
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        try:
            param = next(module.parameters())
            device, dtype = param.device, param.dtype
        except StopIteration:
            device, dtype = torch.device("cpu"), torch.float32
        X = X if isinstance(X, torch.Tensor) else torch.as_tensor(_torch_ready(np.asarray(X)))
        if X.is_floating_point():
            X = X.to(dtype)
        out = [
            module(X[i : i + batch_size].to(device)).argmax(dim=1).cpu()
            for i in range(0, len(X), batch_size)
        ]
        return torch.cat(out).numpy()
    finally:
        for m, mode in modes.items():
            m.train(mode)


def _predict(obj, X, module: nn.Module | None = None) -> np.ndarray:
    """Predictions of ``obj`` on X; with ``module``, of ``obj`` with its network replaced."""
    with _rng_shielded():  # skorch's predict draws a DataLoader seed from the global RNG
        return _predict_unshielded(obj, X, module)


def _predict_unshielded(obj, X, module):
    obj, X = _split_pipeline(obj, X)
    if isinstance(obj, nn.Module):
        return _module_predict(module if module is not None else obj, X)
    if module is None:
        if not hasattr(obj, "predict"):
            raise TypeError(f"{type(obj).__name__} has no `predict`; pass a classifier.")
        return np.asarray(obj.predict(X))
    meta = None
    if getattr(obj, "estimator_", None) is not None and not hasattr(obj, "module_"):
        # a fitted meta-estimator: swap the net inside it, but predict through the
        # meta-estimator, which maps the net's class codes back to the user's labels
        meta, obj = obj, obj.estimator_
    if not hasattr(obj, "module_"):
        raise TypeError(
            f"Cannot run {type(obj).__name__} with a pruned network; pass a skorch net, a "
            "fitted sparselimit meta-estimator, an nn.Module, or a Pipeline ending in one."
        )
    proxy = _copy.copy(obj)  # shallow: shares everything but the network
    proxy.module_ = module
    if meta is not None:
        proxy_meta = _copy.copy(meta)
        proxy_meta.estimator_ = proxy
        return np.asarray(proxy_meta.predict(X))
    return np.asarray(proxy.predict(X))


def recall_distortion_report(dense, pruned, X, y, *, labels=None, sparsity=None) -> dict:
    """JSON-able recall-distortion report of a dense and a pruned model on ``(X, y)``.

    Parameters
    ----------
    dense, pruned : classifier, skorch net, fitted meta-estimator, Pipeline or nn.Module
        Models with ``predict`` (an ``nn.Module`` is taken to return class scores: argmax).
    X, y : array-like
        Evaluation data (labels as the models predict them, e.g. 0..n_classes-1 for skorch).
    labels : array-like, default=None
        Classes to report (default: those in ``y``).
    sparsity : float, default=None
        Recorded in the report as ``"sparsity"`` (e.g. the predicted pruning limit).

    Returns
    -------
    report : dict
        The fields of :meth:`RecallDistortion.to_dict`, plus ``"sparsity"`` and ``"n_samples"``.

    Examples
    --------
    >>> import json, numpy as np, torch
    >>> from torch import nn
    >>> from sparselimit.metrics._recall import recall_distortion_report
    >>> X = np.eye(4, dtype=np.float32); y = np.array([0, 1, 0, 1])
    >>> dense = nn.Linear(4, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = dense.weight.copy_(torch.tensor([[1., 0., 1., 0.], [0., 1., 0., 1.]]))
    >>> pruned = nn.Linear(4, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = pruned.weight.copy_(torch.tensor([[1., 0., 0., 0.], [0., 1., 1., 1.]]))
    >>> rep = recall_distortion_report(dense, pruned, X, y, sparsity=0.25)
    >>> rep["recall_dense"], rep["recall_pruned"], rep["alpha"]
    ([1.0, 1.0], [0.5, 1.0], None)
    >>> isinstance(json.dumps(rep), str)
    True
    """
    _check_eval_data(X, y, "recall_distortion_report")
    y = np.asarray(y)
    result = recall_distortion(y, _predict(dense, X), _predict(pruned, X), labels=labels)
    report = result.to_dict()
    report["sparsity"] = None if sparsity is None else float(sparsity)
    report["n_samples"] = int(len(y))
    return report


class RecallDistortionScorer:
    """Scorer ``(estimator, X, y) -> -alpha`` against a fixed dense reference model.

    Usable in ``GridSearchCV(scoring=...)`` or ``cross_validate``: higher is better, so it
    returns ``-alpha`` (less intensification of the recall gaps scores higher), like
    scikit-learn's ``neg_*`` scorers. NaN when the reference has equal recall on every class.

    Parameters
    ----------
    reference : fitted classifier, skorch net or nn.Module
        The dense model the pruned candidates are compared with.
    labels : array-like, default=None
        Classes to use (default: those in ``y``).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from torch import nn
    >>> from sparselimit.metrics._recall import RecallDistortionScorer
    >>> X = np.eye(4, dtype=np.float32); y = np.array([0, 1, 1, 1])
    >>> dense = nn.Linear(4, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = dense.weight.copy_(torch.tensor([[1., 0., 0., 1.], [0., 1., 1., 0.]]))
    >>> scorer = RecallDistortionScorer(dense)
    >>> round(scorer(dense, X, y), 6)  # unchanged model: alpha = 1
    -1.0
    """

    def __init__(self, reference, *, labels=None):
        self.reference = reference
        self.labels = labels

    def __call__(self, estimator, X, y, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("RecallDistortionScorer does not support sample_weight.")
        _check_eval_data(X, y, "RecallDistortionScorer")
        y = np.asarray(y)
        result = recall_distortion(
            y, _predict(self.reference, X), _predict(estimator, X), labels=self.labels
        )
        return -result.alpha

    def _accept_sample_weight(self) -> bool:
        # asked by scikit-learn's multi-metric scorer before passing sample_weight, which
        # fails on a scorer without the method (scikit-learn#31599): a search fitted with
        # sample_weight then scores this one unweighted, with scikit-learn's warning
        return False


@dataclass
class RecallDistortionCurve:
    """Recall distortion of a one-shot pruning sweep (see :func:`recall_distortion_curve`).

    Attributes
    ----------
    sparsities : ndarray of shape (n_points,)
    labels : ndarray of shape (n_classes,)
    alpha : ndarray of shape (n_points,)
        Intensification summary at each sparsity.
    accuracy : ndarray of shape (n_points,)
    recall : ndarray of shape (n_points, n_classes)
    rho : ndarray of shape (n_points, n_classes)
    accuracy_dense : float
    recall_dense, rho_dense : ndarray of shape (n_classes,)
    importance : str
        Name of the importance criterion (or of the callable).

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.metrics._recall import RecallDistortionCurve
    >>> curve = RecallDistortionCurve(np.array([0.5]), np.array([0, 1]), np.array([1.5]),
    ...     np.array([0.7]), np.array([[0.9, 0.5]]), np.array([[1.29, 0.71]]), 0.8,
    ...     np.array([0.9, 0.7]), np.array([1.125, 0.875]), "magnitude")
    >>> curve.to_dict()["alpha"]
    [1.5]
    """

    sparsities: np.ndarray
    labels: np.ndarray
    alpha: np.ndarray
    accuracy: np.ndarray
    recall: np.ndarray
    rho: np.ndarray
    accuracy_dense: float
    recall_dense: np.ndarray
    rho_dense: np.ndarray
    importance: str

    def to_dict(self) -> dict:
        """JSON-able dict (NaN becomes None)."""
        return {
            "importance": self.importance,
            "labels": [lab.item() if hasattr(lab, "item") else lab for lab in self.labels],
            "sparsities": [float(s) for s in self.sparsities],
            "alpha": [_json_float(a) for a in self.alpha],
            "accuracy": [_json_float(a) for a in self.accuracy],
            "recall": [[_json_float(r) for r in row] for row in self.recall],
            "rho": [[_json_float(r) for r in row] for row in self.rho],
            "accuracy_dense": _json_float(self.accuracy_dense),
            "recall_dense": [_json_float(r) for r in self.recall_dense],
            "rho_dense": [_json_float(r) for r in self.rho_dense],
        }

    def plot(self, ax=None, *, label=None, **kwargs):
        """Plot ``alpha`` against sparsity (with the ``alpha = 1`` line); returns the axes.

        Examples
        --------
        >>> import numpy as np
        >>> from matplotlib.figure import Figure
        >>> from sparselimit.metrics._recall import RecallDistortionCurve
        >>> curve = RecallDistortionCurve(np.array([0.5, 0.9]), np.array([0, 1]),
        ...     np.array([1.1, 2.0]), np.array([0.9, 0.7]), np.zeros((2, 2)), np.zeros((2, 2)),
        ...     0.95, np.zeros(2), np.zeros(2), "magnitude")
        >>> ax = curve.plot(Figure().subplots())
        >>> [line.get_label() for line in ax.get_lines()][0]
        'magnitude'
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        ax.plot(self.sparsities, self.alpha, marker="o", label=label or self.importance, **kwargs)
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xlabel("sparsity (fraction of weights removed)")
        ax.set_ylabel(r"intensification $\alpha$")
        ax.legend()
        return ax


def recall_distortion_curve(
    estimator,
    X,
    y,
    sparsities: Sequence[float],
    *,
    importance="magnitude",
    labels=None,
    scope: str = "global",
    include=None,
    exclude=None,
) -> RecallDistortionCurve:
    """Recall distortion of one-shot pruning at several sparsities.

    For each sparsity the fitted network is pruned on a copy with
    :func:`sparselimit.pruning.prune_global` (``copy=True``, the estimator is not modified) and
    its per-class recall on ``(X, y)`` compared with the dense network's.

    Parameters
    ----------
    estimator : fitted skorch classifier, meta-estimator, Pipeline, or nn.Module
        The dense model (an ``nn.Module`` is taken to return class scores).
    X, y : array-like
        Evaluation data; ``y`` in the labels the model predicts.
    sparsities : sequence of float in [0, 1)
        Fractions of the prunable weights removed.
    importance : str or callable, default="magnitude"
        Passed to ``prune_global``: a registered name or ``callable(name, param) -> score``
        (e.g. :func:`sparselimit.pruning.make_undecayed_importance`).
    labels : array-like, default=None
        Classes (default: those in ``y``; each must occur in ``y``).
    scope, include, exclude
        Passed to ``prune_global``. With ``include`` and ``exclude`` both None, the weights
        ``estimator`` itself prunes or penalises (a fitted pruner's ``masks_`` keys or its
        ``include`` / ``exclude``, an L1 net's ``prunable_include`` / ``prunable_exclude``; see
        :func:`~sparselimit.utils.resolve_prunable`), as :func:`~sparselimit.measure_pruning_curve`
        and the sparsity measures select them; else the default rule.

    Returns
    -------
    curve : RecallDistortionCurve
        With ``plot()`` and ``to_dict()``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from torch import nn
    >>> from sparselimit.metrics._recall import recall_distortion_curve
    >>> X = np.eye(4, dtype=np.float32); y = np.array([0, 1, 1, 1])
    >>> net = nn.Linear(4, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[1., 0., .2, 0.], [0., .9, .1, .8]]))
    >>> curve = recall_distortion_curve(net, X, y, [0.0, 0.75])
    >>> curve.accuracy_dense, curve.accuracy, curve.alpha
    (0.75, array([0.75, 0.5 ]), array([1., 3.]))
    >>> float(net.weight.detach()[0, 2])  # the network itself is not pruned
    0.2
    """
    from ..pruning import prune_global
    from ..utils import resolve_module
    from ..utils._modules import _own_selection

    sparsities = np.array([check_sparsity(s, "sparsities") for s in sparsities], dtype=float)
    if sparsities.size == 0:
        raise ValueError("`sparsities` is empty; pass e.g. [0.5, 0.8, 0.9].")
    _check_eval_data(X, y, "recall_distortion_curve")
    y = np.asarray(y)
    final, _ = _split_pipeline(estimator, X)
    module = resolve_module(final)
    if include is None and exclude is None:
        # the weights the estimator prunes or penalises, so that sparsity s here removes what
        # measure_pruning_curve and the pruner remove (the default rule pruned an L1 net's
        # penalised biases, or a pruner's excluded layers, too)
        own = _own_selection(final)
        if own[0] == "masks":  # a fitted pruner: exactly the tensors it pruned
            include = [f"^{re.escape(name)}$" for name in own[1]]
        else:
            include, exclude = own[1], own[2]
    dense_pred = _predict(estimator, X)
    rows = []
    for s in sparsities:
        pruned = prune_global(
            module,
            float(s),
            scope=scope,
            include=include,
            exclude=exclude,
            importance=importance,
            copy=True,
        ).module
        rows.append(recall_distortion(y, dense_pred, _predict(estimator, X, pruned), labels=labels))
    first = rows[0]
    name = (
        importance
        if isinstance(importance, str)
        else getattr(importance, "__name__", type(importance).__name__)
    )
    return RecallDistortionCurve(
        sparsities=sparsities,
        labels=first.labels,
        alpha=np.array([r.alpha for r in rows]),
        accuracy=np.array([r.accuracy_pruned for r in rows]),
        recall=np.stack([r.recall_pruned for r in rows]),
        rho=np.stack([r.rho_pruned for r in rows]),
        accuracy_dense=first.accuracy_dense,
        recall_dense=first.recall_dense,
        rho_dense=first.rho_dense,
        importance=str(name),
    )
