"""Export block-sparse networks: fold the attention into plain weights, check the block pattern,
and convert Linear weights to torch's BSR layout for CPU inference."""

from __future__ import annotations

import copy as _copy
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

from ._attention import fold_block_attention, get_block_attention
from ._grid import as_matrix, block_grid_shape, block_norms, check_block_size

__all__ = [
    "BlockSparseExport",
    "export_block_sparse",
    "zero_block_mask",
    "BSRLinear",
    "to_bsr_inference",
]


@dataclass
class BlockSparseExport:
    """Result of :func:`export_block_sparse`.

    Attributes
    ----------
    module : torch.nn.Module
        The plain network (original classes, no parametrizations, no hooks).
    masks : dict of str to bool tensor
        Element-level masks of the block-sparsified weights (True = kept).
    block_masks : dict of str to bool tensor
        The same, one entry per block.

    Examples
    --------
    >>> from torch import nn
    >>> from sparselimit.blocks import BlockSparseExport
    >>> BlockSparseExport(nn.Linear(2, 2)).masks
    {}
    """

    module: nn.Module
    masks: dict = field(default_factory=dict)
    block_masks: dict = field(default_factory=dict)


def export_block_sparse(module: nn.Module, *, copy: bool = False) -> BlockSparseExport:
    """Fold every block attention ``A * mask`` into its weight and drop the parametrizations.

    The result is a plain ``nn.Module`` whose pruned blocks are exact zeros and whose
    ``state_dict`` loads into a fresh instance of its class.

    Parameters
    ----------
    module : torch.nn.Module
        A network carrying :class:`BlockAttention` parametrizations.
    copy : bool, default=False
        Work on a deep copy and leave ``module`` as it is.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.blocks import attach_block_attention, export_block_sparse
    >>> net = nn.Sequential(nn.Linear(4, 4))
    >>> par = attach_block_attention(net[0], 2)
    >>> par.mask[1, 0] = False
    >>> out = export_block_sparse(net)
    >>> type(out.module[0]).__name__, out.block_masks["0.weight"].tolist()
    ('Linear', [[True, True], [False, True]])
    >>> _ = nn.Sequential(nn.Linear(4, 4)).load_state_dict(out.module.state_dict())
    """
    if copy:
        module = _copy.deepcopy(module)
    masks, block_masks = {}, {}
    for mod_name, layer in list(module.named_modules()):
        par = get_block_attention(layer)
        if par is None:
            continue
        name = f"{mod_name}.weight" if mod_name else "weight"
        block_masks[name] = par.mask.detach().clone().cpu()
        masks[name] = fold_block_attention(layer).cpu()
    return BlockSparseExport(module=module, masks=masks, block_masks=block_masks)


@torch.no_grad()
def zero_block_mask(weight: torch.Tensor, block_size) -> torch.Tensor:
    """Bool grid, True where a block of ``weight`` (matrix view) holds a nonzero entry.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.blocks import zero_block_mask
    >>> zero_block_mask(torch.tensor([[0., 0., 1., 0.]]), (1, 2))
    tensor([[False,  True]])
    """
    return block_norms(as_matrix(weight.detach()).abs().float(), check_block_size(block_size)) > 0


class BSRLinear(nn.Module):
    """Inference-only Linear layer whose weight is stored in torch's BSR sparse layout.

    ``forward`` computes ``(weight_bsr @ x.T).T + bias``: the sparse-times-dense product, which
    torch 2.x runs for BSR on CPU and CUDA (and, on CPU, several times faster than
    ``F.linear(x, weight_bsr)``, which also works but goes through a slower transposed path; it
    also works under ``torch.inference_mode``, where ``F.linear`` with a BSR weight fails). Not
    trainable, and its ``state_dict`` is not the dense layer's: keep the dense block-sparse module
    for training and saving.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.blocks import BSRLinear
    >>> dense = nn.Linear(4, 4)
    >>> with torch.no_grad():
    ...     dense.weight[:2, 2:] = 0
    >>> sparse = BSRLinear.from_linear(dense, 2)
    >>> sparse.nnz_blocks, sparse.n_blocks
    (3, 4)
    >>> x = torch.randn(3, 4)
    >>> torch.allclose(sparse(x), dense(x), atol=1e-6)
    True
    """

    def __init__(self, weight_bsr: torch.Tensor, bias: torch.Tensor | None, n_blocks: int):
        super().__init__()
        self.weight_bsr = weight_bsr
        self.bias = None if bias is None else bias.detach().clone()
        self.n_blocks = n_blocks
        self.in_features = weight_bsr.shape[1]
        self.out_features = weight_bsr.shape[0]

    @classmethod
    @torch.no_grad()
    def from_linear(cls, linear: nn.Linear, block_size) -> BSRLinear:
        block_size = check_block_size(block_size)
        grid = block_grid_shape(linear.weight.shape, block_size)
        with warnings.catch_warnings():  # "BSR support is in beta state"
            warnings.simplefilter("ignore", UserWarning)
            weight = linear.weight.detach().to_sparse_bsr(block_size)
        bias = None if linear.bias is None else linear.bias.detach()
        return cls(weight, bias, grid[0] * grid[1])

    @property
    def nnz_blocks(self) -> int:
        return int(self.weight_bsr.col_indices().numel())

    def forward(self, x):
        shape = x.shape
        out = (self.weight_bsr @ x.reshape(-1, shape[-1]).T).T
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"blocks={self.nnz_blocks}/{self.n_blocks}"
        )


def to_bsr_inference(module: nn.Module, block_size, *, max_density: float = 1.0) -> nn.Module:
    """A deep copy of ``module`` whose Linear layers are :class:`BSRLinear` (inference only).

    Linear layers whose shape ``block_size`` does not divide, or whose fraction of nonzero blocks
    is above ``max_density``, stay dense. Conv layers stay dense (torch has no BSR convolution).

    Examples
    --------
    >>> from torch import nn
    >>> from sparselimit.blocks import to_bsr_inference
    >>> net = to_bsr_inference(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 3)), 2)
    >>> [type(m).__name__ for m in net]
    ['BSRLinear', 'ReLU', 'Linear']
    """
    block_size = check_block_size(block_size)
    out = _copy.deepcopy(module)
    replacements = []
    for name, layer in out.named_modules():
        if type(layer) is not nn.Linear:
            continue
        rows, cols = layer.weight.shape
        if rows % block_size[0] or cols % block_size[1]:
            continue
        density = float(zero_block_mask(layer.weight, block_size).float().mean())
        if density <= max_density:
            replacements.append((name, BSRLinear.from_linear(layer, block_size)))
    for name, new in replacements:
        if not name:
            return new
        parent_name, _, child = name.rpartition(".")
        parent = out.get_submodule(parent_name) if parent_name else out
        setattr(parent, child, new)
    return out
