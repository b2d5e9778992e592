"""Dynamic Network Surgery (Guo, Yao & Chen, NIPS 2016) as a skorch callback.

Pruning happens *while* training, and pruned connections can come back ("splicing"): the
callback keeps the dense weights ``w``, the forward pass sees ``w * T`` (``T`` the binary masks),
and the gradient computed at ``w * T`` updates every entry of ``w``, pruned ones included, so a
pruned weight that grows back above the upper threshold is switched on again.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import torch
from skorch.callbacks import Callback

from ..utils import make_generator, select_prunable

__all__ = ["DynamicNetworkSurgery", "dns_thresholds", "dns_update_mask"]


def _check_real(
    value,
    name,
    *,
    low=None,
    high=None,
    low_closed=True,
    high_closed=True,
    allow_none=False,
    integer=False,
):
    if value is None and allow_none:
        return None
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        what = "an int" if integer else "a finite float"
        raise TypeError(f"`{name}` must be {what}; got {value!r}.")
    bad = (low is not None and (value < low if low_closed else value <= low)) or (
        high is not None and (value > high if high_closed else value >= high)
    )
    if bad:
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        interval = ("[" if low_closed else "(") + f"{lo}, {hi}" + ("]" if high_closed else ")")
        raise ValueError(f"`{name}` must be in {interval}; got {value!r}.")
    return value


def dns_thresholds(weight, c=0.0, hysteresis=0.1):
    """The Dynamic Network Surgery thresholds of one layer.

    With ``mu = mean|w|`` and ``sigma = std|w|`` (the population standard deviation),
    ``theta = max(mu + c * sigma, 0)``, ``a = (1 - hysteresis) * theta`` and
    ``b = (1 + hysteresis) * theta``.

    Parameters
    ----------
    weight : torch.Tensor
        The layer's weights (any shape).
    c : float, default=0.0
        Multiplier of the standard deviation; larger ``c`` prunes more.
    hysteresis : float, default=0.1
        Half-width of the band ``(a, b]`` in which a weight's mask is left unchanged, as a
        fraction of ``theta`` (the paper's ``a = 0.9 theta``, ``b = 1.1 theta``).

    Returns
    -------
    stats : dict
        ``{"mean", "std", "theta", "low", "high"}`` as Python floats.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.training._dns import dns_thresholds
    >>> w = torch.tensor([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, -1.0])
    >>> t = dns_thresholds(w, c=0.0)
    >>> round(t["mean"], 6), round(t["std"], 6), round(t["low"], 6), round(t["high"], 6)
    (0.55, 0.287228, 0.495, 0.605)
    """
    absw = weight.detach().abs().to(torch.float64).reshape(-1)
    if absw.numel() == 0:
        raise ValueError("Cannot compute surgery thresholds of an empty tensor.")
    mean = float(absw.mean())
    std = float(absw.std(correction=0))
    theta = max(mean + float(c) * std, 0.0)
    return {
        "mean": mean,
        "std": std,
        "theta": theta,
        "low": (1.0 - hysteresis) * theta,
        "high": (1.0 + hysteresis) * theta,
    }


def dns_update_mask(weight, mask, low, high):
    """One surgery step on one layer: prune ``|w| <= low``, splice ``|w| > high``.

    Entries with ``low < |w| <= high`` keep their current mask value (hysteresis).

    Parameters
    ----------
    weight : torch.Tensor
        The dense weights.
    mask : torch.Tensor of bool
        The current mask (True = active), same shape.
    low, high : float
        The thresholds ``a <= b`` (see :func:`dns_thresholds`).

    Returns
    -------
    mask : torch.Tensor of bool
        The new mask (a new tensor).

    Examples
    --------
    >>> import torch
    >>> from sparselimit.training._dns import dns_update_mask
    >>> w = torch.tensor([0.1, 0.5, 0.6, 1.0])
    >>> dns_update_mask(w, torch.tensor([True, False, True, False]), 0.495, 0.605)
    tensor([False, False,  True,  True])
    """
    absw = weight.detach().abs()
    # off at or below `low`; above it, on if above `high` else unchanged (boolean ops: ~3x
    # faster than nested torch.where with scalar branches, run on every surgery)
    return (absw > low) & ((absw > high) | mask.to(torch.bool))


#: ``thresholds_`` of an empty tensor: it has no magnitudes to take statistics of
_NO_STATS = {"mean": 0.0, "std": 0.0, "theta": 0.0, "low": 0.0, "high": 0.0}


class DynamicNetworkSurgery(Callback):
    """Prune while training, with splicing: Dynamic Network Surgery as a skorch callback.

    At the start of training, each prunable layer gets fixed thresholds from the magnitudes of
    its weights: ``theta = max(mean|w| + c * std|w|, 0)``, ``a = 0.9 theta``, ``b = 1.1 theta``
    (see :func:`dns_thresholds`). At training iteration ``it`` (one batch), with probability
    ``(1 + gamma * it) ** -power`` and while ``it < iter_stop``, the masks are updated from the
    dense weights: off where ``|w| <= a``, on where ``|w| > b``, unchanged in between.

    The forward and backward passes see the masked weights ``w * T``; the gradient taken there
    updates *all* of ``w`` (a straight-through estimator), so pruned weights keep learning and
    come back when they grow past ``b``. The callback keeps the dense weights itself and swaps
    them in and out of the network around each training batch:

    * ``on_batch_begin``: maybe update the masks, then set the parameters to ``w * T``;
    * ``on_grad_computed``: put the dense ``w`` back, so the optimizer steps on it with the
      gradient computed at ``w * T``;
    * ``on_batch_end``: store the stepped dense weights, set the parameters to ``w * T`` again.

    Between batches (validation, ``predict``) and after training the network holds the masked
    weights ``w * T``; ``masks_`` holds ``T``.

    Parameters
    ----------
    c : float or dict of str to float, default=0.0
        Multiplier of the standard deviation in the threshold; larger prunes more. A dict maps
        prunable parameter names (as in ``net.module_.named_parameters()``) to their own ``c``;
        layers it does not name use 0.0.
    gamma : float, default=1e-4
        Decay rate of the surgery probability ``(1 + gamma * it) ** -power``, >= 0.
    power : float, default=1.0
        Exponent of that decay, >= 0.
    iter_stop : int or None, default=None
        No surgery from this training iteration (batch) on; None: surgery until the end.
    hysteresis : float, default=0.1
        ``a = (1 - hysteresis) * theta``, ``b = (1 + hysteresis) * theta``; in [0, 1).
    include, exclude : str or list of str, default=None
        Which parameters are pruned, see :func:`sparselimit.utils.select_prunable`. When both
        are None, the net's own ``prunable_include`` / ``prunable_exclude`` (L1 nets) are used,
        else the default: the weights of Linear and Conv layers.
    random_state : int, numpy.random.RandomState, torch.Generator or None, default=None
        Source of the surgery coin flips; turned into a ``torch.Generator`` owned by the callback
        at the start of each training run. The global RNGs are never used.

    Attributes
    ----------
    masks_ : dict of str to bool tensor
        Final masks (CPU, True = kept), set at the end of training.
    thresholds_ : dict of str to dict
        Per layer ``{"mean", "std", "theta", "low", "high"}`` fixed at the start of training.
    sparsity_ : float
        Fraction of the selected weights that are pruned at the end of training.
    n_iter_ : int
        Training iterations (batches) seen.
    n_surgeries_ : int
        Iterations at which the masks were updated.
    device_masks_ : dict of str to bool tensor
        While training only: the current masks, on the parameters' device.

    Notes
    -----
    Every call of ``fit`` (or ``partial_fit``) starts a new surgery run: thresholds and masks are
    recomputed from the weights the network holds then, and the iteration count restarts at 0.
    As in the paper, surgery is meant to start from a *trained* network: train it first, then
    add the callback (``net.callbacks = [...]; net.initialize_callbacks()``) and continue with
    ``partial_fit``. On freshly initialized weights (magnitudes uniform on ``[0, u]``),
    ``c >= 2.12`` puts ``a = 0.9 theta`` above every weight of a layer, which prunes the whole
    layer at the first iteration.

    Do not combine it with :class:`~sparselimit.training.MaskEnforcer` on the same parameters,
    nor with optimizers that evaluate the loss several times per step (``LBFGS``).

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from skorch import NeuralNetClassifier
    >>> from sparselimit.training import DynamicNetworkSurgery
    >>> X = np.random.RandomState(0).randn(128, 8).astype(np.float32)
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    >>> dns = DynamicNetworkSurgery(c=0.5, random_state=0)
    >>> net = NeuralNetClassifier(
    ...     nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
    ...     criterion=nn.CrossEntropyLoss, max_epochs=3, lr=0.1, train_split=None, verbose=0,
    ...     callbacks=[("dns", dns)],
    ... ).fit(X, y)
    >>> sorted(dns.masks_)
    ['0.weight', '2.weight']
    >>> 0.0 < dns.sparsity_ < 1.0
    True
    >>> bool((net.module_[0].weight[~dns.masks_["0.weight"]] == 0).all())
    True
    """

    def __init__(
        self,
        c=0.0,
        *,
        gamma=1e-4,
        power=1.0,
        iter_stop=None,
        hysteresis=0.1,
        include=None,
        exclude=None,
        random_state=None,
    ):
        self.c = c
        self.gamma = gamma
        self.power = power
        self.iter_stop = iter_stop
        self.hysteresis = hysteresis
        self.include = include
        self.exclude = exclude
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _check_params(self, names):
        _check_real(self.gamma, "gamma", low=0.0)
        _check_real(self.power, "power", low=0.0)
        _check_real(self.iter_stop, "iter_stop", low=0, allow_none=True, integer=True)
        _check_real(self.hysteresis, "hysteresis", low=0.0, high=1.0, high_closed=False)
        if isinstance(self.c, Mapping):
            unknown = sorted(set(self.c) - set(names))
            if unknown:
                raise ValueError(
                    f"`c` names parameters that are not pruned: {unknown}. The prunable "
                    f"parameters are {list(names)}; use those names (or a single float)."
                )
            c = {name: float(_check_real(self.c.get(name, 0.0), f"c[{name!r}]")) for name in names}
        else:
            value = _check_real(self.c, "c")
            c = {name: float(value) for name in names}
        return c

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, net, X=None, y=None, **kwargs):
        include, exclude = self.include, self.exclude
        if include is None and exclude is None:  # follow the net's own selection (L1 nets)
            include = getattr(net, "prunable_include", None)
            exclude = getattr(net, "prunable_exclude", None)
        params = select_prunable(net.module_, include, exclude)
        c = self._check_params(list(params))
        self.params_ = params
        self.thresholds_ = {
            # an empty tensor (a Linear(0, k)) has no magnitudes and nothing to prune
            name: dns_thresholds(p, c[name], self.hysteresis) if p.numel() else dict(_NO_STATS)
            for name, p in params.items()
        }
        self.dense_weights_ = {name: p.detach().clone() for name, p in params.items()}
        self.device_masks_ = {
            name: torch.ones_like(p, dtype=torch.bool) for name, p in params.items()
        }
        self.rng_ = make_generator(self.random_state)
        self.n_iter_ = 0
        self.n_surgeries_ = 0
        self.swapped_ = False

    def _surgery_due(self):
        it = self.n_iter_
        if self.iter_stop is not None and it >= self.iter_stop:
            return False
        prob = (1.0 + self.gamma * it) ** (-self.power)
        return float(torch.rand((), generator=self.rng_)) < prob

    @torch.no_grad()
    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        if not training:
            return
        if self._surgery_due():
            for name, dense in self.dense_weights_.items():
                t = self.thresholds_[name]
                self.device_masks_[name] = dns_update_mask(
                    dense, self.device_masks_[name], t["low"], t["high"]
                )
            self.n_surgeries_ += 1
        self.n_iter_ += 1
        for name, p in self.params_.items():
            torch.mul(self.dense_weights_[name], self.device_masks_[name], out=p)

    @torch.no_grad()
    def on_grad_computed(self, net, named_parameters, X=None, y=None, training=None, **kwargs):
        # gradient computed at w * T; let the optimizer step on the dense w
        for name, p in self.params_.items():
            p.copy_(self.dense_weights_[name])
        self.swapped_ = True

    @torch.no_grad()
    def _store_and_mask(self):
        for name, p in self.params_.items():
            if self.swapped_:
                self.dense_weights_[name].copy_(p)
            torch.mul(self.dense_weights_[name], self.device_masks_[name], out=p)
        self.swapped_ = False

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self._store_and_mask()

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self._store_and_mask()
        self.masks_ = {name: m.detach().cpu().clone() for name, m in self.device_masks_.items()}
        total = sum(m.numel() for m in self.masks_.values())
        kept = sum(int(m.count_nonzero()) for m in self.masks_.values())
        self.sparsity_ = 1.0 - kept / total if total else 0.0
        # the dense copies and parameter references are training-time state only
        for attr in ("params_", "dense_weights_", "device_masks_", "swapped_"):
            self.__dict__.pop(attr, None)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("params_", None)  # references into the module; rebuilt at on_train_begin
        return state
