"""Measure the real pruning curve: score and loss vs sparsity of global magnitude pruning."""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import asdict, dataclass, field
from numbers import Integral, Real

import numpy as np
import torch

from ..spectral import skorch_data_loss
from ..spectral._estimator import _gather
from ..training import MaskEnforcer
from ..training._default import _default_input
from ..utils import (
    check_sparsity,
    check_weights_finite,
    check_X_y,
    make_generator,
    resolve_module,
    select_prunable,
)
from ..utils._validation import (
    _as_array,
    _require_y,
    _rng_shielded,
    _torch_ready,
    _torch_seeded,
    _unfreeze,
)

__all__ = ["PruningCurve", "measure_pruning_curve", "measured_limit"]

_RULES = ("last_above", "first_drop")


def measured_limit(sparsities, scores, dense_score, rule="last_above", tolerance=0.0) -> float:
    """The measured pruning limit of a score-vs-sparsity curve under a stated rule.

    A point "keeps the performance" when ``score >= dense_score - tolerance`` (higher scores
    are better).

    - ``"last_above"``: the largest sparsity whose point keeps the performance, wherever it is
      (the authors' rule; they use a strict ``>`` and no tolerance, we use ``>=`` so that the
      dense point itself, and prunings that change no prediction, count -- the limit is then
      always defined).
    - ``"first_drop"``: the largest sparsity before the first point that loses it (steadier
      when the score fluctuates around the dense value).

    Returns 0.0 when no point keeps the performance.

    Examples
    --------
    >>> from sparselimit.limit import measured_limit
    >>> rho = [0.0, 0.2, 0.4, 0.6, 0.8]
    >>> acc = [0.90, 0.90, 0.88, 0.91, 0.50]
    >>> measured_limit(rho, acc, 0.90, "last_above"), measured_limit(rho, acc, 0.90, "first_drop")
    (0.6, 0.2)
    >>> measured_limit(rho, acc, 0.90, "first_drop", tolerance=0.02)
    0.6
    """
    if rule not in _RULES:
        raise ValueError(f"`rule` must be one of {_RULES}; got {rule!r}.")
    if isinstance(tolerance, bool) or not isinstance(tolerance, Real) or not tolerance >= 0:
        raise ValueError(
            "`tolerance` must be a non-negative float, the score drop the rule allows (e.g. "
            f"0.01; 0 for none); got {tolerance!r}."
        )
    tolerance = float(tolerance)
    s = np.asarray(sparsities, dtype=np.float64).reshape(-1)
    v = np.asarray(scores, dtype=np.float64).reshape(-1)  # a column of scores is fine
    if s.size != v.size or s.size == 0:
        # mismatched lengths paired scores with the wrong sparsities (or failed with an
        # IndexError); an empty curve has no point to measure
        raise ValueError(
            "`sparsities` and `scores` must be non-empty sequences of the same length (one "
            f"score per sparsity, at least one point); got {s.size} sparsities and {v.size} "
            "scores."
        )
    if not (np.isfinite(s).all() and ((s >= 0) & (s <= 1)).all()):
        raise ValueError(f"`sparsities` must be fractions in [0, 1]; got {s.tolist()}.")
    if isinstance(dense_score, bool) or not isinstance(dense_score, Real):
        raise TypeError(f"`dense_score` must be a real number; got {dense_score!r}.")
    if not np.isfinite(dense_score):
        raise ValueError(
            f"`dense_score` must be finite, the score of the unpruned net; got {dense_score!r}."
        )
    order = np.argsort(s, kind="stable")
    s, v = s[order], v[order]
    ok = v >= float(dense_score) - tolerance - 1e-12
    if rule == "last_above":
        return float(s[ok].max()) if ok.any() else 0.0
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        return float(s[-1])
    return float(s[bad[0] - 1]) if bad[0] > 0 else 0.0


@dataclass
class PruningCurve:
    """Score and loss against sparsity of one-shot global magnitude pruning.

    Returned by :func:`measure_pruning_curve`.

    Attributes
    ----------
    sparsities : ndarray
        Fractions of prunable weights removed, increasing.
    scores : ndarray
        Score (accuracy for classifiers, R^2 for regressors, or the given ``scoring``) of the
        pruned (and, with ``fine_tune_epochs``, retrained) net at each sparsity. Accuracy
        follows the net's predict rule: per element for class scores on axis 1 of more than
        two dimensions (per pixel), subset accuracy for multilabel BCE logits; targets equal
        to the criterion's ``ignore_index`` are left out, as in the loss.
    losses : ndarray
        Mean data loss at each sparsity (``get_loss(..., training=False)``, no L1 penalty).
    dense_score, dense_loss : float
        Score and loss of the unpruned net, the reference of the rules. With
        ``fine_tune_epochs > 0`` the dense net retrained the same way (the ``rho = 0`` point),
        so that the effect of the extra epochs themselves cancels.
    score_name : str
        ``"accuracy"``, ``"r2"`` or the scorer's name.
    rule : str
        Rule of ``measured_limit`` (see :func:`measured_limit`).
    tolerance : float
        Tolerance of the rule.
    measured_limit : float
        The measured limit under ``rule`` and ``tolerance``.
    fine_tune_epochs : int
        Epochs of masked retraining before each score (0: one-shot, no retraining).
    n_params : int
        Number of prunable weights.
    radii : ndarray
        ``||w* - w_pruned||_2`` at each sparsity (the distance the pruning moved the weights).
    seconds : float
        Wall time of the sweep.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from skorch import NeuralNetClassifier
    >>> from sparselimit import measure_pruning_curve
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 4).astype(np.float32); y = (X[:, 0] > 0).astype(np.int64)
    >>> net = NeuralNetClassifier(nn.Linear(4, 2), criterion=nn.CrossEntropyLoss, lr=0.5,
    ...                           max_epochs=10, train_split=None, verbose=0).fit(X, y)
    >>> curve = measure_pruning_curve(net, X, y, sparsities=[0.0, 0.5, 0.75])
    >>> curve.sparsities.tolist(), curve.scores.shape, curve.score_name
    ([0.0, 0.5, 0.75], (3,), 'accuracy')
    >>> curve.limit("first_drop", tolerance=1.0)  # every point is within 1.0 of dense
    0.75
    """

    sparsities: np.ndarray
    scores: np.ndarray
    losses: np.ndarray
    dense_score: float
    dense_loss: float
    score_name: str
    rule: str
    tolerance: float
    measured_limit: float
    fine_tune_epochs: int
    n_params: int
    radii: np.ndarray = field(repr=False)
    seconds: float = 0.0

    def limit(self, rule=None, tolerance=None) -> float:
        """The measured limit under another ``rule`` and/or ``tolerance``.

        Examples
        --------
        >>> import numpy as np
        >>> from sparselimit.limit import PruningCurve
        >>> c = PruningCurve(np.array([0.0, 0.5, 0.9]), np.array([0.9, 0.9, 0.4]),
        ...                  np.zeros(3), 0.9, 0.0, "accuracy", "last_above", 0.0, 0.5, 0, 10,
        ...                  np.zeros(3))
        >>> c.limit("first_drop"), c.limit(tolerance=0.6)
        (0.5, 0.9)
        """
        return measured_limit(
            self.sparsities,
            self.scores,
            self.dense_score,
            self.rule if rule is None else rule,
            self.tolerance if tolerance is None else tolerance,
        )

    def to_dict(self) -> dict:
        """JSON-able dict (arrays as lists), with the limit under both rules."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, np.ndarray):
                d[k] = v.tolist()
        d["limits"] = {r: self.limit(r) for r in _RULES}
        return d


def _check_curve(estimator, curve, name="curve"):
    """Refuse a ``curve`` that is not a :class:`PruningCurve` of ``estimator``'s weights: a
    prediction and a measurement of two different sets of weights cannot be compared."""
    if curve is None:
        return
    if not isinstance(curve, PruningCurve):
        raise TypeError(
            f"`{name}` must be a PruningCurve from measure_pruning_curve; got "
            f"{type(curve).__name__}."
        )
    if curve.n_params != estimator.n_params_:
        raise ValueError(
            f"`{name}` was measured on {curve.n_params} prunable weights, but the estimator "
            f"predicts the limit of {estimator.n_params_}: it comes from another network (or "
            "other include/exclude). Measure it with measure_pruning_curve(estimator, X, y), "
            "which prunes the estimator's own net and weights."
        )


def _encode(y, classes):
    y = np.asarray(y).reshape(-1)
    codes = np.searchsorted(classes, y).clip(0, len(classes) - 1)
    unknown = classes[codes] != y
    if unknown.any():
        raise ValueError(
            f"y holds labels the net was not trained on, e.g. {y[unknown][0]!r}; its classes "
            f"are {list(classes)[:10]}."
        )
    return codes.astype(np.int64)


def _prediction(y_pred):
    """The prediction in a module's output: skorch's rule takes the first element of a tuple
    (the other elements serve a custom ``get_loss``)."""
    return y_pred[0] if isinstance(y_pred, (tuple, list)) else y_pred


#: criteria whose targets are classes: a net trained with one is scored by accuracy
_CLASSIFICATION_LOSSES = (
    torch.nn.CrossEntropyLoss,
    torch.nn.NLLLoss,
    torch.nn.BCEWithLogitsLoss,
    torch.nn.BCELoss,
)


def _score_fn(net, scoring):
    """Return ``f(y_pred_tensor, X, y) -> float`` and the score's name."""
    if scoring is not None:
        if not callable(scoring):
            from sklearn.metrics import get_scorer

            scorer = get_scorer(scoring)
            name = str(scoring)
        else:
            scorer, name = scoring, getattr(scoring, "__name__", "score")
        return (lambda y_pred, X, y: float(scorer(net, X, y))), name

    from sklearn.base import is_classifier, is_regressor

    # a plain skorch NeuralNet is neither: its criterion says whether it classifies (R^2 of
    # logits against labels failed, or was a meaningless number for multilabel targets)
    classifies = not is_regressor(net) and isinstance(
        getattr(net, "criterion_", None), _CLASSIFICATION_LOSSES
    )
    if is_classifier(net) or classifies:

        def acc(y_pred, X, y):
            # the net's own predict rule on the output already computed, scored as its
            # ``score`` (accuracy_score) does; per element for per-pixel class scores
            y_pred = _prediction(y_pred)
            proba = net._get_predict_nonlinearity()(y_pred)
            multilabel = False
            if hasattr(net, "threshold"):  # NeuralNetBinaryClassifier: columns 1 - p, p
                p = proba[:, -1] if proba.ndim == 2 else proba.reshape(-1)
                pred = p > net.threshold
            elif proba.ndim == y_pred.ndim + 1:  # skorch's (1 - p, p) stack of BCE logits:
                pred = proba.argmax(dim=1)  # one prediction per logit, (n,), (n, 1), (n, L)
                multilabel = pred.ndim == 2 and pred.shape[1] > 1
            elif y_pred.ndim >= 2 and y_pred.shape[1] > 1:  # class scores on axis 1 (argmax of
                pred = y_pred.argmax(dim=1)  # the scores: skorch's softmax is over the last)
            else:  # one output per sample: its probability of class 1
                pred = proba.reshape(-1) > 0.5
            pred = pred.long().cpu().numpy()
            yt = np.asarray(y)
            if multilabel:  # subset accuracy, as accuracy_score
                return float(np.mean(np.all(pred == yt.reshape(pred.shape), axis=1)))
            pred, yt = pred.reshape(-1), yt.reshape(-1)
            ignore = getattr(getattr(net, "criterion_", None), "ignore_index", None)
            if ignore is not None:  # unlabelled (pixels), left out of the loss too
                pred, yt = pred[yt != ignore], yt[yt != ignore]
            return float(np.mean(pred == yt)) if yt.size else float("nan")

        return acc, "accuracy"

    from sklearn.metrics import r2_score

    def r2(y_pred, X, y):
        yp = _prediction(y_pred).detach().cpu()
        yp = (yp.float() if yp.dtype == torch.bfloat16 else yp).numpy()  # NumPy has no bfloat16
        yt = np.asarray(y)
        return float(r2_score(yt.reshape(yp.shape) if yt.size == yp.size else yt, yp))

    return r2, "r2"


_EVAL_BATCH = 4096  # samples per forward pass when scoring arrays (eval mode: any size works)


def _forward(net, X):
    """``net.forward(X, training=False)``, outputs left on the net's device (where
    ``get_loss`` puts the targets). For a plain array or tensor the batches are sliced from
    one tensor and passed to ``net.infer`` directly: skorch's DataLoader path indexes and
    collates sample by sample, which took ~75% of a pruning curve's time on small nets."""
    if not isinstance(X, (np.ndarray, torch.Tensor)) or X.ndim == 0:
        return net.forward(X, training=False, device=net.device)
    Xt = torch.as_tensor(X)
    net.module_.eval()
    outs = [net.infer(xb.to(net.device)) for xb in Xt.split(_EVAL_BATCH)]
    if not all(isinstance(o, torch.Tensor) for o in outs):  # e.g. a module returning a tuple
        return net.forward(X, training=False, device=net.device)
    return torch.cat(outs)


def _evaluate(net, X, y, score):
    """One forward pass: (score, mean data loss)."""
    module = net.module_
    was_training = module.training
    # a scorer's predict, and skorch's forward for inputs other than arrays, iterate a
    # DataLoader, which draws a seed from the global RNG
    with torch.no_grad(), _rng_shielded():
        y_pred = _forward(net, X)
        loss = float(skorch_data_loss(net)(y_pred, y, X))
        module.train(was_training)
        return score(y_pred, X, y), loss


def measure_pruning_curve(
    estimator,
    X,
    y,
    sparsities=None,
    *,
    rule="last_above",
    tolerance=0.0,
    fine_tune_epochs=0,
    X_fine_tune=None,
    y_fine_tune=None,
    include=None,
    exclude=None,
    scoring=None,
    random_state=None,
    verbose=0,
):
    """Measure score and loss against sparsity of global magnitude pruning, and the limit.

    For each sparsity ``rho`` the ``round(rho * D)`` prunable weights of smallest magnitude are
    removed at once (one-shot, global, ties broken by the order of the weights, as in
    :func:`sparselimit.pruning.prune_global`) and the net is scored on ``(X, y)``. One stable
    sort of ``|w|`` serves the whole sweep: the masks for increasing ``rho`` are nested, so
    without fine-tuning the weights are zeroed incrementally on one working copy of the net.
    With ``fine_tune_epochs=k`` each pruned net is retrained ``k`` epochs on
    ``(X_fine_tune, y_fine_tune)`` with its mask enforced
    (:class:`~sparselimit.training.MaskEnforcer`, fresh optimizer and history, the net's own
    training settings including its callbacks and L1 penalty) before it is scored; the working
    copy is restored from a saved state between points, never deep-copied again.

    The theory behind :class:`PruningLimitEstimator` asks whether *some* point of the kept
    subspace stays within ``epsilon`` of the loss, i.e. whether the kept weights can be
    re-fitted; the one-shot curve (no retraining) and the retrained curve bracket that
    question from both sides, so measure both.

    Parameters
    ----------
    estimator : skorch net or fitted PruningLimitEstimator
        The trained net (for a ``PruningLimitEstimator``, its ``estimator_``). Never modified.
    X, y : array-like
        Data the pruned nets are scored on (held-out data for an honest limit); ``X`` may
        also be a ``Dataset`` yielding ``(X, y)`` tensors, with ``y=None``. For a
        ``PruningLimitEstimator`` fitted with ``estimator=None``, ``X`` is converted as its
        ``fit`` converted it (a float32 array; integer, bool and scipy.sparse ``X`` included)
        and ``y`` holds its labels.
    sparsities : array-like of float in [0, 1), default=None
        Sparsities to measure; default ``np.linspace(0, 0.99, 100)``. Sorted; 0 is the dense
        net. With ``fine_tune_epochs > 0``, 0 is added if missing: the dense net retrained the
        same way is the reference of the rules.
    rule : {"last_above", "first_drop"}, default="last_above"
        Rule of ``measured_limit`` (see :func:`measured_limit`): the largest ``rho`` with
        ``score >= dense - tolerance``, or the largest before the first drop below it.
    tolerance : float, default=0.0
        Score drop tolerated by the rule.
    fine_tune_epochs : int, default=0
        Masked retraining epochs before each score; 0 is one-shot pruning without retraining.
    X_fine_tune, y_fine_tune : array-like, default=None
        Retraining data (normally the training data), both or neither (``y_fine_tune=None``
        with a ``Dataset`` yielding ``(X, y)`` as ``X_fine_tune``). Default: ``(X, y)``, with a
        ``UserWarning``: retraining on the data it is scored on inflates the measured limit.
    include, exclude : str or list of str, default=None
        Prunable parameters (:func:`~sparselimit.utils.select_prunable`); when both are None,
        the net's own ``prunable_include`` / ``prunable_exclude``.
    scoring : str or callable, default=None
        A scikit-learn scorer (name or ``scorer(net, X, y)``); default accuracy for
        classifiers (skorch classifiers, and plain skorch ``NeuralNet`` objects trained with
        ``CrossEntropyLoss``, ``NLLLoss``, ``BCEWithLogitsLoss`` or ``BCELoss``) and R^2
        otherwise, computed from the same forward pass as the loss.
    random_state : int or None, default=None
        Seeds the retraining (inside ``torch.random.fork_rng``; the global RNG is restored).
    verbose : int, default=0
        Show a progress bar over the sparsities.

    Returns
    -------
    curve : PruningCurve

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from sparselimit import L1RegularizedClassifier
    >>> from sparselimit.limit import measure_pruning_curve
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 5).astype(np.float32); y = (X[:, 0] > 0).astype(np.int64)
    >>> net = L1RegularizedClassifier(
    ...     nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2)),
    ...     criterion=nn.CrossEntropyLoss, lr=0.1, max_epochs=10, train_split=None,
    ...     verbose=0).fit(X, y)
    >>> curve = measure_pruning_curve(net, X, y, sparsities=np.linspace(0, 0.9, 10))
    >>> curve.scores.shape, float(curve.sparsities[0]), curve.score_name
    ((10,), 0.0, 'accuracy')
    >>> 0.0 <= curve.measured_limit <= 0.9
    True
    """
    t_start = time.perf_counter()
    # fine-tuning sets callbacks on, and trains, the net itself, not a FrozenEstimator wrapper
    estimator, _ = _unfreeze(estimator)
    net = getattr(estimator, "estimator_", None) if hasattr(estimator, "pruning_limit_") else None
    net = estimator if net is None else net
    if not hasattr(net, "module_") or not hasattr(net, "get_loss"):
        raise TypeError(
            "`estimator` must be a fitted skorch net or a fitted PruningLimitEstimator; got "
            f"{type(estimator).__name__}."
        )
    resolve_module(net)
    check_X_y(X, y)
    _require_y(X, y, "measure_pruning_curve", "the pruned nets are scored against it")
    if y is None:  # a Dataset X: the targets it yields
        X, y = _gather(net, X, None, "measure_pruning_curve")
    # targets as skorch's loss takes them (it converts neither a list nor a pandas Series),
    # and arrays as torch takes them (not views with negative strides, such as X[::-1])
    X, X_fine_tune = _torch_ready(X), _torch_ready(X_fine_tune)
    y = _torch_ready(_as_array(y))
    y_fine_tune = _torch_ready(_as_array(y_fine_tune))
    classes = getattr(estimator, "classes_", None) if net is not estimator else None
    if net is not estimator and estimator.estimator is None:
        # the default net of a PruningLimitEstimator was trained on X as a 2-D float32 array
        # (integer images, bool features and sparse matrices converted): score it the same way
        X = _default_input(X)
        X_fine_tune = None if X_fine_tune is None else _default_input(X_fine_tune)
    if classes is not None:  # the default net of a PruningLimitEstimator: labels -> codes
        y = _encode(y, classes)
        y_fine_tune = None if y_fine_tune is None else _encode(y_fine_tune, classes)
    elif np.asarray(y).dtype.kind in "OSU":
        raise ValueError(
            f"`y` holds labels of dtype {np.asarray(y).dtype}, but the net predicts class codes "
            "0..n_classes-1. Encode the labels the way the net was trained on them (e.g. "
            "sklearn.preprocessing.LabelEncoder), or pass the PruningLimitEstimator fitted "
            "with estimator=None, which encodes them itself."
        )
    if rule not in _RULES:
        raise ValueError(f"`rule` must be one of {_RULES}; got {rule!r}.")
    if (
        isinstance(fine_tune_epochs, bool)
        or not isinstance(fine_tune_epochs, Integral)
        or (fine_tune_epochs < 0)
    ):
        raise ValueError(
            f"`fine_tune_epochs` must be a non-negative int; got {fine_tune_epochs!r}."
        )
    if fine_tune_epochs and (X_fine_tune is None) != (y_fine_tune is None):
        # one without the other paired the retraining inputs with the scoring targets (or the
        # scoring inputs with the retraining targets): silently wrong when the lengths agree
        if X_fine_tune is None:
            raise ValueError(
                "`y_fine_tune` was given without `X_fine_tune`: pass the inputs they belong to "
                "(e.g. X_fine_tune=X_train, y_fine_tune=y_train)."
            )
        if not isinstance(X_fine_tune, torch.utils.data.Dataset):
            raise ValueError(
                "`X_fine_tune` was given without `y_fine_tune`: the retraining would pair it "
                "with the scoring targets `y`. Pass its own targets as y_fine_tune (or a "
                "Dataset yielding (X, y) as X_fine_tune)."
            )
    if sparsities is None:
        sparsities = np.linspace(0.0, 0.99, 100)
    rhos = np.asarray(sparsities, dtype=np.float64).reshape(-1)
    if rhos.size == 0:
        raise ValueError("`sparsities` must hold at least one value.")
    for r in rhos:
        check_sparsity(float(r), "sparsities")
    rhos = np.sort(rhos)
    if fine_tune_epochs and rhos[0] != 0.0:
        rhos = np.concatenate([[0.0], rhos])  # the retrained dense reference
    measured_limit([0.0], [0.0], 0.0, rule, tolerance)  # validates tolerance early

    work = copy.deepcopy(net)  # the one copy of the sweep
    work.verbose = 0
    module = work.module_
    if include is None and exclude is None:
        if net is not estimator:  # a PruningLimitEstimator: the weights its limit is about
            include, exclude = estimator._selection(net)
        else:
            include = getattr(net, "prunable_include", None)
            exclude = getattr(net, "prunable_exclude", None)
    # a diverged net scores a constant on every point (argmax of NaN logits): refuse it, as
    # prune_global and PruningLimitEstimator do
    check_weights_finite(dict(module.named_parameters()), where=type(net).__name__)
    params = list(select_prunable(module, include, exclude).values())
    sizes = [p.numel() for p in params]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    D = int(offsets[-1])
    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1).abs().float().cpu() for p in params])
    # the one sort, by the bit patterns: for finite floats >= +0 (abs turns -0 into +0) these
    # order as the values, and torch's stable integer sort (radix) is ~5x faster than on floats
    order = torch.sort(flat.view(torch.int32), stable=True).indices
    sq_cum = np.concatenate([[0.0], np.cumsum(flat[order].double().numpy() ** 2)])

    score, score_name = _score_fn(work, scoring)
    dense_score, dense_loss = _evaluate(work, X, y, score)
    counts = [min(int(round(r * D)), D - 1) for r in rhos]  # as prune_global: never all

    scores, losses = [], []
    if fine_tune_epochs:
        if X_fine_tune is None:
            warnings.warn(
                "measure_pruning_curve retrains on the data it scores (X, y): the measured "
                "limit comes out optimistic. Pass the training data as X_fine_tune, "
                "y_fine_tune (or X_fine_tune=X, y_fine_tune=y to mean it).",
                UserWarning,
                stacklevel=2,
            )
        # (X, y), or the retraining pair (y_fine_tune None for a Dataset yielding both)
        Xf, yf = (X, y) if X_fine_tune is None else (X_fine_tune, y_fine_tune)
        saved = {k: v.detach().clone() for k, v in module.state_dict().items()}
        enforcer = MaskEnforcer({})
        callbacks = [c for c in (work.callbacks or [])]
        work.callbacks = callbacks + [("limit_curve_mask", enforcer)]
        work.initialize_callbacks()
        names = list(select_prunable(module, include, exclude))
        seed = None if random_state is None else int(make_generator(random_state).initial_seed())
    else:
        # flat views where the memory allows; other layouts (a channels_last convolution)
        # are indexed by the coordinates of the flat, row-major positions
        views = [p.detach().view(-1) if p.is_contiguous() else p.detach() for p in params]

    bar = _progress(len(rhos), verbose, "pruning curve")
    done = 0
    for n in counts:
        if fine_tune_epochs:
            module.load_state_dict(saved)
            removed = torch.zeros(D, dtype=torch.bool)
            removed[order[:n]] = True
            keep = ~removed
            enforcer.masks = {
                name: keep[offsets[i] : offsets[i + 1]].view_as(params[i])
                for i, name in enumerate(names)
            }
            # a new training run per point: fresh optimizer and history, so schedulers and
            # callbacks that read the history (LRScheduler, EarlyStopping) start over
            work.initialize_optimizer()
            work.initialize_history()
            with _torch_seeded(seed):
                work.partial_fit(Xf, yf, epochs=int(fine_tune_epochs))
        elif n > done:
            chunk = order[done:n].numpy()
            with torch.no_grad():
                for i, v in enumerate(views):
                    sel = chunk[(chunk >= offsets[i]) & (chunk < offsets[i + 1])] - offsets[i]
                    if sel.size:
                        idx = torch.from_numpy(sel)
                        v[idx if v.dim() == 1 else torch.unravel_index(idx, v.shape)] = 0
            done = n
        s, l_ = _evaluate(work, X, y, score)
        scores.append(s)
        losses.append(l_)
        bar.update(1)
    bar.close()

    scores = np.asarray(scores)
    if fine_tune_epochs:
        # compare like with like: the reference is the dense net retrained the same way
        dense_score, dense_loss = float(scores[0]), float(losses[0])
    limit = measured_limit(rhos, scores, dense_score, rule, tolerance)
    return PruningCurve(
        sparsities=rhos,
        scores=scores,
        losses=np.asarray(losses),
        dense_score=float(dense_score),
        dense_loss=float(dense_loss),
        score_name=score_name,
        rule=rule,
        tolerance=float(tolerance),
        measured_limit=limit,
        fine_tune_epochs=int(fine_tune_epochs),
        n_params=D,
        radii=np.sqrt(sq_cum[np.asarray(counts)]),
        seconds=time.perf_counter() - t_start,
    )


def _progress(total, verbose, desc):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not verbose, leave=False)
