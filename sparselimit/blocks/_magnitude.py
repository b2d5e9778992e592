"""Block magnitude pruning: the baseline that ranks blocks by their Frobenius norm."""

from __future__ import annotations

import torch
from torch import nn

from ..utils import check_sparsity
from ._grid import (
    as_matrix,
    block_norms,
    check_block_size,
    expand_blocks,
    n_blocks_to_prune,
    select_block_layers,
    topk_block_mask,
)

__all__ = ["block_magnitude_masks"]


@torch.no_grad()
def block_magnitude_masks(
    module: nn.Module,
    sparsity: float,
    block_size=8,
    *,
    min_blocks: int = 100,
    include=None,
    exclude=None,
) -> dict[str, torch.Tensor]:
    """Per-layer block masks keeping the blocks of largest Frobenius (L2) norm.

    Every eligible layer (see :func:`select_block_layers`; layers with fewer than ``min_blocks``
    blocks stay dense) loses ``floor(sparsity * n_blocks)`` of its blocks, the same sparsity per
    layer as SequentialAttention++ uses, so the two compare at equal block sparsity.

    Parameters
    ----------
    module : torch.nn.Module
        The trained network (not modified).
    sparsity : float in [0, 1)
        Fraction of blocks removed in each eligible layer.
    block_size : int or (int, int), default=8
        Block shape; must divide the (matrix view of the) weights of eligible layers.
    min_blocks : int, default=100
        Layers with fewer blocks are left out of the masks.
    include, exclude : str or list of str, default=None
        Parameter-name patterns, as in :func:`sparselimit.utils.select_prunable`.

    Returns
    -------
    masks : dict of str to bool tensor
        Element-level masks (True = kept) of the weights' shapes, ready for
        :func:`sparselimit.utils.apply_masks` or :class:`sparselimit.training.MaskEnforcer`.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.blocks import block_magnitude_masks
    >>> layer = nn.Linear(4, 4, bias=False)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.tensor([[1., 1., 0., 0.], [1., 1., 0., 9.],
    ...                                          [3., 0., 0., .1], [0., 0., 0., 0.]]))
    >>> masks = block_magnitude_masks(layer, 0.5, 2, min_blocks=1)
    >>> masks["weight"].int()
    tensor([[0, 0, 1, 1],
            [0, 0, 1, 1],
            [1, 1, 0, 0],
            [1, 1, 0, 0]], dtype=torch.int32)
    """
    sparsity = check_sparsity(sparsity)
    block_size = check_block_size(block_size)
    layers, _ = select_block_layers(
        module, block_size, min_blocks=min_blocks, include=include, exclude=exclude
    )
    masks = {}
    for name, (layer, grid) in layers.items():
        weight = layer.weight
        norms = block_norms(as_matrix(weight), block_size)
        n = grid[0] * grid[1]
        keep = topk_block_mask(norms, n - n_blocks_to_prune(n, sparsity))
        masks[name] = expand_blocks(keep, block_size).reshape(weight.shape)
    return masks
