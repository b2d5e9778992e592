"""A JSON-able summary of a prediction and its measured counterpart (for the command line)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._curve import _check_curve

__all__ = ["limit_report"]


def _plain(v):
    """``v`` with numpy types as Python ones and NaN/infinity as None, recursively.

    JSON has no NaN or infinity: ``json.dumps`` would write the non-standard tokens ``NaN`` /
    ``Infinity``, which strict parsers (JavaScript's ``JSON.parse``, among others) reject. A
    value that is not a number here means "not evaluated" (e.g. the Lanczos steps the ``"auto"``
    rule skipped) and ``null`` says so.

    Examples
    --------
    >>> import numpy as np
    >>> _plain({"a": np.array([1.0, np.nan]), 2: (np.float32(np.inf), [np.int64(3), "x"])})
    {'a': [1.0, None], '2': [None, [3, 'x']]}
    """
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())  # nested lists of Python scalars, then NaN -> None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def limit_report(estimator, curve=None, *, retrained_curve=None) -> dict:
    """Summarise a fitted :class:`PruningLimitEstimator` (and measured curves) as a dict.

    Everything in it is a JSON type (``json.dumps`` works on it directly, also with
    ``allow_nan=False``): a value that is not a finite number, such as the entries of
    ``diagnostics["limit_by_step"]`` at Lanczos steps the ``"auto"`` rule did not evaluate, is
    ``None`` (``null`` in JSON).

    Parameters
    ----------
    estimator : PruningLimitEstimator
        Fitted.
    curve : PruningCurve, default=None
        One-shot curve from :func:`measure_pruning_curve` on ``estimator`` (a curve of another
        number of prunable weights raises ``ValueError``).
    retrained_curve : PruningCurve, default=None
        Curve measured with ``fine_tune_epochs > 0``.

    Returns
    -------
    report : dict
        ``predicted`` (``pruning_limit``, ``keep_ratio``, ``interval``, ``probe_limits``,
        ``jensen_lower_bound``), ``epsilon``, ``loss``, ``sharpness``, ``zero_row_fraction``,
        ``n_params``, ``n_lanczos_steps``, ``settings`` (the estimator's parameters), ``timings``
        (seconds), ``diagnostics`` (regime checks and warnings) and, per curve given,
        ``measured`` / ``measured_retrained`` with the limit under both rules (``last_above``
        without tolerance, as the authors define it; ``first_drop`` with the curve's
        ``tolerance``; see ``limit_tolerances``), the curve's own rule and limit,
        the dense score and the error ``predicted - measured`` under each rule.

    Examples
    --------
    >>> import json
    >>> import numpy as np
    >>> from torch import nn
    >>> from sparselimit import L1RegularizedClassifier
    >>> from sparselimit.limit import PruningLimitEstimator, measure_pruning_curve, limit_report
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(128, 4).astype(np.float32); y = (X[:, 0] > 0).astype(np.int64)
    >>> net = L1RegularizedClassifier(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)),
    ...     criterion=nn.CrossEntropyLoss, lr=0.1, max_epochs=5, train_split=None, verbose=0)
    >>> est = PruningLimitEstimator(net, spectrum="exact", epsilon_batch_size=32).fit(X, y)
    >>> report = limit_report(est, measure_pruning_curve(est, X, y))
    >>> sorted(report["measured"]["limits"])
    ['first_drop', 'last_above']
    >>> _ = json.dumps(report, allow_nan=False)
    """
    check_is_fitted(estimator, "pruning_limit_")
    _check_curve(estimator, curve, "curve")
    _check_curve(estimator, retrained_curve, "retrained_curve")
    # plain values, NumPy scalars included (a grid of np.arange values hands out np.int64)
    plain = (bool, int, float, str, list, tuple, np.bool_, np.integer, np.floating)
    params = {
        k: v
        for k, v in estimator.get_params(deep=False).items()
        if k != "estimator" and (v is None or isinstance(v, plain))
    }
    pred = estimator.pruning_limit_
    report = {
        "predicted": {
            "pruning_limit": pred,
            "keep_ratio": estimator.keep_ratio_,
            "interval": list(estimator.pruning_limit_interval_),
            "probe_limits": estimator.probe_limits_,
            "jensen_lower_bound": estimator.jensen_limit_,
        },
        "epsilon": estimator.epsilon_,
        "loss": estimator.loss_,
        "sharpness": estimator.sharpness_,
        "zero_row_fraction": estimator.zero_row_fraction_,
        "n_params": estimator.n_params_,
        "n_lanczos_steps": estimator.n_lanczos_steps_,
        "settings": params,
        "timings": dict(estimator.timings_),
        "diagnostics": dict(estimator.diagnostics_),
    }
    for key, c in (("measured", curve), ("measured_retrained", retrained_curve)):
        if c is None:
            continue
        # each rule as defined: the authors' "last_above" has no tolerance (any point at least
        # as good as dense), "first_drop" uses the curve's tolerance
        tolerances = {"last_above": 0.0, "first_drop": c.tolerance}
        limits = {r: c.limit(r, tolerance=t) for r, t in tolerances.items()}
        report[key] = {
            "rule": c.rule,
            "tolerance": c.tolerance,
            "measured_limit": c.measured_limit,
            "limits": limits,
            "limit_tolerances": tolerances,
            "error": {r: pred - v for r, v in limits.items()},
            "dense_score": c.dense_score,
            "dense_loss": c.dense_loss,
            "score_name": c.score_name,
            "fine_tune_epochs": c.fine_tune_epochs,
            "n_points": int(len(c.sparsities)),
            "seconds": c.seconds,
        }
        report["timings"][f"{key}_curve"] = c.seconds
    return _plain(report)
