"""PQ Index: a sparsity measure of weight vectors (Diao et al., ICLR 2023).

For ``0 < p < q`` and a non-zero ``w`` in ``R^d``::

    I_{p,q}(w) = 1 - d^(1/q - 1/p) * ||w||_p / ||w||_q = 1 - M_p(|w|) / M_q(|w|)

with the power means ``M_r(x) = (mean x^r)^(1/r)``. Larger values mean sparser weights.

Everything is computed in float64 from per-unit *power sums* taken relative to the unit's
largest magnitude, so no power of a tiny or huge weight can underflow or overflow, and several
tensors pool into one global value without being concatenated (see ``_Stats``).
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ..utils import (
    check_masks,
    check_weights_finite,
    resolve_masks,
    resolve_module,
)
from ..utils._modules import resolve_prunable
from ..utils._validation import _all_finite

__all__ = ["pq_index", "PQIndex"]


def _check_pq(p, q) -> tuple[float, float]:
    """Validate the exponents: real, finite, ``0 < p < q``."""
    for name, value in (("p", p), ("q", q)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"`{name}` must be a positive real number (the PQ index needs 0 < p < q); got "
                f"{value!r} of type {type(value).__name__}."
            )
        if not math.isfinite(value):
            raise ValueError(
                f"`{name}` must be a finite positive number (0 < p < q); got {value!r}. The "
                "usual choices are p=0.5, q=1.0 or p=1.0, q=2.0."
            )
    if p <= 0:
        raise ValueError(
            f"`p` must be > 0 (the PQ index needs 0 < p < q); got p={p!r}, q={q!r}. Use a "
            "positive p below q, e.g. p=0.5 with q=1.0."
        )
    if p >= q:
        raise ValueError(
            f"The PQ index needs p < q; got p={p!r} and q={q!r}. Swap them or pick a smaller "
            "p, e.g. p=0.5 with q=1.0 (the default) or p=1.0 with q=2.0."
        )
    return float(p), float(q)


class _Stats(NamedTuple):
    """Per-unit power sums of ``|w|`` relative to the unit's maximum ``m``.

    ``s_p = sum (|w_i| / m)^p``, ``s_q = sum (|w_i| / m)^q`` and ``d`` the number of entries,
    over the kept (unmasked) entries only; all float64 tensors of the same shape (one value per
    unit). ``m == 0`` marks a unit with no non-zero kept entry.
    """

    m: torch.Tensor
    s_p: torch.Tensor
    s_q: torch.Tensor
    d: torch.Tensor


#: float64 entries converted at a time by ``_row_stats`` (8 MiB): the power sums are taken block
#: by block, so a 30M-weight tensor needs a few MiB of scratch instead of several full-size
#: float64 copies.
_BLOCK = 1 << 20


def _row_stats(w: torch.Tensor, keep: torch.Tensor | None, p: float, q: float) -> _Stats:
    """Power sums of each row of the 2-D tensor ``w`` (``keep``: bool, same shape, or None)."""
    a = w.detach()
    if a.device.type == "mps":  # no float64 there
        a, keep = a.cpu(), None if keep is None else keep.cpu()
    n_rows, n_cols = a.shape
    step = max(1, _BLOCK // max(n_rows, 1))
    blocks = [slice(j, j + step) for j in range(0, n_cols, step)]

    def magnitudes(cols):  # |w| of a column block in float64, masked entries 0
        block = a[:, cols]
        # integers and bools go to float64 first: |int8(-128)| overflows, torch has no |bool|
        if block.is_floating_point() or block.is_complex():
            block = block.abs().to(torch.float64)
        else:
            block = block.double().abs_()
        # in place by the bool mask: 3x faster than masked_fill, the same values for finite
        # weights (a non-finite pruned entry gives NaN, as the weights have then diverged)
        return block if keep is None else block.mul_(keep[:, cols])

    if keep is None:
        d = torch.full((n_rows,), n_cols, dtype=torch.float64, device=a.device)
    elif n_rows == 1:  # a flattened tensor: count_nonzero is ~20x faster than a bool sum
        d = keep.count_nonzero().to(torch.float64).reshape(1)
    else:
        d = keep.sum(dim=1, dtype=torch.float64)
    m = torch.zeros(n_rows, dtype=torch.float64, device=a.device)
    for cols in blocks:
        m = torch.maximum(m, magnitudes(cols).amax(dim=1))
    scale = torch.where(m > 0, m, 1.0)[:, None]
    s_p = torch.zeros_like(m)
    s_q = torch.zeros_like(m)
    for cols in blocks:
        block = magnitudes(cols).div_(scale)  # entries in [0, 1], the largest is 1
        s_p += block.pow(p).sum(dim=1)
        s_q += (block if q == 1.0 else block.pow_(q)).sum(dim=1)  # pow(x, 1) is a copy
    # one value per row: small, so on the CPU, where tensors from several devices can pool
    return _Stats(*(t.cpu() for t in (m, s_p, s_q, d)))


def _pool(stats: list[_Stats], p: float, q: float) -> _Stats:
    """Pool several units into one: rescale each unit's sums to the common maximum."""
    m = torch.stack([s.m.max() for s in stats]).max()
    s_p = s_q = d = 0.0
    for s in stats:
        rel = s.m / torch.where(m > 0, m, 1.0)  # <= 1: the rescaling can only shrink
        s_p = s_p + (s.s_p * rel.pow(p)).sum()
        s_q = s_q + (s.s_q * rel.pow(q)).sum()
        d = d + s.d.sum()
    return _Stats(m.reshape(1), s_p.reshape(1), s_q.reshape(1), d.reshape(1))


def _pq_from_stats(stats: _Stats, p: float, q: float) -> np.ndarray:
    """PQ index per unit as a float64 NumPy array; NaN where it is undefined (all zero)."""
    defined = stats.m > 0
    d = torch.where(defined, stats.d, 1.0)
    mean_p = torch.where(defined, stats.s_p, 1.0) / d
    mean_q = torch.where(defined, stats.s_q, 1.0) / d
    # M_p <= M_q (power-mean inequality): clip the rounding error that could push I below 0
    value = (1.0 - mean_p.pow(1.0 / p) / mean_q.pow(1.0 / q)).clamp_min(0.0)
    return torch.where(defined, value, torch.nan).numpy()


def _as_tensor(w, name: str) -> torch.Tensor:
    if isinstance(w, torch.Tensor):
        return w.detach()
    if isinstance(w, nn.Module) or hasattr(w, "module_") or hasattr(w, "estimator"):
        raise TypeError(
            f"`{name}` must be a weight array or tensor; got the model {type(w).__name__}. "
            "For the PQ index of a network's prunable weights use "
            "sparselimit.metrics.PQIndex().score(model) (scope='layer' or 'neuron' per unit)."
        )
    try:
        arr = np.asarray(w)
        # complex weights stay complex: the index is of |w|, as for a complex tensor (a
        # float64 cast kept the real parts only)
        dtype = np.complex128 if np.iscomplexobj(arr) else np.float64
        # contiguous: torch.from_numpy rejects views with negative strides (w[::-1], np.flip)
        arr = np.ascontiguousarray(arr, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"`{name}` must be a numeric array-like (NumPy array, torch tensor or list of "
            f"numbers); got {type(w).__name__} ({exc})."
        ) from exc
    return torch.from_numpy(arr)


_TRANSPOSED_CONV = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _neuron_rows(t: torch.Tensor, owner) -> torch.Tensor:
    """``t`` (a weight of ``owner``, or its mask) as one row per output unit.

    Linear, Bilinear and Conv weights have the output units along dimension 0. A transposed
    convolution's weight is ``(in_channels, out_channels // groups, *kernel)``: output channel
    ``g * (out_channels // groups) + j`` is column ``j`` of the rows of group ``g``.
    """
    # sizes spelled out rather than -1, which torch cannot infer for a zero-size layer
    if isinstance(owner, _TRANSPOSED_CONV) and t.dim() >= 2:
        groups, out_per_group = owner.groups, t.shape[1]
        in_per_group, kernel = t.shape[0] // groups, math.prod(t.shape[2:])
        # (group, in per group, out per group, kernel) -> (group, out per group, in, kernel)
        t = t.reshape(groups, in_per_group, out_per_group, kernel).permute(0, 2, 1, 3)
        return t.reshape(groups * out_per_group, in_per_group * kernel)
    return t.reshape(t.shape[0], math.prod(t.shape[1:]))


def _owner(module: nn.Module, name: str):
    """The submodule whose ``weight`` the parameter ``name`` is, else None."""
    prefix, _, attr = name.rpartition(".")
    if attr != "weight":
        return None
    try:
        return module.get_submodule(prefix)
    except AttributeError:
        return None


def pq_index(w, p=0.5, q=1.0, *, mask=None) -> float:
    """PQ Index of a weight vector: how sparse it is, from 0 (all magnitudes equal) up.

    For ``0 < p < q`` and a non-zero ``w`` with ``d`` entries,
    ``I_{p,q}(w) = 1 - d^(1/q - 1/p) ||w||_p / ||w||_q``, which equals
    ``1 - M_p(|w|) / M_q(|w|)`` with the power means ``M_r(x) = (mean x^r)^(1/r)``.
    It lies in ``[0, 1 - d^(1/q - 1/p)]``, is 0 exactly when all ``|w_i|`` are equal, grows as
    ``w`` gets sparser, and is invariant to scaling, sign flips, permutations and cloning
    (``[w, w]`` has the index of ``w``).

    Parameters
    ----------
    w : array-like or torch.Tensor
        The weights, of any shape (flattened). Computed in float64.
    p : float, default=0.5
        Smaller exponent, ``0 < p < q``.
    q : float, default=1.0
        Larger exponent.
    mask : array-like or torch.Tensor of bool, default=None
        Same shape as ``w``; ``True`` marks the entries kept (unpruned). Only those enter the
        index, and ``d`` is their count. ``None`` keeps every entry.

    Returns
    -------
    index : float
        The PQ index ``I_{p,q}(w)``.

    Raises
    ------
    ValueError
        If ``p <= 0`` or ``p >= q``, if ``w`` is empty (or fully masked), holds NaN or
        infinity, or is all zero (the index is undefined there).

    See Also
    --------
    PQIndex : The same measure over the weights of a network, as a scorer.

    References
    ----------
    Diao, Wang, Zhang, Yang, Ding, Tarokh. "Pruning Deep Neural Networks from a Sparsity
    Perspective", ICLR 2023.

    Examples
    --------
    >>> from sparselimit.metrics import pq_index
    >>> pq_index([1.0, 0.0, 0.0, 0.0])
    0.75
    >>> pq_index([1.0, 1.0, 1.0, 1.0])
    0.0
    >>> round(pq_index([3.0, 1.0], p=1.0, q=2.0), 6)
    0.105573
    >>> round(pq_index([1.0, 2.0, 3.0, 4.0], mask=[True, True, False, False]), 6)
    0.028595
    """
    p, q = _check_pq(p, q)
    t = _as_tensor(w, "w").reshape(1, -1)
    keep = None
    if mask is not None:
        keep = mask if isinstance(mask, torch.Tensor) else np.ascontiguousarray(mask)
        keep = torch.as_tensor(keep)
        if keep.numel() != t.numel():
            raise ValueError(
                f"`mask` must have one entry per weight; got {keep.numel()} mask entries for "
                f"{t.numel()} weights. Pass a bool array of the same shape as `w`."
            )
        keep = keep.to(device=t.device, dtype=torch.bool).reshape(1, -1)
    if t.numel() == 0 or (keep is not None and not bool(keep.any())):
        raise ValueError(
            "PQ index is undefined for an empty weight vector (or one whose entries are all "
            "masked out); pass at least one weight."
        )
    if not _all_finite(t):
        raise ValueError(
            "`w` contains NaN or infinity; the PQ index needs finite weights. The model may have "
            "diverged: retrain it (e.g. with a smaller learning rate) or clean the weights."
        )
    value = float(_pq_from_stats(_row_stats(t, keep, p, q), p, q)[0])
    if math.isnan(value):
        raise ValueError(
            "PQ index is undefined for an all-zero weight vector (its norms are 0); every "
            "(unmasked) weight is zero. Check that the right weights are selected and that the "
            "network was not pruned away entirely."
        )
    return value


_SCOPES = ("global", "layer", "neuron")


class PQIndex(BaseEstimator):
    """PQ Index of a network's prunable weights, usable as a scikit-learn scorer.

    Measures how sparse the weights are (see :func:`pq_index`): 0 when all magnitudes are equal,
    larger for sparser weights. Only the prunable weights enter, and when pruning masks are
    available (``masks_`` on a fitted pruner) only the kept (unmasked) entries: ``d`` is their
    number. Which weights are prunable: ``include`` / ``exclude`` when either is given, else
    the ones ``obj`` itself pruned or penalised (see Notes), else the weights of Linear and
    Conv layers (:func:`sparselimit.utils.select_prunable`).

    Parameters
    ----------
    p : float, default=0.5
        Smaller exponent, ``0 < p < q``.
    q : float, default=1.0
        Larger exponent.
    scope : {"global", "layer", "neuron"}, default="global"
        ``"global"`` pools all prunable weights into one vector. ``"layer"`` computes one index
        per weight tensor, ``"neuron"`` one per output unit: row ``i`` along dimension 0, the
        other dimensions flattened, so a convolution filter is one neuron. A transposed
        convolution's weight is ``(in_channels, out_channels // groups, *kernel)``, so there
        output channel ``g * (out_channels // groups) + j`` gathers column ``j`` of the rows
        of group ``g`` (``out_channels`` values in all, in output-channel order). For these
        two, :meth:`score` is the unweighted mean over the units.
    include : str or list of str, default=None
        Regular expressions selecting the weights by parameter name; see
        :func:`~sparselimit.utils.select_prunable`. Given (or ``exclude`` given), they replace
        the object's own selection.
    exclude : str or list of str, default=None
        Regular expressions removing weights from the selection.

    Notes
    -----
    With ``include`` and ``exclude`` both None, the weights measured are those ``obj``
    selects itself, so the index is over the weights that were pruned: the keys of
    ``masks_`` of a fitted pruner; else a meta-estimator's own ``include`` / ``exclude``;
    else the skorch net's ``prunable_include`` / ``prunable_exclude`` (the L1 nets'); else
    the default rule. (Masks on a skorch net, its ``masks_`` or a
    :class:`~sparselimit.training.MaskEnforcer`'s, give the kept entries, not the
    selection.) A Pipeline is looked through to its last step, a
    fitted ``GridSearchCV`` / ``RandomizedSearchCV`` to its ``best_estimator_``.

    A unit (layer or neuron) whose kept weights are all zero, or that is fully masked, has no
    PQ index: :meth:`score_units` reports NaN for it and :meth:`score` leaves it out of the
    mean. When every unit is such, :meth:`score` raises ``ValueError``.

    As a scorer, ``PQIndex()(estimator, X, y)`` ignores ``X`` and ``y`` and returns
    ``score(estimator)``, so ``GridSearchCV(scoring={"acc": "accuracy", "pqi": PQIndex()})``
    reports it per split. Scorers are *maximised*: a higher PQ index means sparser weights, so
    ``refit="pqi"`` would pick the sparsest candidate, whatever its accuracy.

    Masks (dict of parameter name to bool tensor, ``True`` = kept) are, unless passed
    explicitly, those :func:`~sparselimit.utils.resolve_masks` finds: the ``masks_`` attribute of
    ``obj`` (through a Pipeline's last step), else, for a skorch net, the ``masks`` of its first
    callback that has them (:class:`~sparselimit.training.MaskEnforcer`), through a fitted
    search's ``best_estimator_`` and a meta-estimator's ``estimator_``. A selected weight
    without a mask is fully kept; masks of unselected parameters are ignored. Masks passed to
    :meth:`score` give the kept entries only; they do not change which weights are selected.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.metrics import PQIndex
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    ...     _ = net[2].weight.copy_(torch.tensor([[1.0, 1.0]]))
    >>> PQIndex().score(net)  # the 6 weights [1, 0, 0, 0, 1, 1]
    0.5
    >>> PQIndex(scope="layer").score_units(net)
    {'0.weight': 0.75, '2.weight': 0.0}
    >>> PQIndex(scope="layer").score(net)  # mean over the layers
    0.375
    """

    _parameter_constraints: dict = {
        "p": [Interval(numbers.Real, 0, None, closed="neither")],
        "q": [Interval(numbers.Real, 0, None, closed="neither")],
        "scope": [StrOptions(set(_SCOPES))],
        "include": [str, list, tuple, None],
        "exclude": [str, list, tuple, None],
    }

    def __init__(self, p=0.5, q=1.0, scope="global", include=None, exclude=None):
        self.p = p
        self.q = q
        self.scope = scope
        self.include = include
        self.exclude = exclude

    def _validate(self) -> tuple[float, float]:
        self._validate_params()
        return _check_pq(self.p, self.q)

    def _units(self, obj, masks, *, strict: bool) -> dict:
        """Per-unit values: ``{"global": float}``, ``{layer: float}`` or ``{layer: ndarray}``."""
        p, q = self._validate()
        module = resolve_module(obj)
        if masks is None:
            masks = resolve_masks(obj)
        masks = masks or {}
        check_masks(module, masks)
        params = resolve_prunable(obj, self.include, self.exclude)
        if strict:
            check_weights_finite(params)
        stats = {}
        for name, w in params.items():
            keep = masks[name].to(w.device) if name in masks else None
            if self.scope == "neuron" and w.dim() > 0:
                owner = _owner(module, name)
                rows = _neuron_rows(w, owner)
                keep = None if keep is None else _neuron_rows(keep, owner)
            else:
                rows = w.reshape(1, -1)
                keep = None if keep is None else keep.reshape(1, -1)
            stats[name] = _row_stats(rows, keep, p, q)
        if self.scope == "global":
            return {"global": float(_pq_from_stats(_pool(list(stats.values()), p, q), p, q)[0])}
        values = {name: _pq_from_stats(s, p, q) for name, s in stats.items()}
        if self.scope == "layer":
            return {name: float(v[0]) for name, v in values.items()}
        return values

    def score_units(self, obj, *, masks=None) -> dict:
        """PQ index of each unit of the scope.

        Parameters
        ----------
        obj : torch.nn.Module, skorch net, fitted meta-estimator, fitted search or Pipeline
            Holds the network (see :func:`~sparselimit.utils.resolve_module`); its weights
            are selected as in the Notes of :class:`PQIndex`.
        masks : dict of str to bool tensor, default=None
            Pruning masks (``True`` = kept) to use instead of those found on ``obj`` (see
            Notes of :class:`PQIndex`).

        Returns
        -------
        units : dict
            ``"layer"``: parameter name to float. ``"neuron"``: parameter name to a float64
            array with one value per output unit. ``"global"``: ``{"global": float}``.
            NaN marks a unit whose kept weights are all zero (or that is fully masked).

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from sparselimit.metrics import PQIndex
        >>> layer = nn.Linear(4, 2, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [2.0, 2, 2, 2]]))
        >>> PQIndex(scope="neuron").score_units(layer)
        {'weight': array([0.75, 0.  ])}
        """
        return self._units(obj, masks, strict=True)

    def score(self, obj, *, masks=None) -> float:
        """PQ index of ``obj``'s prunable weights (higher = sparser).

        Parameters
        ----------
        obj : torch.nn.Module, skorch net, fitted meta-estimator or search, Pipeline, or array
            Holds the network (see :func:`~sparselimit.utils.resolve_module`); its weights
            are selected as in the Notes of :class:`PQIndex`. An array or tensor is taken as
            one weight vector (then ``scope``, ``include`` and ``exclude`` do not apply).
        masks : dict of str to bool tensor, default=None
            Pruning masks (``True`` = kept) to use instead of those found on ``obj`` (see
            Notes of :class:`PQIndex`). Not with an array ``obj``: use
            ``pq_index(w, mask=...)``.

        Returns
        -------
        score : float
            For ``scope="global"`` the index of all pooled weights, otherwise the mean over
            the layers (or neurons) that have one, each weighted equally.

        Examples
        --------
        >>> import numpy as np
        >>> from sparselimit.metrics import PQIndex
        >>> round(PQIndex(p=1.0, q=2.0).score(np.array([5.0] + [0.0] * 9)), 6)
        0.683772
        """
        if isinstance(obj, (np.ndarray, torch.Tensor, list, tuple)):
            p, q = self._validate()
            if masks is not None:  # keyed by parameter names: nothing to match in a bare array
                raise TypeError(
                    "`masks` (a dict of parameter name to bool tensor) applies to a network, "
                    f"not to the {type(obj).__name__} passed as `obj`. For the kept entries of "
                    "one weight array use sparselimit.metrics.pq_index(w, p, q, mask=keep)."
                )
            return pq_index(obj, p, q)
        value = self._score(obj, masks, strict=True)
        if math.isnan(value):
            unit = {"global": "weight vector", "layer": "layer", "neuron": "neuron"}[self.scope]
            raise ValueError(
                f"PQ index is undefined for an all-zero weight vector: every {unit} of the "
                "selected weights is zero or fully masked. Check `include`/`exclude` and that "
                "the network was not pruned away entirely."
            )
        return value

    def _score(self, obj, masks, *, strict: bool) -> float:
        """Mean over the defined units, NaN if none is (``strict``: raise on NaN/inf weights)."""
        units = self._units(obj, masks, strict=strict)
        values = np.concatenate([np.atleast_1d(v) for v in units.values()])
        values = values[~np.isnan(values)]
        return float(values.mean()) if values.size else math.nan

    def __call__(self, estimator, X=None, y=None, **kwargs) -> float:
        """Scorer interface: ``score(estimator)``; ``X``, ``y`` and metadata are ignored.

        Examples
        --------
        >>> from torch import nn
        >>> from sparselimit.metrics import PQIndex
        >>> net = nn.Linear(3, 2)
        >>> scorer = PQIndex()
        >>> scorer(net, X=None, y=None) == scorer.score(net)
        True
        """
        return self.score(estimator)

    def _accept_sample_weight(self) -> bool:
        # scikit-learn (>= 1.7, without metadata routing) asks every scorer of a multi-metric
        # search this before passing it sample_weight, and fails on a scorer without the
        # method (scikit-learn#31599); the PQ index depends on no sample: weights do not apply
        return False
