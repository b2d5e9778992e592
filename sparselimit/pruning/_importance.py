"""Importance criteria that need data: Undecayed Pruning (Good et al., NeurIPS 2022).

For weights trained with weight decay ``lambda`` (training loss
``L_data(w) + lambda/2 * |w|^2``), weight ``i`` scores ``s_i = -w_i g_i + lambda w_i^2`` with
``g`` the *data*-loss gradient: the first-order change of the data loss when the weight is
removed (the gradient criterion) plus a magnitude term scaled by the decay, which keeps the
decay's pull on the weights apart from the data loss' variation. Magnitude pruning ignores that
a weight held small by weight decay may still matter to the data loss; Undecayed Pruning removes
the weights with the smallest ``|s_i|``.

The scores plug into the pruners' ``importance=`` hook as a callable ``(name, param) -> score``
(:func:`make_undecayed_importance`). They depend on the weights they were computed from:
iterative pruning must recompute them after every retraining round.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import torch
from torch import nn

from ..utils import check_X_y, select_prunable
from ..utils._criterion import _batch_weight, _with_reduction
from ..utils._validation import _dense, _require_y, _rng_shielded

__all__ = ["undecayed_score", "undecayed_importance", "make_undecayed_importance"]


def undecayed_score(weight, grad, weight_decay: float) -> torch.Tensor:
    """Signed Undecayed Pruning score ``s = -w * g + weight_decay * w**2``.

    Examples
    --------
    The worked example: index 0 has the smallest ``|s|`` and is pruned first, where magnitude
    pruning would remove index 2.

    >>> import torch
    >>> from sparselimit.pruning._importance import undecayed_score
    >>> w = torch.tensor([0.5, -0.2, 0.1], dtype=torch.float64)
    >>> g = torch.tensor([0.1, 0.3, -2.0], dtype=torch.float64)
    >>> s = undecayed_score(w, g, 5e-4)
    >>> s
    tensor([-0.0499,  0.0600,  0.2000], dtype=torch.float64)
    >>> [round(v, 6) for v in s.tolist()]
    [-0.049875, 0.06002, 0.200005]
    >>> int(s.abs().argmin()), int(w.abs().argmin())
    (0, 2)
    """
    weight = torch.as_tensor(weight)
    grad = torch.as_tensor(grad, device=weight.device)
    if grad.shape != weight.shape:
        raise ValueError(
            f"`grad` must have the shape of `weight` {tuple(weight.shape)} (one gradient entry "
            f"per weight); got {tuple(grad.shape)}. Pass the gradient of this parameter."
        )
    weight_decay = _check_weight_decay(weight_decay)
    # integer weights or gradients would truncate the product: score in floating point
    dtype = torch.result_type(weight, grad)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    weight, grad = weight.to(dtype), grad.to(dtype)
    return -weight * grad + weight_decay * weight * weight


def _check_weight_decay(weight_decay) -> float:
    if (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, numbers.Real)
        or not np.isfinite(weight_decay)
        or weight_decay < 0
    ):
        raise ValueError(
            "`weight_decay` must be a non-negative float (the lambda the network was trained "
            f"with, e.g. 5e-4); got {weight_decay!r}."
        )
    return float(weight_decay)


def _optimizer_weight_decay(net, tensors) -> list[float]:
    """The weight decay a skorch net's optimizer applies to each of ``tensors``: its param
    group's (defaults included), else the net's ``optimizer__weight_decay`` (0 if unset)."""
    fallback = _check_weight_decay(net.get_params().get("optimizer__weight_decay", 0.0))
    by_id = {}
    for group in getattr(getattr(net, "optimizer_", None), "param_groups", None) or []:
        lam = group.get("weight_decay", 0.0) or 0.0
        for p in group.get("params", []):
            by_id[id(p)] = _check_weight_decay(float(lam))
    return [by_id.get(id(t), fallback) for t in tensors]


def _is_skorch(obj) -> bool:
    return hasattr(obj, "module") and hasattr(obj, "get_loss") and hasattr(obj, "get_iterator")


def _resolve_params(module: nn.Module, params) -> dict[str, nn.Parameter]:
    if params is None:
        return select_prunable(module)
    named = dict(module.named_parameters())
    if isinstance(params, Mapping):
        params = list(params)
    if isinstance(params, str) or not isinstance(params, Iterable):
        raise TypeError(
            "`params` must be None (the prunable weights), or parameter names / a dict keyed by "
            f"them; got {params!r}."
        )
    missing = [n for n in params if n not in named]
    if missing:
        raise KeyError(
            f"`params` names {missing} are not parameters of {type(module).__name__} (it has "
            f"{sorted(named)[:8]}...)."
        )
    return {n: named[n] for n in params}


def _batches(X, y, batch_size):
    X = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    y = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    for i in range(0, len(X), batch_size):
        yield X[i : i + batch_size], y[i : i + batch_size]


def undecayed_importance(
    model,
    loss_fn: Callable | None,
    X,
    y,
    weight_decay: float | None = None,
    params=None,
    *,
    batch_size: int = 256,
) -> dict[str, torch.Tensor]:
    """Undecayed Pruning importance ``|s| = |-w * g + weight_decay * w**2|`` per parameter.

    ``g`` is the gradient of the mean data loss over ``(X, y)`` (pass a minibatch for the
    paper's stochastic estimate), computed in eval mode with ``torch.autograd.grad``: the
    module's ``.grad`` fields, training mode and ``requires_grad`` flags are left as they were.

    Parameters
    ----------
    model : torch.nn.Module or skorch net
        The trained network. For a skorch net ``net.module_`` is scored, its data loss
        (``net.get_loss(..., training=False)``, no regulariser) and iterator are used.
    loss_fn : callable or None
        ``loss_fn(output, y) -> scalar`` mean data loss, e.g. ``nn.CrossEntropyLoss()``;
        ``None`` for a skorch net (its criterion).
    X, y : array-like or tensor
        Data for the gradient.
    weight_decay : float, default=None
        The ``lambda`` of training. ``None``, for a skorch net: the ``weight_decay`` its
        optimizer applied to each parameter -- that of the parameter's group in
        ``net.optimizer_.param_groups``, so an optimizer's own default counts (AdamW's 0.01)
        and so do per-group values -- else ``optimizer__weight_decay`` (0 if unset). Required
        for a plain module.
    params : None, iterable of str or dict, default=None
        Parameters to score, by name; default: the prunable weights (``select_prunable``).
    batch_size : int, default=256
        Batch size of the gradient pass for a plain module (a skorch net uses its own).

    Returns
    -------
    scores : dict of str to tensor
        Parameter name to the non-negative score ``|s|`` of the parameter's shape (detached).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.pruning._importance import undecayed_importance
    >>> layer = nn.Linear(3, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.tensor([[0.5, -0.2, 0.1]]))
    >>> X = torch.tensor([[1.0, 0.0, 2.0]]); y = torch.tensor([[1.0]])
    >>> scores = undecayed_importance(layer, nn.MSELoss(), X, y, weight_decay=5e-4)
    >>> # g = 2 (w.x - y) x = [-0.6, 0, -1.2];  |s| = |-w g + 5e-4 w^2|
    >>> [round(v, 6) for v in scores["weight"].flatten().tolist()]
    [0.300125, 2e-05, 0.120005]
    >>> layer.weight.grad is None
    True
    """
    check_X_y(X, y)
    net = model if _is_skorch(model) else None
    why = "the gradient is that of the data loss of (X, y)"
    if net is not None:  # skorch's dataset would give every sample the placeholder target 0
        _require_y(X, y, "undecayed_importance", why)
    elif y is None:
        raise ValueError(
            f"undecayed_importance requires y to be passed, but the target y is None: {why}, "
            "loss_fn(model(X), y). Pass the targets the model was trained on."
        )
    if net is not None:
        module = getattr(net, "module_", None)
        if not isinstance(module, nn.Module):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"This {type(net).__name__} is not initialized yet; fit it before scoring."
            )
    elif isinstance(model, nn.Module):
        module = model
        if loss_fn is None:
            raise ValueError(
                "`loss_fn` is required for a plain nn.Module: pass the data loss, e.g. "
                "nn.CrossEntropyLoss() (mean reduction). Only a skorch net brings its own."
            )
        if weight_decay is None:
            raise ValueError(
                "`weight_decay` is required for a plain nn.Module: pass the lambda it was "
                "trained with (0.0 if none)."
            )
    else:
        raise TypeError(
            f"`model` must be a torch.nn.Module or a skorch net; got {type(model).__name__}."
        )
    if weight_decay is not None:
        weight_decay = _check_weight_decay(weight_decay)
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int; got {batch_size!r}.")
    selected = _resolve_params(module, params)
    names, tensors = list(selected), list(selected.values())
    if not tensors:
        raise ValueError("`params` selects no parameter to score.")
    if weight_decay is None:  # a skorch net: what its optimizer applied to each tensor
        decays = _optimizer_weight_decay(net, tensors)
    else:
        decays = [weight_decay] * len(tensors)

    grads = [torch.zeros_like(p, dtype=torch.float64) for p in tensors]
    # skorch's DataLoader draws a seed from the global RNG: leave it where it was
    with _rng_shielded():
        _accumulate_gradients(net, module, loss_fn, X, y, tensors, grads, batch_size)
    return {
        name: undecayed_score(p.detach().to(torch.float64), g, lam).abs().to(p.dtype)
        for name, p, g, lam in zip(names, tensors, grads, decays)
    }


def _accumulate_gradients(net, module, loss_fn, X, y, tensors, grads, batch_size):
    """Add the mean data-loss gradient over ``(X, y)`` of ``tensors`` to ``grads`` (float64),
    in eval mode; the modes and ``requires_grad`` flags are restored.

    Batch means are combined by what each counts for in the mean over all samples: its size,
    or its total class weight for a class-weighted cross-entropy (``_batch_weight``), so the
    gradient does not depend on the batching. A skorch net's criterion is switched to mean
    reduction for the pass (a ``"sum"`` criterion would scale each batch by its size)."""
    device = tensors[0].device
    modes = {m: m.training for m in module.modules()}
    flags = [p.requires_grad for p in tensors]
    X = _dense(X)  # a scipy.sparse X has no len()
    total = 0.0
    try:
        module.eval()
        for p in tensors:
            p.requires_grad_(True)
        if net is not None:
            dataset = net.get_dataset(X, y)
            batches = ((xb, yb) for xb, yb in net.get_iterator(dataset, training=False))
        else:
            batches = _batches(X, y, int(batch_size))
        with contextlib.ExitStack() as stack:
            if net is not None:
                stack.enter_context(_with_reduction(net.criterion_, "mean"))
            for xb, yb in batches:
                total += _add_batch_gradient(net, module, loss_fn, xb, yb, tensors, grads, device)
        for acc in grads:
            acc.div_(total)
    finally:
        for m, mode in modes.items():
            m.train(mode)
        for p, flag in zip(tensors, flags):
            p.requires_grad_(flag)


def _add_batch_gradient(net, module, loss_fn, xb, yb, tensors, grads, device) -> float:
    """Add one batch's mean-loss gradient, times the batch's weight, to ``grads``; return the
    weight."""
    with torch.enable_grad():
        if net is not None:
            out = net.infer(xb)
            # a module may return a tuple (skorch: the first element is the prediction); the
            # targets go where the outputs are
            first = out[0] if isinstance(out, (tuple, list)) else out
            yb = yb.to(first.device) if isinstance(yb, torch.Tensor) else yb
            loss = net.get_loss(out, yb, X=xb, training=False)
        else:
            xb = xb.to(device)
            if xb.is_floating_point():
                xb = xb.to(tensors[0].dtype)
            yb = yb.to(device)
            loss = loss_fn(module(xb), yb)
        if not torch.isfinite(loss):
            raise ValueError(
                f"The data loss is not finite ({float(loss)}) on a batch of X; check X, y and "
                "that `loss_fn` matches the network's output."
            )
        batch_grads = torch.autograd.grad(loss, tensors, allow_unused=True)
    criterion = net.criterion_ if net is not None else loss_fn
    weight = _batch_weight(criterion, yb)
    weight = float(len(yb)) if weight is None else weight
    for acc, g in zip(grads, batch_grads):
        if g is not None:
            acc.add_(g.detach().to(torch.float64), alpha=weight)
    return weight


def make_undecayed_importance(
    model, loss_fn, X, y, weight_decay=None, params=None, *, batch_size: int = 256
) -> Callable[[str, torch.Tensor], torch.Tensor]:
    """An ``importance=`` callable ``(name, param) -> |s|`` for the pruners.

    The scores are computed once, now, by :func:`undecayed_importance` (same arguments) and
    looked up by parameter name, so the callable also serves the deep copy that
    ``prune_global(..., copy=True)`` scores. Recompute it after retraining.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.pruning import prune_global
    >>> from sparselimit.pruning._importance import make_undecayed_importance
    >>> layer = nn.Linear(3, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.tensor([[0.5, -0.2, 0.1]]))
    >>> X = torch.tensor([[1.0, 0.0, 2.0]]); y = torch.tensor([[1.0]])
    >>> imp = make_undecayed_importance(layer, nn.MSELoss(), X, y, weight_decay=0.0)
    >>> prune_global(layer, 1 / 3, importance=imp, copy=True).masks["weight"]
    tensor([[ True, False,  True]])
    """
    scores = undecayed_importance(model, loss_fn, X, y, weight_decay, params, batch_size=batch_size)

    def undecayed(name: str, param: torch.Tensor) -> torch.Tensor:
        if name not in scores:
            raise KeyError(
                f"No Undecayed score for parameter '{name}' (scored: {sorted(scores)}); build "
                "the importance with `params` covering the pruned parameters."
            )
        score = scores[name]
        if tuple(score.shape) != tuple(param.shape):
            raise ValueError(
                f"Undecayed score of '{name}' has shape {tuple(score.shape)} but the parameter "
                f"has {tuple(param.shape)}; recompute the importance for this network."
            )
        return score.to(param.device)

    undecayed.scores = scores
    return undecayed
