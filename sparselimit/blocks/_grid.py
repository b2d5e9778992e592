"""Block grids over weight matrices: shapes, expansion, top-k block masks, eligible layers.

A weight of a Linear layer, shape ``(out, in)``, is tiled by ``(bh, bw)`` blocks. A convolution
weight ``(out, in, *kernel)`` is first viewed as the matrix ``(out, in * prod(kernel))`` (the
im2col layout its matmul uses), then tiled the same way. ``block_size`` must divide that matrix
shape exactly; there is no padding rule (a partial edge block could not be exported to
``torch``'s BSR layout either).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import torch
from torch import nn

from ..utils import select_prunable

__all__ = [
    "check_block_size",
    "as_matrix",
    "block_grid_shape",
    "expand_blocks",
    "block_norms",
    "n_blocks_to_prune",
    "topk_block_mask",
    "select_block_layers",
]

_BLOCK_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def check_block_size(block_size) -> tuple[int, int]:
    """Validate ``block_size`` (an int ``B`` for ``B x B`` blocks, or a pair ``(bh, bw)``).

    Examples
    --------
    >>> from sparselimit.blocks._grid import check_block_size
    >>> check_block_size(8)
    (8, 8)
    >>> check_block_size((4, 2))
    (4, 2)
    """
    if isinstance(block_size, numbers.Integral) and not isinstance(block_size, bool):
        block_size = (int(block_size), int(block_size))
    if (
        not isinstance(block_size, (tuple, list))
        or len(block_size) != 2
        or not all(
            isinstance(b, numbers.Integral) and not isinstance(b, bool) and b >= 1
            for b in block_size
        )
    ):
        raise ValueError(
            "`block_size` must be a positive int B (for B x B blocks) or a pair of positive ints "
            f"(rows, cols); got {block_size!r}."
        )
    return int(block_size[0]), int(block_size[1])


def as_matrix(weight: torch.Tensor) -> torch.Tensor:
    """View a Linear ``(out, in)`` or Conv ``(out, in, *k)`` weight as a 2-D matrix."""
    if weight.dim() < 2:
        raise ValueError(
            f"Block sparsity needs a weight with at least 2 dimensions; got shape "
            f"{tuple(weight.shape)}."
        )
    return weight.reshape(weight.shape[0], -1)


def block_grid_shape(matrix_shape, block_size, name: str = "weight") -> tuple[int, int]:
    """Number of block rows and columns of a matrix, checking that ``block_size`` divides it.

    Examples
    --------
    >>> from sparselimit.blocks._grid import block_grid_shape
    >>> block_grid_shape((256, 64), (8, 8))
    (32, 8)
    >>> block_grid_shape((10, 64), (8, 8), name="2.weight")
    Traceback (most recent call last):
    ...
    ValueError: Block size (8, 8) does not divide the weight matrix of '2.weight' ...
    """
    rows, cols = int(matrix_shape[0]), int(matrix_shape[1])
    bh, bw = block_size
    if rows % bh or cols % bw:
        raise ValueError(
            f"Block size {tuple(block_size)} does not divide the weight matrix of '{name}' "
            f"(shape {rows} x {cols}; Conv weights are viewed as (out, in*kernel)). Choose a block "
            f"size dividing both dimensions (e.g. ({math.gcd(rows, bh)}, {math.gcd(cols, bw)})), "
            "or leave the layer out with `exclude`."
        )
    return rows // bh, cols // bw


def expand_blocks(block_values: torch.Tensor, block_size) -> torch.Tensor:
    """Expand a ``(n_rows, n_cols)`` grid of per-block values to the full matrix.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.blocks._grid import expand_blocks
    >>> expand_blocks(torch.tensor([[1, 0]]), (2, 2))
    tensor([[1, 1, 0, 0],
            [1, 1, 0, 0]])
    """
    bh, bw = block_size
    return block_values.repeat_interleave(bh, dim=0).repeat_interleave(bw, dim=1)


def block_norms(matrix: torch.Tensor, block_size) -> torch.Tensor:
    """Frobenius (L2) norm of every block of a 2-D matrix, as a ``(n_rows, n_cols)`` grid.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.blocks._grid import block_norms
    >>> block_norms(torch.tensor([[3.0, 4.0, 0.0, 1.0]]), (1, 2))
    tensor([[5., 1.]])
    """
    nr, nc = block_grid_shape(matrix.shape, block_size)
    bh, bw = block_size
    blocks = matrix.reshape(nr, bh, nc, bw)
    return blocks.pow(2).sum(dim=(1, 3)).sqrt()


def n_blocks_to_prune(n_blocks: int, sparsity: float) -> int:
    """Blocks removed at ``sparsity``: ``floor(sparsity * n_blocks)`` (never more than asked).

    Examples
    --------
    >>> from sparselimit.blocks._grid import n_blocks_to_prune
    >>> n_blocks_to_prune(1024, 0.9)
    921
    """
    return int(math.floor(sparsity * n_blocks + 1e-9))


def topk_block_mask(scores: torch.Tensor, k: int, within: torch.Tensor | None = None):
    """Bool grid keeping the ``k`` highest-scoring blocks (optionally only among ``within``).

    Examples
    --------
    >>> import torch
    >>> from sparselimit.blocks._grid import topk_block_mask
    >>> topk_block_mask(torch.tensor([[0.1, 3.0], [2.0, 0.5]]), 2)
    tensor([[False,  True],
            [ True, False]])
    """
    flat = scores.detach().reshape(-1).float()
    if within is not None:
        flat = flat.masked_fill(~within.reshape(-1), float("-inf"))
    mask = torch.zeros(flat.numel(), dtype=torch.bool, device=scores.device)
    if k > 0:
        mask[torch.topk(flat, k, sorted=False).indices] = True
    return mask.reshape(scores.shape)


def select_block_layers(
    module: nn.Module,
    block_size,
    *,
    min_blocks: int = 100,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
) -> tuple[dict[str, tuple[nn.Module, tuple[int, int]]], dict[str, str]]:
    """Find the layers to block-sparsify.

    Candidates are the prunable weights (:func:`sparselimit.utils.select_prunable`) of ``Linear``
    and ``Conv1d/2d/3d`` layers. A layer with fewer than ``min_blocks`` blocks is skipped (the
    paper's rule: small layers are cheap and sensitive); a layer with enough blocks whose shape
    ``block_size`` does not divide raises ``ValueError``.

    Returns
    -------
    layers : dict
        Parameter name (``'0.weight'``) to ``(layer module, block grid shape)``.
    skipped : dict
        Parameter name to the reason it was skipped.

    Examples
    --------
    >>> from torch import nn
    >>> from sparselimit.blocks._grid import select_block_layers
    >>> net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    >>> layers, skipped = select_block_layers(net, (8, 8))
    >>> {name: grid for name, (_, grid) in layers.items()}
    {'0.weight': (32, 8)}
    >>> skipped
    {'2.weight': 'fewer than 100 blocks (64)'}
    """
    block_size = check_block_size(block_size)
    if (
        isinstance(min_blocks, bool)
        or not isinstance(min_blocks, numbers.Integral)
        or min_blocks < 1
    ):
        raise ValueError(f"`min_blocks` must be a positive int; got {min_blocks!r}.")
    params = select_prunable(module, include, exclude)
    owners = {}
    for mod in module.modules():
        for p_name, p in mod.named_parameters(recurse=False):
            owners.setdefault(id(p), (mod, p_name))
    layers, skipped = {}, {}
    for name, param in params.items():
        mod, p_name = owners[id(param)]
        if not isinstance(mod, _BLOCK_LAYERS) or p_name != "weight":
            skipped[name] = f"not a Linear/Conv weight ({type(mod).__name__}.{p_name})"
            continue
        mat_shape = as_matrix(param).shape
        approx = math.ceil(mat_shape[0] / block_size[0]) * math.ceil(mat_shape[1] / block_size[1])
        if approx < min_blocks:
            skipped[name] = f"fewer than {min_blocks} blocks ({approx})"
            continue
        layers[name] = (mod, block_grid_shape(mat_shape, block_size, name))
    if not layers:
        raise ValueError(
            f"No layer of {type(module).__name__} has at least {min_blocks} blocks of size "
            f"{block_size} (skipped: {skipped}). Use a smaller `block_size` or lower `min_blocks`."
        )
    return layers, skipped
