"""Plain boolean masks (True = kept) applied to a module's parameters, without prune hooks.

``torch.nn.utils.prune`` re-parametrises a module (``weight_orig`` + ``weight_mask`` + a forward
pre-hook); that breaks ``deepcopy``, ``clone``, ``torch.load(weights_only=True)`` and loading the
state_dict into a fresh instance. Zeroing the weights and keeping the masks beside the model has
none of those problems.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["apply_masks", "check_masks"]


def check_masks(module: nn.Module, masks: Mapping[str, torch.Tensor]) -> dict[str, nn.Parameter]:
    """Check that every mask names a parameter of ``module`` with the same shape.

    Returns the parameters the masks refer to, by name.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.utils import check_masks
    >>> list(check_masks(nn.Linear(3, 2), {"weight": torch.ones(2, 3, dtype=torch.bool)}))
    ['weight']
    >>> check_masks(nn.Linear(3, 2), {"weight": torch.ones(3, 2, dtype=torch.bool)})
    Traceback (most recent call last):
    ...
    ValueError: Mask for 'weight' has shape (3, 2) but the parameter has shape (2, 3); ...
    """
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"`module` must be a torch.nn.Module; got {type(module).__name__}. For a skorch net "
            "pass `net.module_`."
        )
    if not isinstance(masks, Mapping):
        raise TypeError(
            "`masks` must be a dict of parameter name to bool tensor (e.g. a pruner's "
            f"`masks_`); got {type(masks).__name__}."
        )
    params = dict(module.named_parameters())
    out = {}
    for name, mask in masks.items():
        if name not in params:
            shared = _shared_name(module, name)
            if shared is not None:  # a tied weight, keyed by its second name (state_dict has it)
                raise KeyError(
                    f"Mask for parameter '{name}': that tensor is shared with (tied to) "
                    f"'{shared}', the name `module.named_parameters()` lists it under. Key its "
                    f"mask by '{shared}' (one mask per tensor)."
                )
            raise KeyError(
                f"Mask for parameter '{name}' does not match any parameter of "
                f"{type(module).__name__} (it has {sorted(params)[:8]}...). Masks are keyed by "
                "the names of `module.named_parameters()`."
            )
        _check_mask_type(name, mask)
        if tuple(mask.shape) != tuple(params[name].shape):
            raise ValueError(
                f"Mask for '{name}' has shape {tuple(mask.shape)} but the parameter has shape "
                f"{tuple(params[name].shape)}; recompute the masks for this module."
            )
        out[name] = params[name]
    return out


def _shared_name(module: nn.Module, name: str) -> str | None:
    """The first name of the parameter ``name`` when it is a second name of a shared tensor."""
    first = {}
    for alias, p in module.named_parameters(remove_duplicate=False):
        first.setdefault(id(p), alias)
        if alias == name:
            return first[id(p)]
    return None


def _check_mask_type(name: str, mask) -> None:
    """A mask is a torch bool tensor; say what was given and how to convert it (a NumPy bool
    array's dtype prints as plain ``bool``, which made "must be a bool tensor; got bool")."""
    if isinstance(mask, torch.Tensor) and mask.dtype == torch.bool:
        return
    if isinstance(mask, torch.Tensor):
        got, fix = f"a {mask.dtype} tensor", "mask.bool() (nonzero = kept)"
    else:
        dtype = getattr(mask, "dtype", None)
        got = type(mask).__name__ if dtype is None else f"a {type(mask).__name__} of dtype {dtype}"
        fix = "torch.as_tensor(mask).bool() (nonzero = kept)"
    raise TypeError(
        f"Mask for '{name}' must be a torch bool tensor (True = kept); got {got}. Convert "
        f"it with {fix}."
    )


@torch.no_grad()
def apply_masks(module: nn.Module, masks: Mapping[str, torch.Tensor]) -> nn.Module:
    """Zero, in place, the entries of ``module``'s parameters whose mask is False.

    Parameters
    ----------
    module : torch.nn.Module
        Modified in place.
    masks : dict of str to bool tensor
        Parameter name to mask of the parameter's shape, True where the weight is kept.

    Returns
    -------
    module : torch.nn.Module
        The same module, for chaining.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.utils import apply_masks
    >>> layer = nn.Linear(2, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> _ = apply_masks(layer, {"weight": torch.tensor([[True, False], [False, True]])})
    >>> layer.weight
    Parameter containing:
    tensor([[1., 0.],
            [0., 4.]], requires_grad=True)
    """
    for name, param in check_masks(module, masks).items():
        param.mul_(masks[name].to(device=param.device, dtype=param.dtype))
    return module
