"""A skorch callback that keeps pruned weights at exactly zero while training."""

from __future__ import annotations

import torch
from skorch.callbacks import Callback

from ..utils import apply_masks, check_masks

__all__ = ["MaskEnforcer"]


class MaskEnforcer(Callback):
    """Keep pruned weights exactly zero during (re)training.

    Gradients of pruned entries are zeroed after the backward pass, so momentum buffers never
    build up for them, and the masks are re-applied after every optimizer step, which also undoes
    any drift from weight decay or optimizers that update zero-gradient entries (Adam's moments).

    Parameters
    ----------
    masks : dict of str to bool tensor
        Parameter name (as in ``net.module_.named_parameters()``) to mask, True where kept.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from torch import nn
    >>> from skorch import NeuralNetRegressor
    >>> from sparselimit.training import MaskEnforcer
    >>> X = np.random.RandomState(0).randn(32, 3).astype(np.float32)
    >>> y = X[:, :1].copy()
    >>> mask = {"weight": torch.tensor([[True, False, True]])}
    >>> net = NeuralNetRegressor(nn.Linear(3, 1), max_epochs=3, verbose=0, train_split=None,
    ...                          optimizer__momentum=0.9, callbacks=[MaskEnforcer(mask)])
    >>> float(net.fit(X, y).module_.weight.detach()[0, 1])
    0.0
    """

    def __init__(self, masks):
        self.masks = masks

    def _masks_on(self, net):
        params = check_masks(net.module_, self.masks)
        return {name: self.masks[name].to(params[name].device) for name in params}

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.device_masks_ = self._masks_on(net)
        params = dict(net.module_.named_parameters())
        # resolved once per training run, the masks in the weights' dtype: each batch is then
        # one in-place multiply per tensor (6x faster than by the bool mask or masked_fill_),
        # without a float copy of every mask per batch (+80% of an epoch on 8.4M weights)
        self._keep_ = [
            (params[name], mask.to(params[name].dtype)) for name, mask in self.device_masks_.items()
        ]
        apply_masks(net.module_, self.device_masks_)

    def on_grad_computed(self, net, named_parameters, X=None, y=None, training=None, **kwargs):
        for param, keep in self._keep_:
            if param.grad is not None:
                param.grad.mul_(keep)

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            with torch.no_grad():
                for param, keep in self._keep_:
                    param.mul_(keep)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("device_masks_", None)  # rebuilt at on_train_begin
        state.pop("_keep_", None)
        return state
