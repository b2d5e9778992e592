"""Which parameters of a module are *prunable*.

One helper serves every part of the library (L1 penalty, pruning masks, PQ index, Hessian
operator), so that "the weights" always mean the same tensors in the same order.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable

import torch
from torch import nn
from torch.nn.utils import parametrize, prune

__all__ = ["select_prunable", "net_selection"]

# Layers whose ``weight`` is prunable by default. Normalisation layers and biases are left out:
# they hold few parameters and pruning them changes the function far more than their count says.
_DEFAULT_LAYERS = (
    nn.Linear,
    nn.Bilinear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


def _hook_source(mod: nn.Module):
    """The parameter ``mod.weight`` is computed from in a forward pre-hook, or None.

    ``torch.nn.utils.prune`` and the deprecated ``torch.nn.utils.weight_norm`` /
    ``spectral_norm`` move the weight's data to ``weight_orig`` (or ``weight_g`` and
    ``weight_v``) and recompute ``weight``, a plain tensor attribute, before every forward:
    zeroing it is undone at the next forward, and zeroing ``weight_orig`` would not follow the
    layer's own rule.
    """
    if isinstance(getattr(mod, "weight", None), nn.Parameter) or not any(
        "weight" in (getattr(hook, "_tensor_name", None), getattr(hook, "name", None))
        for hook in mod._forward_pre_hooks.values()
    ):
        return None
    return next((p for n, p in mod._parameters.items() if n.startswith("weight_")), None)


def _hook_effective_weight(mod: nn.Module) -> torch.Tensor:
    """The weight the next forward of a hooked layer uses: ``weight_orig * weight_mask`` for
    ``torch.nn.utils.prune`` (``mod.weight`` is the last forward's, stale after an edit), else
    the last forward's ``mod.weight`` (weight norm's hooks recompute it from several tensors)."""
    pruned = any(
        isinstance(hook, prune.BasePruningMethod) and hook._tensor_name == "weight"
        for hook in mod._forward_pre_hooks.values()
    )
    if pruned:
        return (mod.weight_orig * mod.weight_mask).detach()
    return mod.weight.detach()


def _as_patterns(patterns: str | Iterable[str] | None, name: str) -> list[re.Pattern]:
    if patterns is None:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    try:
        return [re.compile(p) for p in patterns]
    except (TypeError, re.error) as exc:
        raise ValueError(
            f"`{name}` must be a regular expression or a list of them, matched against parameter "
            f"names such as '0.weight'; got {patterns!r} ({exc})."
        ) from exc


def select_prunable(
    module: nn.Module,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    *,
    require: bool = True,
    parametrized: str = "skip",
) -> dict[str, nn.Parameter]:
    """Select the prunable parameters of a module, by name, in registration order.

    By default these are the ``weight`` tensors of ``Linear``, ``Bilinear`` and convolution layers
    (biases and normalisation layers are left out). ``include`` replaces that default by every
    trainable parameter whose name matches one of its patterns (``re.search``); ``exclude`` then
    removes the names matching its patterns.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    include : str or list of str, default=None
        Regular expressions selecting parameters by name instead of the default layer rule.
    exclude : str or list of str, default=None
        Regular expressions removing parameters from the selection.
    require : bool, default=True
        Raise ``ValueError`` when nothing is selected.
    parametrized : {"skip", "effective"}, default="skip"
        What to do with a default layer whose weight is computed by a parametrization
        (``torch.nn.utils.parametrize``: weight norm, or the block attention of
        :class:`~sparselimit.blocks.BlockSparsifier` while it trains), or by a forward
        pre-hook (``torch.nn.utils.prune``, the deprecated ``torch.nn.utils.weight_norm`` and
        ``spectral_norm``). ``"skip"``: leave it out, with a warning -- zeroing the tensors it
        is computed from would not zero the weight, so it cannot be pruned. ``"effective"``:
        list the weight the layer uses, as a detached tensor under the name
        ``"<layer>.weight"``, for read-only measures (sparsity, PQ index) of a network in the
        middle of such training (for ``torch.nn.utils.prune``: ``weight_orig * weight_mask``;
        for the other hooks: the weight of the last forward).

    Returns
    -------
    params : dict of str to torch.nn.Parameter
        Parameter name (as in ``module.named_parameters()``) to parameter, in registration order.
        Shared parameters appear once, under their first name in ``named_parameters()``;
        ``include`` and ``exclude`` patterns match any of their names (a decoder weight tied
        to an embedding is excluded by a pattern naming either module). With
        ``parametrized="effective"`` a parametrized layer's entry is its computed weight (a
        detached tensor, not a parameter).

    Examples
    --------
    >>> from torch import nn
    >>> from sparselimit.utils import select_prunable
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    >>> list(select_prunable(net))
    ['0.weight', '3.weight']
    >>> list(select_prunable(net, include=r"weight$", exclude=r"^1\\."))
    ['0.weight', '3.weight']
    >>> list(select_prunable(net, include=r"bias"))
    ['0.bias', '1.bias', '3.bias']
    """
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"`module` must be a torch.nn.Module; got {type(module).__name__}. Pass the network "
            "itself (for a skorch net, `net.module_`)."
        )
    if parametrized not in ("skip", "effective"):
        raise ValueError(f"`parametrized` must be 'skip' or 'effective'; got {parametrized!r}.")
    include_re = _as_patterns(include, "include")
    exclude_re = _as_patterns(exclude, "exclude")

    # every name of every tensor: a tensor shared by several modules (weight tying) is listed
    # once, under its first name, but a pattern naming any of its modules selects or
    # excludes it (excluding the tied decoder must not leave its weight pruned as the encoder's)
    aliases: dict[str, list[str]] = {}
    first: dict[int, str] = {}
    for name, p in module.named_parameters(remove_duplicate=False):
        aliases.setdefault(first.setdefault(id(p), name), []).append(name)

    def matches(name, patterns):
        return any(r.search(alias) for alias in aliases.get(name, [name]) for r in patterns)

    if include_re:
        chosen = {
            name: p
            for name, p in module.named_parameters()
            if p.requires_grad and matches(name, include_re)
        }
    else:
        chosen, skipped, hooked = {}, [], []
        for mod_name, mod in module.named_modules():
            if not isinstance(mod, _DEFAULT_LAYERS):
                continue
            if parametrize.is_parametrized(mod, "weight"):
                if parametrized == "skip":
                    skipped.append(mod_name or type(mod).__name__)
                else:  # listed where the tensor it is computed from is registered
                    plist = mod.parametrizations["weight"]
                    # one tensor ("original"), or several (weight norm: original0, original1)
                    original = plist.original if hasattr(plist, "original") else plist.original0
                    name = f"{mod_name}.weight" if mod_name else "weight"
                    chosen[id(original)] = (name, mod.weight.detach())
                continue
            source = _hook_source(mod)
            if source is not None:  # torch.nn.utils.prune, the deprecated weight_norm
                if parametrized == "skip":
                    hooked.append(mod_name or type(mod).__name__)
                else:  # the weight the layer computes, listed where its source stands
                    name = f"{mod_name}.weight" if mod_name else "weight"
                    chosen[id(source)] = (name, _hook_effective_weight(mod))
                continue
            weight = getattr(mod, "weight", None)
            if isinstance(weight, nn.Parameter):
                chosen[id(weight)] = (None, weight)
        if skipped:
            # the weight is computed from other tensors (weight_norm, spectral_norm ...):
            # zeroing them would not zero the weight, so these layers are not pruned
            warnings.warn(
                f"Layers {skipped[:5]} have a parametrized weight "
                "(torch.nn.utils.parametrize) and are not prunable; remove the parametrization "
                "first (parametrize.remove_parametrizations(layer, 'weight')) to prune them.",
                UserWarning,
                stacklevel=2,
            )
        if hooked:
            warnings.warn(
                f"Layers {hooked[:5]} compute their weight in a forward pre-hook "
                "(torch.nn.utils.prune, or the deprecated torch.nn.utils.weight_norm / "
                "spectral_norm) and are not prunable: a zeroed weight would be recomputed at "
                "the next forward. Make the weight plain first (torch.nn.utils.prune.remove("
                "layer, 'weight'), torch.nn.utils.remove_weight_norm(layer) or "
                "remove_spectral_norm(layer)) to prune them.",
                UserWarning,
                stacklevel=2,
            )
        # named_parameters order and names, matched by identity: a tensor shared by several
        # modules is listed once, under its first name -- also when that name belongs to a
        # module that is not a default layer (a Linear decoder tied to an Embedding's weight)
        chosen = {
            chosen[id(p)][0] or name: chosen[id(p)][1]
            for name, p in module.named_parameters()
            if id(p) in chosen
        }
    chosen = {name: p for name, p in chosen.items() if not matches(name, exclude_re)}
    if require and not chosen:
        raise ValueError(
            f"No prunable parameters found in {type(module).__name__} (include={include!r}, "
            f"exclude={exclude!r}). By default only the weights of Linear and Conv layers are "
            "prunable; pass `include` with a regular expression matching the parameter names "
            "you want, e.g. include=r'weight$'."
        )
    return chosen


def net_selection(net, include=None, exclude=None):
    """The ``(include, exclude)`` patterns to use on ``net``: the ones given, or, when both are
    None, the net's own ``prunable_include`` / ``prunable_exclude`` (the L1 nets'), so that the
    weights pruned or analysed are the ones the L1 penalty acted on.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from sparselimit.utils import net_selection
    >>> net = SimpleNamespace(prunable_include=r"weight$", prunable_exclude=None)
    >>> net_selection(net)
    ('weight$', None)
    >>> net_selection(net, exclude="^classifier")
    (None, '^classifier')
    """
    if include is None and exclude is None:
        return getattr(net, "prunable_include", None), getattr(net, "prunable_exclude", None)
    return include, exclude
