"""Temporary changes to a skorch net's criterion, undone afterwards."""

from __future__ import annotations

import contextlib

import torch

from ._validation import _class_indices

__all__ = ["_with_reduction", "_batch_weight"]


@contextlib.contextmanager
def _with_reduction(criterion, reduction):
    """Give a torch loss module ``reduction`` for the duration and restore its own after (the
    user's net is left as it was, even when the loss raises). Yields whether the criterion has
    a ``reduction`` to set: a custom criterion without one is left alone."""
    old = getattr(criterion, "reduction", None)
    if old is None:
        yield False
        return
    criterion.reduction = reduction
    try:
        yield True
    finally:
        criterion.reduction = old


def _batch_weight(criterion, y_true) -> float | None:
    """What a batch's mean loss counts for in the mean over all samples, when it is not the
    batch size (None then).

    Torch's cross-entropy / NLL on class indices divides its mean by the total class weight
    of the batch's counted labels (``weight[y]`` summed over labels other than
    ``ignore_index``): averaging such batch means by size would make the loss, and its
    Hessian, depend on how the data are batched.
    """
    if y_true is None or not isinstance(criterion, (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss)):
        return None
    y = _class_indices(torch.as_tensor(y_true))
    if y is None:  # class probabilities: averaged per sample
        return None
    counted = y[y != criterion.ignore_index]
    if criterion.weight is None:
        return float(counted.numel())
    return float(criterion.weight.detach().to(counted.device)[counted].double().sum())
