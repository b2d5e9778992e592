"""Find the ``nn.Module`` behind whatever a user hands us."""

from __future__ import annotations

from collections.abc import Mapping

from sklearn.exceptions import NotFittedError
from torch import nn

__all__ = ["resolve_module", "resolve_masks"]


def resolve_module(obj) -> nn.Module:
    """Return the network held by ``obj``.

    Accepts an ``nn.Module``, an initialized skorch net (its ``module_``), a fitted
    meta-estimator exposing ``estimator_`` (such as ``GlobalOneShotPruner``), or a
    scikit-learn ``Pipeline`` whose last step is one of these.

    Examples
    --------
    >>> from torch import nn
    >>> from sparselimit.utils import resolve_module
    >>> net = nn.Linear(2, 1)
    >>> resolve_module(net) is net
    True
    """
    if isinstance(obj, nn.Module):
        return obj
    steps = getattr(obj, "steps", None)
    if isinstance(steps, list) and steps:  # sklearn Pipeline: the network is in the last step
        return resolve_module(steps[-1][1])
    if hasattr(obj, "module"):  # a skorch net
        module = getattr(obj, "module_", None)
        if not isinstance(module, nn.Module):
            raise NotFittedError(
                f"This {type(obj).__name__} is not initialized yet; call `fit` (or "
                "`initialize()`) before asking for its weights."
            )
        return module
    if hasattr(obj, "estimator"):  # a meta-estimator
        fitted = getattr(obj, "estimator_", None)
        if fitted is None:
            raise NotFittedError(
                f"This {type(obj).__name__} instance is not fitted yet. Call `fit` with "
                "appropriate arguments before using it."
            )
        return resolve_module(fitted)
    raise TypeError(
        "Expected a torch.nn.Module, a skorch net, a fitted sparselimit meta-estimator or a "
        f"Pipeline ending in one; got {type(obj).__name__}."
    )


def resolve_masks(obj) -> dict | None:
    """Return the pruning masks in force on ``obj``, or ``None``.

    Its ``masks_`` (a fitted pruner), else, for a skorch net, the ``masks`` of its first
    callback that has them (a :class:`~sparselimit.training.MaskEnforcer`); a Pipeline is
    looked through to its last step. A bare module or an unpruned net has no masks.

    Examples
    --------
    >>> from torch import nn
    >>> from sparselimit.utils import resolve_masks
    >>> resolve_masks(nn.Linear(2, 1)) is None
    True
    """
    steps = getattr(obj, "steps", None)
    if isinstance(steps, list) and steps:
        return resolve_masks(steps[-1][1])
    masks = getattr(obj, "masks_", None)
    if masks is not None:
        return masks
    for _, callback in getattr(obj, "callbacks_", None) or []:
        masks = getattr(callback, "masks", None)
        if isinstance(masks, Mapping):
            return masks
    return None
