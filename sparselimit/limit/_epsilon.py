"""The loss tolerance epsilon: how much the data loss fluctuates from batch to batch at w*."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from skorch.dataset import unpack_data

from ..spectral import skorch_data_loss
from ..utils._criterion import _with_reduction
from ..utils._validation import _length, _require_y, check_X_y

__all__ = ["batch_loss_std", "data_loss", "random_batch_loss_std", "sample_losses"]

EPSILON_RULES = ("batch_std", "random_batch_std")


def _nll_hint(net) -> str:
    """The likelier cause of a NaN loss for a skorch classifier with NLLLoss: skorch takes the
    log of the module's output, so a module ending in LogSoftmax gives log(negative) = NaN
    (and trains on NaN losses without a word)."""
    from skorch import NeuralNetClassifier

    if not (
        isinstance(net, NeuralNetClassifier)
        and isinstance(getattr(net, "criterion_", None), torch.nn.NLLLoss)
    ):
        return ""
    return (
        " Or: with NLLLoss, skorch's NeuralNetClassifier takes the log of the module's output, "
        "which must be probabilities; a module returning log-probabilities (nn.LogSoftmax) "
        "gives the log of negative numbers. End the module in nn.Softmax, or return logits "
        "and use criterion=nn.CrossEntropyLoss."
    )


def _check_losses_finite(losses, net, unit: str) -> None:
    """A NaN or infinite loss (per ``unit``: sample or batch) is a diverged model or bad data,
    or the log of log-probabilities (see ``_nll_hint``)."""
    if not np.isfinite(losses).all():
        raise ValueError(
            f"The data loss at the trained weights is not finite on some {unit}; the model "
            "diverged or the data hold NaN/inf. Retrain with a smaller learning rate."
            + _nll_hint(net)
        )


def _check_loss_data(net, X, y, batch_size, owner: str) -> None:
    """The checks of the public loss functions, before any pass: a fitted skorch net, targets
    (skorch's dataset gives the placeholder target 0 to every sample of y=None), finite,
    non-empty data of one length, and a positive int batch size."""
    skorch_data_loss(net)
    _require_y(X, y, owner, "the loss compares the net's predictions with y")
    check_X_y(X, y)
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(
            f"`batch_size` must be a positive int (samples per batch); got {batch_size!r}. "
            "Use e.g. batch_size=128."
        )


def _eval_batches(net, X, y, batch_size):
    """``(y_pred, y, X, n)`` for each consecutive batch, with the module in eval mode (its mode
    restored when the iteration ends or is abandoned); callers run it under ``no_grad``."""
    loader = torch.utils.data.DataLoader(
        net.get_dataset(X, y), batch_size=int(batch_size), shuffle=False, drop_last=False
    )
    module = net.module_
    was_training = module.training
    try:
        module.eval()
        for batch in loader:
            Xi, yi = unpack_data(batch)
            yield net.infer(Xi), yi, Xi, _length(Xi if yi is None else yi)
    finally:
        module.train(was_training)


@torch.no_grad()
def _batch_losses(net, X, y, batch_size):
    """Mean data loss, size and weight of each consecutive batch; the weight is what the
    batch's mean counts for in the mean over all samples (its size, or its total class weight
    for a class-weighted cross-entropy: ``skorch_data_loss(net).batch_weight``)."""
    loss_fn = skorch_data_loss(net)
    losses, sizes, weights = [], [], []
    for y_pred, yi, Xi, n in _eval_batches(net, X, y, batch_size):
        losses.append(float(loss_fn(y_pred, yi, Xi)))
        sizes.append(n)
        weight = loss_fn.batch_weight(yi)
        weights.append(n if weight is None else weight)
    return np.asarray(losses), np.asarray(sizes), np.asarray(weights, dtype=np.float64)


def _per_sample(net, loss_fn, y_pred, yi, Xi, n):
    """Per-sample data losses of one batch, scaled so that their mean is the batch's loss."""
    with _with_reduction(net.criterion_, "none") as unreduced:
        terms = net.get_loss(y_pred, yi, X=Xi, training=False) if unreduced else None
    if terms is not None and terms.dim() >= 1 and terms.shape[0] == n:
        # element means per sample (a multi-output MSE returns (n, outputs))
        terms = terms.detach().reshape(n, -1).double().mean(dim=1).cpu().numpy()
    else:  # a criterion without a reduction to switch off: one call per sample
        terms = np.array(
            [float(loss_fn(y_pred[i : i + 1], _row(yi, i), _row(Xi, i))) for i in range(n)]
        )
    # A weighted mean (class weights, ignore_index) is not the plain mean of the unreduced
    # terms; scale them so that their mean is the batch's loss, each sample keeping its share
    batch = float(loss_fn(y_pred, yi, Xi))
    total = terms.mean()
    return terms * (batch / total) if total > 0 else terms


def _row(a, i):
    if a is None:
        return None
    if isinstance(a, dict):
        return {k: v[i : i + 1] for k, v in a.items()}
    return a[i : i + 1]


@torch.no_grad()
def sample_losses(net, X, y, batch_size=256) -> np.ndarray:
    """Data loss of every training sample at the current weights (float64, in data order).

    The module runs in eval mode (restored afterwards) and the loss is
    ``net.get_loss(..., training=False)`` (no L1 penalty, skorch's NLLLoss handling
    applied), taken per sample: a torch criterion is switched to ``reduction="none"`` for
    the call (per-sample element means); one without a ``reduction`` is called once per
    sample. Within each batch the terms are scaled so that their mean is the
    batch's mean loss, so a weighted mean (class weights, ``ignore_index``) keeps each
    sample's share and the mean of the result is the data loss.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from skorch import NeuralNetRegressor
    >>> from sparselimit.limit import sample_losses
    >>> X = np.zeros((3, 1), dtype=np.float32)
    >>> y = np.array([[0], [1], [2]], dtype=np.float32)
    >>> net = NeuralNetRegressor(nn.Linear(1, 1), verbose=0).initialize()
    >>> _ = net.module_.bias.data.zero_()
    >>> sample_losses(net, X, y).tolist()  # squared errors
    [0.0, 1.0, 4.0]
    """
    _check_loss_data(net, X, y, batch_size, "sample_losses")
    return _sample_losses(net, X, y, batch_size)


@torch.no_grad()
def _sample_losses(net, X, y, batch_size):
    loss_fn = skorch_data_loss(net)
    out = [
        _per_sample(net, loss_fn, y_pred, yi, Xi, n)
        for y_pred, yi, Xi, n in _eval_batches(net, X, y, batch_size)
    ]
    return np.concatenate(out) if out else np.zeros(0)


def random_batch_loss_std(net, X, y, batch_size=128):
    """Epsilon by the ``"random_batch_std"`` rule: the standard deviation of the mean data loss
    of a mini-batch of ``batch_size`` training samples drawn at random, at the trained weights.

    Computed exactly from the per-sample losses ``l_i`` (:func:`sample_losses`) rather than
    sampled: ``epsilon = std(l) / sqrt(batch_size)`` (``ddof=0``), the standard deviation of
    the mean of ``batch_size`` losses drawn independently from the training set. It is what the
    paper's procedure -- the spread of the batch losses over one pass of a shuffled data
    loader -- estimates, without that estimate's drawbacks:

    - *order*: consecutive batches of class-sorted data (load_iris, load_wine) mix the
      between-class loss differences into the spread (2-4 times larger on such data);
    - *noise*: one pass gives ``n / batch_size`` batch losses, so the estimate scatters by
      about ``1 / sqrt(2 n / batch_size)`` (24% on digits' 1347 training samples);
    - *size*: it needs two full batches (256 samples), while this is defined for any
      ``n >= 2`` and any ``batch_size``.

    Over random orderings the paper's estimate averages to this value times the
    finite-population factor ``sqrt((n - batch_size) / (n - 1))`` (0.95 on digits; 1 in the
    limit of many samples, the paper's regime). :func:`batch_loss_std` computes the paper's
    estimate on the data's own order (``epsilon="batch_std"``, the default, which falls back
    to this function on fewer than two full batches).

    Parameters
    ----------
    net : skorch.NeuralNet
        An initialized (fitted) net.
    X, y : array-like
        The training data.
    batch_size : int, default=128
        Mini-batch size ``b``.

    Returns
    -------
    epsilon : float
        ``std(l) / sqrt(batch_size)``.
    loss : float
        The mean data loss over all of ``(X, y)``.
    losses : ndarray
        The per-sample losses.

    Raises
    ------
    ValueError
        If fewer than two samples are given, or the losses are not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from skorch import NeuralNetRegressor
    >>> from sparselimit.limit import random_batch_loss_std
    >>> X = np.zeros((4, 1), dtype=np.float32)
    >>> y = np.array([[1], [-1], [3], [-3]], dtype=np.float32)
    >>> net = NeuralNetRegressor(nn.Linear(1, 1), verbose=0).initialize()
    >>> _ = net.module_.bias.data.zero_()
    >>> eps, loss, losses = random_batch_loss_std(net, X, y, batch_size=4)
    >>> losses.tolist(), loss, eps  # std of [1, 1, 9, 9] is 4; 4 / sqrt(4) = 2
    ([1.0, 1.0, 9.0, 9.0], 5.0, 2.0)
    """
    _check_loss_data(net, X, y, batch_size, "random_batch_loss_std")
    losses = _sample_losses(net, X, y, 256)
    if losses.size < 2:
        raise ValueError(
            "epsilon='batch_std' needs at least two training samples; got "
            f"n_samples={losses.size}. Pass `epsilon` as a float."
        )
    _check_losses_finite(losses, net, "sample")
    return float(np.std(losses) / np.sqrt(int(batch_size))), float(losses.mean()), losses


def data_loss(net, X, y, batch_size=256) -> float:
    """Mean data loss of a skorch net on ``(X, y)`` (``get_loss(..., training=False)``, so
    without the L1 penalty), with the module in eval mode.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from skorch import NeuralNetRegressor
    >>> from sparselimit.limit import data_loss
    >>> X = np.ones((10, 1), dtype=np.float32); y = np.zeros((10, 1), dtype=np.float32)
    >>> net = NeuralNetRegressor(nn.Linear(1, 1, bias=False), verbose=0).initialize()
    >>> w = float(net.module_.weight.detach()[0, 0])
    >>> bool(np.isclose(data_loss(net, X, y), w**2))
    True
    """
    _check_loss_data(net, X, y, batch_size, "data_loss")
    losses, _, weights = _batch_losses(net, X, y, batch_size)
    return float(np.sum(losses * weights) / np.sum(weights))


def batch_loss_std(net, X, y, batch_size=128):
    """The paper's epsilon procedure on the data's own order: std over consecutive mini-batches
    of the batch-mean data loss.

    This is ``PruningLimitEstimator(epsilon="batch_std")``, the default. On shuffled data it
    estimates the value :func:`random_batch_loss_std` computes exactly
    (``epsilon="random_batch_std"``).

    The data are cut into consecutive batches of ``batch_size`` in their given order (no
    shuffling, no augmentation), the mean data loss of each batch is computed at the trained
    weights with the net in eval mode (``net.get_loss(..., training=False)``: no L1 penalty,
    skorch's NLLLoss log handling applied), and ``epsilon`` is the population standard
    deviation (``ddof=0``) of these batch losses. A last, partial batch is left out of the
    standard deviation (its mean is noisier than the others), but counted in the mean loss.

    Parameters
    ----------
    net : skorch.NeuralNet
        An initialized (fitted) net.
    X, y : array-like
        The training data.
    batch_size : int, default=128
        Batch size; at least two full batches are needed.

    Returns
    -------
    epsilon : float
        The standard deviation of the full batches' mean losses.
    loss : float
        The mean data loss over all of ``(X, y)``.
    batch_losses : ndarray
        The full batches' mean losses.

    Raises
    ------
    ValueError
        If there are fewer than two full batches, or the losses are not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from skorch import NeuralNetRegressor
    >>> from sparselimit.limit import batch_loss_std
    >>> X = np.zeros((6, 1), dtype=np.float32)
    >>> y = np.array([[0], [0], [1], [1], [2], [2]], dtype=np.float32)
    >>> net = NeuralNetRegressor(nn.Linear(1, 1), verbose=0).initialize()
    >>> _ = net.module_.bias.data.zero_()
    >>> eps, loss, per_batch = batch_loss_std(net, X, y, batch_size=2)
    >>> per_batch.tolist(), round(eps, 4)  # losses 0, 1, 4
    ([0.0, 1.0, 4.0], 1.6997)
    """
    _check_loss_data(net, X, y, batch_size, "batch_loss_std")
    losses, sizes, weights = _batch_losses(net, X, y, batch_size)
    _check_losses_finite(losses, net, "batch")
    loss = float(np.sum(losses * weights) / np.sum(weights))
    full = losses[sizes == int(batch_size)]
    if full.size < 2:
        raise ValueError(
            f"epsilon='batch_std' needs at least two full batches of `epsilon_batch_size`="
            f"{batch_size} samples; got {int(np.sum(sizes))} samples. Lower the batch size, or "
            "use random_batch_loss_std (epsilon='random_batch_std'), which works for any "
            "number of samples."
        )
    return float(np.std(full)), loss, full


def epsilon_by_rule(net, X, y, rule, batch_size):
    """``(epsilon, loss, rule_used)`` for ``PruningLimitEstimator(epsilon=rule)``.

    ``"batch_std"`` is the paper's procedure (:func:`batch_loss_std`) when the data hold two
    full batches; on fewer samples, where it is undefined, it falls back to its expectation,
    ``"random_batch_std"`` (:func:`random_batch_loss_std`), and says so in ``rule_used``.
    """
    n = _length(X if y is None else y)
    if rule == "batch_std" and (n is None or n >= 2 * int(batch_size)):
        eps, loss, _ = batch_loss_std(net, X, y, batch_size)
        return eps, loss, "batch_std"
    eps, loss, _ = random_batch_loss_std(net, X, y, batch_size)
    return eps, loss, "random_batch_std"
