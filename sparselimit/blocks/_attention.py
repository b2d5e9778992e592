"""Block attention: a trainable logit per weight block, applied as a weight parametrization.

The layer computes with ``W_hat = W * expand(A * mask)`` where ``A = N_B * softmax(L)`` over the
``N_B`` blocks of the layer (mean 1, and exactly the identity at ``L = 0``). It is registered with
:func:`torch.nn.utils.parametrize.register_parametrization`, so it works for any Linear/Conv layer
without replacing modules, and :func:`fold_block_attention` removes it again, writing ``W_hat``
into the plain weight: the layer gets its original class back, with no hooks left.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from ._grid import block_grid_shape, check_block_size, expand_blocks

__all__ = ["block_attention", "BlockAttention", "attach_block_attention", "fold_block_attention"]


def block_attention(logits: torch.Tensor) -> torch.Tensor:
    """``A = N_B * softmax(L)`` over all blocks of a layer, in the shape of ``logits``.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.blocks import block_attention
    >>> block_attention(torch.zeros(2, 3))
    tensor([[1., 1., 1.],
            [1., 1., 1.]])
    >>> float(block_attention(torch.tensor([[0.0, 1.0], [2.0, -1.0]])).mean())
    1.0
    """
    flat = logits.reshape(-1)
    if flat.numel() == 0:  # no blocks: nothing to normalise (max() of nothing would raise)
        return torch.ones_like(logits)
    # exp(L - max L) / (sum / N_B) rather than softmax(L) * N_B: at equal logits every term is
    # exp(0) = 1 and the sum is N_B exactly, so A is exactly 1 (softmax's 1/N_B times N_B is not
    # 1.0 in floating point for many N_B, e.g. 41 or 110 blocks); the max is a shift A does not
    # depend on, so it carries no gradient
    e = torch.exp(flat - flat.max().detach())
    return (e / (e.sum() / flat.numel())).reshape(logits.shape)


class BlockAttention(nn.Module):
    """Weight parametrization ``W -> W * expand(A * mask)`` with trainable block logits.

    Parameters
    ----------
    weight_shape : tuple of int
        Shape of the parametrized weight (Linear ``(out, in)`` or Conv ``(out, in, *k)``).
    block_size : int or (int, int)
        Block shape over the matrix view ``(out, prod(rest))``; must divide it.

    Attributes
    ----------
    logits : torch.nn.Parameter of shape (n_block_rows, n_block_cols)
        ``L``, initialised to zero (attention 1 everywhere).
    mask : bool tensor buffer of the same shape
        True where the block is kept.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.blocks import BlockAttention
    >>> par = BlockAttention((4, 4), (2, 2))
    >>> w = torch.arange(16.0).reshape(4, 4)
    >>> bool((par(w) == w).all())
    True
    >>> par.mask[0, 1] = False
    >>> par(w).detach()[:2]
    tensor([[0., 1., 0., 0.],
            [4., 5., 0., 0.]])
    """

    def __init__(self, weight_shape, block_size):
        super().__init__()
        self.weight_shape = tuple(int(s) for s in weight_shape)
        self.block_size = check_block_size(block_size)
        rows = self.weight_shape[0]
        cols = 1
        for s in self.weight_shape[1:]:
            cols *= s
        self.grid_shape = block_grid_shape((rows, cols), self.block_size)
        self.logits = nn.Parameter(torch.zeros(self.grid_shape))
        self.register_buffer("mask", torch.ones(self.grid_shape, dtype=torch.bool))

    @property
    def n_blocks(self) -> int:
        return self.grid_shape[0] * self.grid_shape[1]

    def attention(self) -> torch.Tensor:
        """The current attention grid ``A`` (differentiable)."""
        return block_attention(self.logits)

    def scale(self) -> torch.Tensor:
        """Per-block multiplier ``A * mask`` (differentiable in ``logits``)."""
        return self.attention() * self.mask.to(self.logits.dtype)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        factor = expand_blocks(self.scale(), self.block_size).to(weight.dtype)
        return (weight.reshape(factor.shape) * factor).reshape(weight.shape)

    def extra_repr(self) -> str:
        return f"grid={self.grid_shape}, block_size={self.block_size}"


def attach_block_attention(layer: nn.Module, block_size) -> BlockAttention:
    """Register a :class:`BlockAttention` parametrization on ``layer.weight`` (in place).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.blocks import attach_block_attention, fold_block_attention
    >>> layer = nn.Linear(4, 4)
    >>> par = attach_block_attention(layer, (2, 2))
    >>> type(layer).__name__
    'ParametrizedLinear'
    >>> _ = fold_block_attention(layer)
    >>> type(layer).__name__
    'Linear'
    """
    if parametrize.is_parametrized(layer, "weight"):
        for par in layer.parametrizations["weight"]:
            if isinstance(par, BlockAttention):
                return par
        raise ValueError(
            f"{type(layer).__name__}.weight already carries another parametrization; remove it "
            "before adding block attention."
        )
    par = BlockAttention(layer.weight.shape, block_size).to(layer.weight.device)
    # torch moves the weight out of ``layer._parameters``; remember where it stood so that
    # folding can put it back there (see ``_restore_parameter_order``)
    par._parameter_order = tuple(layer._parameters)
    parametrize.register_parametrization(layer, "weight", par)
    return par


def get_block_attention(layer: nn.Module) -> BlockAttention | None:
    """The :class:`BlockAttention` on ``layer.weight``, or None.

    Examples
    --------
    >>> from torch import nn
    >>> from sparselimit.blocks import attach_block_attention
    >>> from sparselimit.blocks._attention import get_block_attention
    >>> layer = nn.Linear(4, 4)
    >>> get_block_attention(layer) is None
    True
    >>> get_block_attention(layer) is attach_block_attention(layer, 2)
    False
    >>> get_block_attention(layer).grid_shape
    (2, 2)
    """
    if not parametrize.is_parametrized(layer, "weight"):
        return None
    for par in layer.parametrizations["weight"]:
        if isinstance(par, BlockAttention):
            return par
    return None


def _restore_parameter_order(layer: nn.Module, order) -> None:
    """Put ``layer``'s own parameters back in ``order``; the others keep theirs, after them.

    ``remove_parametrizations`` re-registers the weight at the end of ``layer._parameters``, so
    a Linear layer would list ``bias`` before ``weight`` in ``named_parameters()``,
    ``state_dict()`` and optimizer groups built from them. The dict is reordered in place (the
    parameter objects, and the dict itself, keep their identity).
    """
    params = layer._parameters
    items = [(n, params[n]) for n in order if n in params]
    items += [(n, p) for n, p in params.items() if n not in order]
    params.clear()
    params.update(items)


def fold_block_attention(layer: nn.Module) -> torch.Tensor | None:
    """Fold ``A * mask`` into ``layer.weight`` and remove the parametrization (in place).

    The weight parameter keeps its identity (optimizers still point at it); the layer gets its
    original class back, with its parameters in their original order (``weight`` before
    ``bias`` for torch's layers, as in ``named_parameters()`` and ``state_dict()`` of a fresh
    layer). Returns the element-level bool mask of the weight (True = kept), or None when the
    layer had no block attention.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.blocks import attach_block_attention, fold_block_attention
    >>> layer = nn.Linear(2, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = layer.weight.fill_(1.0)
    >>> par = attach_block_attention(layer, 1)
    >>> par.mask[0, 1] = False
    >>> fold_block_attention(layer)
    tensor([[ True, False],
            [ True,  True]])
    >>> type(layer).__name__, layer.weight.detach()
    ('Linear', tensor([[1., 0.],
            [1., 1.]]))
    """
    par = get_block_attention(layer)
    if par is None:
        return None
    with torch.no_grad():
        mask = expand_blocks(par.mask, par.block_size).reshape(par.weight_shape).clone()
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    # a parametrization attached by an older version has no recorded order; torch layers
    # define ``weight`` first
    _restore_parameter_order(layer, getattr(par, "_parameter_order", ("weight",)))
    with torch.no_grad():  # exact zeros even if W held inf/nan in a pruned block
        layer.weight.masked_fill_(~mask.to(layer.weight.device), 0.0)
    return mask
