"""Find the ``nn.Module`` behind whatever a user hands us, its masks, and its own selection."""

from __future__ import annotations

from collections.abc import Mapping

from sklearn.exceptions import NotFittedError
from torch import nn

from ._params import select_prunable

__all__ = ["resolve_module", "resolve_masks", "resolve_prunable"]


def _last_step(obj):
    """A Pipeline's last step, or None when ``obj`` is not a (non-empty) Pipeline."""
    steps = getattr(obj, "steps", None)
    if isinstance(steps, list) and steps:
        return steps[-1][1]
    return None


def _is_search(obj) -> bool:
    """A fitted hyper-parameter search (``GridSearchCV``, ``RandomizedSearchCV``, ...)."""
    return not isinstance(obj, nn.Module) and hasattr(obj, "cv_results_")


def _search_best(obj):
    """The refitted ``best_estimator_`` of a fitted search, or a clear error without one."""
    best = getattr(obj, "best_estimator_", None)
    if best is None:
        raise ValueError(
            f"This {type(obj).__name__} was fitted with refit=False, so it holds no fitted "
            "estimator to take the weights from. Fit it with refit=True (or refit=<scorer "
            "name> for several metrics), or fit the candidate you want yourself, e.g. "
            "clone(search.estimator).set_params(**search.best_params_).fit(X, y)."
        )
    return best


def resolve_module(obj) -> nn.Module:
    """Return the network held by ``obj``.

    Accepts an ``nn.Module``, an initialized skorch net (its ``module_``), a fitted
    meta-estimator exposing ``estimator_`` (such as ``GlobalOneShotPruner``), a fitted
    hyper-parameter search (``GridSearchCV``, ``RandomizedSearchCV``: its ``best_estimator_``),
    or a scikit-learn ``Pipeline`` whose last step is one of these; the lookup recurses, so a
    search over a pipeline ending in a pruner works.

    Raises
    ------
    NotFittedError
        If the skorch net is not initialized or the meta-estimator or search is not fitted.
    ValueError
        If a search was fitted with ``refit=False`` (it keeps no fitted estimator).
    TypeError
        If ``obj`` is none of the above.

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
    last = _last_step(obj)
    if last is not None:  # sklearn Pipeline: the network is in the last step
        return resolve_module(last)
    if hasattr(obj, "module"):  # a skorch net
        module = getattr(obj, "module_", None)
        if not isinstance(module, nn.Module):
            raise NotFittedError(
                f"This {type(obj).__name__} is not initialized yet; call `fit` (or "
                "`initialize()`) before asking for its weights."
            )
        return module
    if _is_search(obj):  # before the meta-estimator rule: a search has `estimator` too
        return resolve_module(_search_best(obj))
    if hasattr(obj, "estimator"):  # a meta-estimator, or a search not fitted yet
        fitted = getattr(obj, "estimator_", None)
        if fitted is None:
            raise NotFittedError(
                f"This {type(obj).__name__} instance is not fitted yet. Call `fit` with "
                "appropriate arguments before using it."
            )
        return resolve_module(fitted)
    raise TypeError(
        "Expected a torch.nn.Module, a skorch net, a fitted sparselimit meta-estimator, a "
        f"fitted GridSearchCV/RandomizedSearchCV or a Pipeline ending in one; got "
        f"{type(obj).__name__}."
    )


def resolve_masks(obj) -> dict | None:
    """Return the pruning masks in force on ``obj``, or ``None``.

    Its ``masks_`` (a fitted pruner), else, for a skorch net, the ``masks`` of its first
    callback that has them (a :class:`~sparselimit.training.MaskEnforcer`). A Pipeline is
    looked through to its last step, a fitted search to its ``best_estimator_``, and a fitted
    meta-estimator without ``masks_`` to its ``estimator_``. A bare module or an unpruned net
    has no masks.

    Examples
    --------
    >>> from torch import nn
    >>> from sparselimit.utils import resolve_masks
    >>> resolve_masks(nn.Linear(2, 1)) is None
    True
    """
    if isinstance(obj, nn.Module):
        return None
    last = _last_step(obj)
    if last is not None:
        return resolve_masks(last)
    masks = getattr(obj, "masks_", None)
    if masks is not None:
        return masks
    for _, callback in getattr(obj, "callbacks_", None) or []:
        masks = getattr(callback, "masks", None)
        if isinstance(masks, Mapping):
            return masks
    if hasattr(obj, "module"):  # a skorch net without masks
        return None
    if _is_search(obj):
        best = getattr(obj, "best_estimator_", None)
        return None if best is None else resolve_masks(best)
    inner = getattr(obj, "estimator_", None) if hasattr(obj, "estimator") else None
    return None if inner is None else resolve_masks(inner)


def _own_selection(obj):
    """What ``obj`` itself prunes: ``("masks", names)`` or ``("patterns", include, exclude)``.

    Walked from the outside in; the first level that says something wins: the keys of a
    meta-estimator's ``masks_`` (a fitted pruner), then its own ``include`` / ``exclude``,
    then a skorch net's ``prunable_include`` / ``prunable_exclude``. Masks on a skorch net
    (its ``masks_`` or a ``MaskEnforcer``) only say which entries are kept, not which tensors
    are measured: they may cover a few layers of a net whose other layers count too.
    """
    if isinstance(obj, nn.Module):
        return ("patterns", None, None)
    last = _last_step(obj)
    if last is not None:
        return _own_selection(last)
    if hasattr(obj, "module"):  # a skorch net: the L1 nets' selection (None, None otherwise)
        return (
            "patterns",
            getattr(obj, "prunable_include", None),
            getattr(obj, "prunable_exclude", None),
        )
    masks = getattr(obj, "masks_", None)
    if isinstance(masks, Mapping) and masks:  # an empty dict pruned nothing: use the patterns
        return ("masks", tuple(masks))
    if _is_search(obj):
        return _own_selection(_search_best(obj))
    include, exclude = getattr(obj, "include", None), getattr(obj, "exclude", None)
    if include is not None or exclude is not None:  # the meta-estimator's own patterns
        return ("patterns", include, exclude)
    inner = getattr(obj, "estimator_", None) if hasattr(obj, "estimator") else None
    return ("patterns", None, None) if inner is None else _own_selection(inner)


def resolve_prunable(obj, include=None, exclude=None) -> dict[str, nn.Parameter]:
    """The prunable parameters of the network held by ``obj``, as ``obj`` itself selects them.

    With ``include`` or ``exclude`` given, they select the parameters
    (:func:`~sparselimit.utils.select_prunable`) and nothing else matters. When both are
    None, the selection is the one ``obj`` pruned, looked up from the outside in (through a
    Pipeline's last step and a fitted search's ``best_estimator_``):

    1. the keys of ``masks_`` of a fitted pruner (the tensors it pruned). Masks on a skorch
       net (its ``masks_``, a :class:`~sparselimit.training.MaskEnforcer`) do not narrow the
       selection: they say which entries are kept, and may cover only some of its weights;
    2. a meta-estimator's own ``include`` / ``exclude`` (when either is set), else those of
       the net in its ``estimator_``;
    3. a skorch net's ``prunable_include`` / ``prunable_exclude`` (the L1 nets': the weights
       the penalty acted on);
    4. otherwise the default rule: the weights of Linear, Bilinear and Conv layers.

    A layer whose weight is computed by a parametrization (a
    :class:`~sparselimit.blocks.BlockSparsifier` in training) counts with the weight it
    computes (``select_prunable(..., parametrized="effective")``).

    Parameters
    ----------
    obj : torch.nn.Module, skorch net, fitted meta-estimator, fitted search or Pipeline
        Holds the network (see :func:`resolve_module`).
    include, exclude : str or list of str, default=None
        Regular expressions on parameter names that override the object's own selection.

    Returns
    -------
    params : dict of str to torch.nn.Parameter
        In registration order.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.utils._modules import resolve_prunable
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> list(resolve_prunable(net))
    ['0.weight', '2.weight']
    >>> class Pruned:  # a fitted pruner that pruned only the first layer
    ...     estimator, estimator_ = None, net
    ...     masks_ = {"0.weight": torch.ones(3, 4, dtype=torch.bool)}
    >>> list(resolve_prunable(Pruned()))
    ['0.weight']
    >>> list(resolve_prunable(Pruned(), exclude=r"^0\\."))  # the caller's patterns win
    ['2.weight']
    """
    module = resolve_module(obj)  # first: the clear not-fitted / refit=False errors
    # measures read the weights a parametrized layer computes (BlockSparsifier while it
    # trains: W * A * mask), where pruning would skip the layer
    if include is not None or exclude is not None:
        return select_prunable(module, include, exclude, parametrized="effective")
    own = _own_selection(obj)
    if own[0] == "patterns":
        return select_prunable(module, own[1], own[2], parametrized="effective")
    params = dict(module.named_parameters())
    names = set(own[1])
    unknown = sorted(names - set(params))
    if unknown:
        raise KeyError(
            f"The masks of {type(obj).__name__} name {unknown[:5]}, which are not parameters "
            f"of its {type(module).__name__} (it has {sorted(params)[:8]}...). Masks are keyed "
            "by the names of `module.named_parameters()`; recompute them for this network."
        )
    # registration order, as select_prunable gives it
    return {name: p for name, p in params.items() if name in names}
