"""The loss tolerance epsilon: how much the data loss fluctuates from batch to batch at w*."""

from __future__ import annotations

import numpy as np
import torch
from skorch.dataset import unpack_data

__all__ = ["batch_loss_std", "data_loss"]


def _batches(net, X, y, batch_size):
    dataset = net.get_dataset(X, y)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=int(batch_size), shuffle=False, drop_last=False
    )
    return loader


@torch.no_grad()
def _batch_losses(net, X, y, batch_size):
    """Mean data loss of each consecutive batch (net in eval mode, restored afterwards)."""
    module = net.module_
    was_training = module.training
    losses, sizes = [], []
    try:
        module.eval()
        for batch in _batches(net, X, y, batch_size):
            Xi, yi = unpack_data(batch)
            y_pred = net.infer(Xi)
            loss = net.get_loss(y_pred, yi, X=Xi, training=False)
            losses.append(float(loss.detach().cpu()))
            sizes.append(len(yi) if yi is not None else _batch_len(Xi))
    finally:
        module.train(was_training)
    return np.asarray(losses), np.asarray(sizes)


def _batch_len(Xi):
    if isinstance(Xi, dict):
        Xi = next(iter(Xi.values()))
    return len(Xi)


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
    losses, sizes = _batch_losses(net, X, y, batch_size)
    return float(np.sum(losses * sizes) / np.sum(sizes))


def batch_loss_std(net, X, y, batch_size=128):
    """Epsilon by the ``"batch_std"`` rule: std over mini-batches of the batch-mean data loss.

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
    losses, sizes = _batch_losses(net, X, y, batch_size)
    if not np.isfinite(losses).all():
        raise ValueError(
            "The data loss at the trained weights is not finite on some batch; the model "
            "diverged or the data hold NaN/inf. Retrain with a smaller learning rate."
        )
    loss = float(np.sum(losses * sizes) / np.sum(sizes))
    full = losses[sizes == int(batch_size)]
    if full.size < 2:
        raise ValueError(
            f"epsilon='batch_std' needs at least two full batches of `epsilon_batch_size`="
            f"{batch_size} samples; got {int(np.sum(sizes))} samples. Lower "
            "`epsilon_batch_size` or pass `epsilon` as a float."
        )
    return float(np.std(full)), loss, full
