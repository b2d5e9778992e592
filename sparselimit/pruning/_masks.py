"""Pruning masks from importance scores: one selection over the pooled scores.

How the threshold is found (global scope, the layer scope runs the same code per tensor):

1. The scores of the entries still kept are copied, chunk by chunk, into ONE preallocated flat
   buffer (float32, or float64 when a score tensor is float64) -- 1x the scores' size.
2. On CPU the k-th smallest value is selected *in place* by ``numpy.ndarray.partition`` on a view
   of that buffer (introselect, O(n), no second copy; numpy indexes with ``npy_intp``, a 64-bit
   integer, so more than 2**31 entries are fine). On CUDA the buffer stays on the device and
   ``torch.kthvalue`` selects (it copies the buffer on the GPU).
   ``torch.kthvalue`` on CPU copies and is slower, ``torch.topk``/``torch.sort`` allocate values
   plus int64 indices (3x), ``torch.quantile`` refuses more than 2**24 entries: see
   ``benchmarks/bench_prune_global.py --selection`` for the measured numbers.
3. Ties: the partitioned buffer says how many entries lie strictly below the threshold, so the
   number ``r`` of entries *equal* to it that must go is known; a second pass over the tensors, in
   the order of the mapping and then in flat row-major order, builds each boolean mask (scores
   compared chunk by chunk against the threshold) and removes the first ``r`` equal entries.
   Exactly the requested number of entries is removed -- never more, never fewer.

Peak extra memory: the buffer (1x the scores in float32), the masks (bool, 0.25x) and
chunk-sized temporaries (a few MiB).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import torch

from ..utils import check_sparsity
from ..utils._masks import _check_mask_type

__all__ = ["compute_masks"]

_SCOPES = ("global", "layer")
# Elements handled at once when scores are copied or compared: bounds the temporaries (4 MiB of
# float32) while keeping the Python overhead negligible (~30 chunks for 33M weights).
_CHUNK = 1 << 20


def removal_count(sparsity: float, d: int) -> int:
    """How many of ``d`` entries a sparsity in [0, 1) removes: ``round(sparsity * d)``, at
    most ``d - 1`` -- a sparsity below 1 never removes everything (``round(0.9999 * 1000)``
    would).

    Examples
    --------
    >>> from sparselimit.pruning._masks import removal_count
    >>> removal_count(0.5, 10), removal_count(0.99, 28), removal_count(0.3, 0)
    (5, 27, 0)
    """
    return min(round(sparsity * d), max(d - 1, 0))


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.detach().reshape(-1)


def _check_scope(scope) -> str:
    if scope not in _SCOPES:
        raise ValueError(
            f"`scope` must be one of {list(_SCOPES)} ('global' ranks all tensors together, "
            f"'layer' removes the same fraction from every tensor); got {scope!r}."
        )
    return scope


def _buffer_dtype(sources: Mapping[str, torch.Tensor], elementwise) -> torch.dtype:
    for s in sources.values():
        if s.dtype == torch.float64 or not (s.is_floating_point() or elementwise is not None):
            return torch.float64
    return torch.float32


def _score_chunk(src: torch.Tensor, out: torch.Tensor, elementwise) -> torch.Tensor:
    """Write the scores of the flat chunk ``src`` into ``out`` (same length) and return it."""
    if elementwise is None:
        out.copy_(src)
    elif src.dtype != out.dtype:  # e.g. float16 weights, float32 buffer: a chunk-sized temporary
        out.copy_(elementwise(src))
    else:
        elementwise(src, out=out)
    return out


def _check_nan(chunk: torch.Tensor, name: str) -> None:
    if bool(torch.isnan(chunk).any()):
        raise ValueError(
            f"The scores of '{name}' contain NaN. Importance scores must be real numbers (for "
            "magnitude pruning: the weights must be finite); retrain or repair the model first."
        )


def _select_group(
    names: list[str],
    sources: Mapping[str, torch.Tensor],
    old: Mapping[str, torch.Tensor] | None,
    k: int,
    elementwise,
    dtype: torch.dtype,
    out_masks: dict[str, torch.Tensor],
    check_nan: bool = True,
) -> float:
    """Remove the ``k`` smallest-score kept entries of the tensors ``names`` (one pooled group).

    Writes the new masks into ``out_masks`` and returns the threshold (-inf when ``k == 0``).
    """
    device = sources[names[0]].device
    if k == 0:
        for name in names:
            s = sources[name]
            out_masks[name] = (
                old[name].to(device=s.device, copy=True)
                if old is not None
                else torch.ones(s.shape, dtype=torch.bool, device=s.device)
            )
        return float("-inf")

    n_kept = {
        name: (int(old[name].count_nonzero()) if old is not None else sources[name].numel())
        for name in names
    }
    total = sum(n_kept.values())
    scratch = torch.empty(
        min(_CHUNK, max(sources[n].numel() for n in names)), dtype=dtype, device=device
    )

    # 1. pool the kept scores into one buffer
    buf = torch.empty(total, dtype=dtype, device=device)
    off = 0
    for name in names:
        src = _flat(sources[name])
        if src.device != device:
            raise ValueError(
                f"All score tensors must be on one device; '{name}' is on {src.device}, "
                f"'{names[0]}' on {device}. Move the model (or the scores) to one device."
            )
        omask = _flat(old[name]).to(device) if old is not None else None
        for i in range(0, src.numel(), _CHUNK):
            j = min(i + _CHUNK, src.numel())
            if omask is None:
                part = _score_chunk(src[i:j], buf[off : off + j - i], elementwise)
                off += j - i
            else:
                sc = _score_chunk(src[i:j], scratch[: j - i], elementwise)
                part = sc[omask[i:j]]
                buf[off : off + part.numel()] = part
                off += part.numel()
            if check_nan:
                _check_nan(part, name)

    # 2. one selection: threshold t = k-th smallest kept score; n_lt = kept scores below t
    if device.type == "cpu":
        arr = buf.numpy()  # shares memory with buf
        arr.partition(k - 1)  # in place, introselect
        t = arr[k - 1].item()
        n_lt = sum(
            int(np.count_nonzero(arr[i : min(i + _CHUNK, k - 1)] < t))
            for i in range(0, k - 1, _CHUNK)
        )
    else:
        t = torch.kthvalue(buf, k).values.item()
        n_lt = int((buf < t).count_nonzero())
    del buf
    r_left = k - n_lt  # entries equal to t to remove, earliest first (>= 1)

    # 3. masks, tensor by tensor, chunk by chunk, removing the first r_left ties
    for name in names:
        src = _flat(sources[name])
        mask = torch.empty(sources[name].shape, dtype=torch.bool, device=device)
        mflat = mask.view(-1)
        omask = _flat(old[name]).to(device) if old is not None else None
        for i in range(0, src.numel(), _CHUNK):
            j = min(i + _CHUNK, src.numel())
            sc = _score_chunk(src[i:j], scratch[: j - i], elementwise)
            mc = mflat[i:j]
            if r_left == 0:
                torch.ge(sc, t, out=mc)
            else:
                torch.gt(sc, t, out=mc)
                eq = sc == t
                if omask is not None:
                    eq &= omask[i:j]
                n_eq = int(eq.count_nonzero())
                if n_eq > r_left:  # only the first r_left of these go; the rest stay kept
                    mc[eq.nonzero().squeeze(1)[r_left:]] = True
                    r_left = 0
                else:
                    r_left -= n_eq
            if omask is not None:
                mc &= omask[i:j]
        out_masks[name] = mask
    if r_left != 0:  # pragma: no cover - would be a bug in the selection above
        raise RuntimeError(f"Internal error: {r_left} tied entries left unremoved.")
    return t


def _masks_from_sources(
    sources: Mapping[str, torch.Tensor],
    sparsity=None,
    *,
    n_remove=None,
    scope: str = "global",
    masks: Mapping[str, torch.Tensor] | None = None,
    elementwise: Callable | None = None,
    check_nan: bool = True,
) -> tuple[dict[str, torch.Tensor], float]:
    """:func:`compute_masks` where the scores are ``elementwise(source)`` (computed by chunks).

    ``check_nan=False`` skips the NaN scan when the caller has already checked the sources.
    """
    if not isinstance(sources, Mapping) or not sources:
        raise ValueError(
            "`scores` must be a non-empty dict of parameter name to score tensor (e.g. "
            f"{{'0.weight': layer.weight.abs()}}); got {type(sources).__name__} "
            f"{'(empty)' if isinstance(sources, Mapping) else ''}."
        )
    for name, s in sources.items():
        if not isinstance(s, torch.Tensor):
            raise TypeError(f"Score for '{name}' must be a torch.Tensor; got {type(s).__name__}.")
    _check_scope(scope)
    if (sparsity is None) == (n_remove is None):
        raise ValueError(
            "Pass exactly one of `sparsity` (the target overall fraction removed) and `n_remove` "
            f"(the number of additional entries to remove); got sparsity={sparsity!r}, "
            f"n_remove={n_remove!r}."
        )
    if sparsity is not None:
        sparsity = check_sparsity(sparsity)
    if masks is not None:
        if not isinstance(masks, Mapping):
            raise TypeError(f"`masks` must be a dict of name to bool tensor; got {type(masks)}.")
        missing = [n for n in sources if n not in masks]
        if missing:
            raise KeyError(
                f"`masks` has no entry for {missing[:5]}; pass one mask per score tensor (or "
                "masks=None to start from a dense model)."
            )
        for name, s in sources.items():
            m = masks[name]
            _check_mask_type(name, m)
            if tuple(m.shape) != tuple(s.shape):
                raise ValueError(
                    f"Mask for '{name}' has shape {tuple(m.shape)} but its scores have shape "
                    f"{tuple(s.shape)}."
                )
        masks = {n: masks[n] for n in sources}

    names = list(sources)
    sizes = {n: sources[n].numel() for n in names}
    kept = {n: (int(masks[n].count_nonzero()) if masks is not None else sizes[n]) for n in names}
    dtype = _buffer_dtype(sources, elementwise)

    def n_extra(group: list[str], n_target_total: int) -> int:
        already = sum(sizes[n] - kept[n] for n in group)
        return max(n_target_total - already, 0)

    def n_target(group: list[str]) -> int:
        return removal_count(sparsity, sum(sizes[n] for n in group))

    groups = [names] if scope == "global" else [[n] for n in names]
    if sparsity is not None:
        ks = [n_extra(g, n_target(g)) for g in groups]
        if masks is not None:
            over = [g for g in groups if sum(sizes[n] - kept[n] for n in g) > n_target(g)]
            if over:
                warnings.warn(
                    f"The existing masks already remove more than sparsity={sparsity} of "
                    f"{'the pooled tensors' if scope == 'global' else [g[0] for g in over][:5]}; "
                    "removed entries stay removed, so the achieved sparsity exceeds the target.",
                    UserWarning,
                    stacklevel=3,
                )
    else:
        if scope == "global":
            if isinstance(n_remove, Mapping):
                raise TypeError("With scope='global', `n_remove` must be an int, not a dict.")
            per_group = [n_remove]
        elif isinstance(n_remove, Mapping):
            unknown = [n for n in n_remove if n not in sources]
            if unknown:
                raise KeyError(f"`n_remove` names tensors without scores: {unknown[:5]}.")
            per_group = [n_remove.get(g[0], 0) for g in groups]
        else:
            per_group = [n_remove] * len(groups)
        ks = []
        for g, k in zip(groups, per_group):
            avail = sum(kept[n] for n in g)
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= avail:
                where = "in total" if scope == "global" else f"in '{g[0]}'"
                raise ValueError(
                    f"`n_remove` must be an integer between 0 and the number of kept entries "
                    f"({avail} {where}); got {k!r}. It counts entries removed in addition to "
                    "those the existing masks already remove."
                )
            ks.append(int(k))

    out: dict[str, torch.Tensor] = {}
    threshold = float("-inf")
    for g, k in zip(groups, ks):
        t = _select_group(g, sources, masks, k, elementwise, dtype, out, check_nan)
        threshold = max(threshold, t)
    return {n: out[n] for n in names}, threshold


def compute_masks(
    scores: Mapping[str, torch.Tensor],
    sparsity: float | None = None,
    *,
    n_remove: int | Mapping[str, int] | None = None,
    scope: str = "global",
    masks: Mapping[str, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], float]:
    """Boolean pruning masks that remove the entries with the smallest scores.

    Exactly one of ``sparsity`` and ``n_remove`` says how many entries go:

    - ``sparsity`` is the **target overall fraction removed**. With ``scope="global"`` exactly
      ``round(sparsity * D)`` entries end up removed, D being the total number of entries of all
      score tensors pooled; with ``scope="layer"`` ``round(sparsity * d_l)`` entries of every
      tensor (``d_l`` its size). ``round`` is Python's (half to even), as in
      ``torch.nn.utils.prune``; at most ``D - 1`` (``d_l - 1``) go, since a sparsity below 1
      never removes everything.
    - ``n_remove`` is the number of **additional** entries to remove among those currently kept
      (what iterative pruners need: "prune the ``c_t`` smallest among the unmasked"). With
      ``scope="layer"`` it is an int applied to every tensor, or a dict name -> int.

    When ``masks`` is given, entries it already removes stay removed and count toward a
    ``sparsity`` target (if they already exceed it, nothing more is removed and a warning says so);
    only kept entries compete for removal.

    Ties at the threshold are broken by a stable rule: among entries whose score equals the
    threshold, the earliest are removed -- earliest in the iteration order of ``scores``, then in
    flat row-major index. The requested number of entries is removed exactly.

    Parameters
    ----------
    scores : dict of str to torch.Tensor
        Importance of every entry (larger = more important), typically non-negative, e.g.
        ``|w|`` for magnitude pruning. NaN is rejected. All tensors on one device; the selection
        runs there (CPU: in place with NumPy; CUDA: ``torch.kthvalue``).
    sparsity : float in [0, 1), default=None
        Target fraction of all entries removed (see above).
    n_remove : int or dict of str to int, default=None
        Number of additional entries to remove (see above).
    scope : {"global", "layer"}, default="global"
        Rank all tensors together, or each tensor on its own.
    masks : dict of str to bool tensor, default=None
        Existing masks (True = kept), one per score tensor.

    Returns
    -------
    masks : dict of str to bool tensor
        New masks, True where the entry is kept, same keys (and order) and shapes as ``scores``,
        on the scores' device.
    threshold : float
        The largest score removed by this call (over all tensors, also with ``scope="layer"``):
        entries scoring below it are removed, above it kept, equal to it per the tie rule.
        ``-inf`` when nothing was removed.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.pruning import compute_masks
    >>> scores = {"a": torch.tensor([[0.5, 0.1], [0.3, 0.2]]), "b": torch.tensor([0.4, 0.2])}
    >>> masks, threshold = compute_masks(scores, 0.4)  # round(0.4 * 6) = 2 entries removed
    >>> masks["a"].tolist(), masks["b"].tolist(), threshold
    ([[True, False], [True, False]], [True, True], 0.2...)

    The tie at 0.2 went to ``a``, the earlier tensor. Remove one more among the kept entries:

    >>> masks, threshold = compute_masks(scores, n_remove=1, masks=masks)
    >>> masks["a"].tolist(), masks["b"].tolist(), threshold
    ([[True, False], [True, False]], [True, False], 0.2...)
    """
    return _masks_from_sources(scores, sparsity, n_remove=n_remove, scope=scope, masks=masks)


def _mask_sparsity(masks: Mapping[str, torch.Tensor]) -> tuple[float, dict[str, float]]:
    """Overall fraction removed and the fraction removed per tensor."""
    removed = {n: m.numel() - int(m.count_nonzero()) for n, m in masks.items()}
    total = sum(m.numel() for m in masks.values())
    per = {n: removed[n] / m.numel() if m.numel() else 0.0 for n, m in masks.items()}
    return (sum(removed.values()) / total if total else 0.0), per
