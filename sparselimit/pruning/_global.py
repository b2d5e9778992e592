"""Global (or per-layer) one-shot pruning of an ``nn.Module``'s prunable weights."""

from __future__ import annotations

import copy as _copy
from collections.abc import Callable, Mapping
from typing import NamedTuple

import torch
from torch import nn

from ..utils import apply_masks, check_weights_finite, select_prunable
from ..utils._params import _hook_source
from ._masks import _mask_sparsity, _masks_from_sources

__all__ = [
    "prune_global",
    "PruningResult",
    "magnitude_importance",
    "IMPORTANCES",
    "DATA_IMPORTANCES",
]


def magnitude_importance(name: str, param: torch.Tensor) -> torch.Tensor:
    """Magnitude importance ``|w|``: the score of ``importance="magnitude"``.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.pruning import magnitude_importance
    >>> magnitude_importance("weight", torch.tensor([-2.0, 0.5]))
    tensor([2.0000, 0.5000])
    """
    return param.detach().abs()


#: Named importances accepted by ``importance=``: name -> callable(name, param) -> score tensor.
#: Adding a named importance is one entry here.
IMPORTANCES: dict[str, Callable[[str, torch.Tensor], torch.Tensor]] = {
    "magnitude": magnitude_importance,
}

# Importances that are an elementwise map of the weights get a fused path: the scores are computed
# chunk by chunk straight into the selection buffer instead of being materialised per tensor.
_ELEMENTWISE: dict[Callable, Callable] = {magnitude_importance: torch.abs}


class PruningResult(NamedTuple):
    """What :func:`prune_global` returns: ``(module, masks, threshold)``.

    A named tuple, so ``module, masks, threshold = prune_global(...)`` works.

    Attributes
    ----------
    module : torch.nn.Module
        The pruned module: the one passed in (``copy=False``) or a pruned deep copy (``copy=True``).
    masks : dict of str to bool tensor
        Parameter name -> mask, True where the weight is kept, for every pruned parameter.
    threshold : float
        The largest importance score removed (``-inf`` when nothing was removed).

    Examples
    --------
    >>> from torch import nn
    >>> from sparselimit import prune_global
    >>> module, masks, threshold = prune_global(nn.Linear(10, 10), 0.3, copy=True)
    >>> int((module.weight == 0).sum()), list(masks)
    (30, ['weight'])
    """

    module: nn.Module
    masks: dict
    threshold: float

    @property
    def sparsity(self) -> float:
        """Fraction of the pruned parameters' entries removed."""
        return _mask_sparsity(self.masks)[0]

    @property
    def layer_sparsity(self) -> dict:
        """Parameter name -> fraction of its entries removed."""
        return _mask_sparsity(self.masks)[1]


def _undecayed(estimator, X, y, params=None) -> Callable:
    from ._importance import make_undecayed_importance  # lazy: needs autograd over the data

    return make_undecayed_importance(estimator, None, X, y, params=params)


#: Named importances that need the training data, which the pruners (not ``prune_global``) have:
#: name -> factory(fitted skorch net, X, y, params) -> callable(name, param) -> score tensor,
#: ``params`` the names of the parameters the pruner prunes (None: the default prunable ones).
DATA_IMPORTANCES: dict[str, Callable] = {"undecayed": _undecayed}


def _importance_error(importance, exc=ValueError):
    names = sorted({*IMPORTANCES, *DATA_IMPORTANCES})
    got = repr(importance) if isinstance(importance, str) else type(importance).__name__
    return exc(
        f"`importance` must be one of {names} or a callable(name, param) returning a score "
        f"tensor of the parameter's shape; got {got}."
    )


def _check_importance(importance) -> None:
    """Validate ``importance`` without computing anything (so pruners fail before training)."""
    if isinstance(importance, str):
        if importance not in IMPORTANCES and importance not in DATA_IMPORTANCES:
            raise _importance_error(importance)
    elif not callable(importance):
        raise _importance_error(importance, TypeError)


def _resolve_importance(importance, estimator=None, X=None, y=None, params=None) -> Callable:
    """The score callable for ``importance``; data-dependent names are built from
    ``(estimator, X, y)`` for the parameters named in ``params`` (the pruner's selection;
    None: the default prunable weights)."""
    _check_importance(importance)
    if not isinstance(importance, str):
        return importance
    if importance in IMPORTANCES:
        return IMPORTANCES[importance]
    if estimator is None:
        raise ValueError(
            f"importance={importance!r} needs the training data to compute gradients. Use "
            f"GlobalOneShotPruner(..., importance={importance!r}) or IterativePruner, or pass "
            "`sparselimit.pruning.make_undecayed_importance(net, loss_fn, X, y)` as `importance`."
        )
    return DATA_IMPORTANCES[importance](estimator, X, y, params)


def _deepcopy_module(module: nn.Module) -> nn.Module:
    """``copy.deepcopy(module)``, saying which layers stop it when torch cannot copy them."""
    try:
        return _copy.deepcopy(module)
    except RuntimeError as exc:
        # torch's message blames weight_norm for any computed non-leaf attribute; name the
        # layers whose forward pre-hook (torch.nn.utils.prune, weight_norm) made one
        hooked = [
            n or type(m).__name__ for n, m in module.named_modules() if _hook_source(m) is not None
        ]
        if not hooked:
            raise
        raise ValueError(
            f"copy=True cannot deep-copy this {type(module).__name__}: layers {hooked[:5]} "
            "compute their weight in a forward pre-hook (torch.nn.utils.prune, or the "
            "deprecated torch.nn.utils.weight_norm / spectral_norm), and torch cannot copy the "
            "computed tensor. Make the weights plain first (torch.nn.utils.prune.remove(layer, "
            "'weight'), torch.nn.utils.remove_weight_norm(layer)); prune_global leaves such "
            "layers out otherwise."
        ) from exc


def prune_global(
    module: nn.Module,
    sparsity: float,
    *,
    scope: str = "global",
    include=None,
    exclude=None,
    importance="magnitude",
    copy: bool = False,
    masks: Mapping[str, torch.Tensor] | None = None,
) -> PruningResult:
    """Prune the smallest-importance weights of a module, globally or per layer, in one shot.

    The prunable weights (by default those of Linear and Conv layers, see
    :func:`sparselimit.utils.select_prunable`) are scored, pooled, and exactly
    ``round(sparsity * D)`` of them with the smallest score are set to zero (``D`` = number of
    prunable weights; with ``scope="layer"``, ``round(sparsity * d_l)`` of every tensor; never
    all of them). Ties are broken stably (see :func:`compute_masks`). No
    ``torch.nn.utils.prune`` hooks are installed: the weights are zeroed and the masks returned
    as plain bool tensors, so the module deep-copies, pickles, saves with ``torch.save`` and its
    ``state_dict`` loads into a fresh instance.

    .. warning::
       With the default ``copy=False`` the **module passed in is modified in place** (under
       ``torch.no_grad``): calling this function is the request to prune it. Pass ``copy=True`` to
       prune a deep copy and leave ``module`` untouched.

    Parameters
    ----------
    module : torch.nn.Module
        The network (for a skorch net: ``net.module_``).
    sparsity : float in [0, 1)
        Target fraction of the prunable weights removed (already-masked weights count, see
        ``masks``).
    scope : {"global", "layer"}, default="global"
        One threshold over all prunable weights, or the same fraction removed from each tensor.
    include, exclude : str or list of str, default=None
        Regular expressions choosing the prunable parameters by name, see
        :func:`sparselimit.utils.select_prunable`.
    importance : "magnitude" or callable, default="magnitude"
        A name from :data:`IMPORTANCES` or a callable ``(name, param) -> score tensor`` of the
        parameter's shape; the smallest scores are removed. "magnitude" is ``|w|``, computed in
        chunks straight into the selection buffer.
    copy : bool, default=False
        Prune a deep copy instead of ``module`` itself.
    masks : dict of str to bool tensor, default=None
        Existing masks (True = kept) for the selected parameters; removed weights stay removed and
        count toward ``sparsity``.

    Returns
    -------
    result : PruningResult
        Named tuple ``(module, masks, threshold)``; ``result.sparsity`` and
        ``result.layer_sparsity`` give the achieved fractions.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.pruning import prune_global
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 2))
    >>> result = prune_global(net, 0.9, copy=True)
    >>> result.sparsity
    0.9
    >>> sorted(result.masks)
    ['0.weight', '2.weight']
    >>> int((result.module[0].weight == 0).sum() + (result.module[2].weight == 0).sum())
    216
    >>> int((net[0].weight == 0).sum())  # copy=True left the original untouched
    0
    """
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"`module` must be a torch.nn.Module; got {type(module).__name__}. For a skorch net "
            "pass `net.module_`, or use GlobalOneShotPruner(net, prefit=True)."
        )
    score_fn = _resolve_importance(importance)
    if copy:
        module = _deepcopy_module(module)
    params = select_prunable(module, include, exclude)
    meta = [n for n, p in params.items() if p.is_meta]
    if meta:
        raise ValueError(
            f"Parameters {meta[:5]} of {type(module).__name__} are on the 'meta' device: they "
            "have shapes but no values, so there are no magnitudes to prune by. Materialize "
            "the module first (module.to_empty(device='cpu') and load its weights)."
        )
    if sparsity is None:
        raise ValueError(
            "`sparsity` must be a float in [0, 1) (the fraction of prunable weights removed); "
            "got None. Pass e.g. sparsity=0.9."
        )
    check_weights_finite(params, where=type(module).__name__)
    if masks is not None:
        missing = [n for n in params if n not in masks]
        if missing:
            raise KeyError(
                f"`masks` has no entry for the prunable parameters {missing[:5]}; pass one mask "
                "per selected parameter (see `include` / `exclude`)."
            )
        masks = {n: masks[n] for n in params}

    with torch.no_grad():
        elementwise = _ELEMENTWISE.get(score_fn)
        if elementwise is not None:
            sources = params
        else:
            sources = {}
            for name, p in params.items():
                s = score_fn(name, p)
                if not isinstance(s, torch.Tensor):
                    raise TypeError(
                        f"`importance` must return a torch tensor of the parameter's shape; for "
                        f"'{name}' it returned a {type(s).__name__}. Return a tensor (e.g. "
                        "torch.as_tensor(scores))."
                    )
                if tuple(s.shape) != tuple(p.shape):
                    raise ValueError(
                        f"`importance` must return a tensor of the parameter's shape; for '{name}' "
                        f"it returned {getattr(s, 'shape', type(s).__name__)} instead of "
                        f"{tuple(p.shape)}."
                    )
                sources[name] = s.detach()
        new_masks, threshold = _masks_from_sources(
            sources,
            sparsity,
            scope=scope,
            masks=masks,
            elementwise=elementwise,
            check_nan=elementwise is None,  # |w| of finite weights (checked above) has no NaN
        )
        del sources
        apply_masks(module, new_masks)
    return PruningResult(module, new_masks, threshold)
