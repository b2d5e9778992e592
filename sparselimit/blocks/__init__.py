"""Block sparsity: SequentialAttention++ training, block magnitude pruning, BSR export.

Blocks are ``B x B`` (or ``bh x bw``) tiles of a weight matrix (a Conv weight is viewed as
``(out, in * kh * kw)``). Each eligible layer keeps the same fraction of its blocks; layers with
fewer than ``min_blocks`` (100) blocks stay dense.
"""

from ._attention import (
    BlockAttention,
    attach_block_attention,
    block_attention,
    fold_block_attention,
)
from ._export import (
    BlockSparseExport,
    BSRLinear,
    export_block_sparse,
    to_bsr_inference,
    zero_block_mask,
)
from ._magnitude import block_magnitude_masks
from ._schedule import PhaseSchedule, sparsity_ramp
from ._sparsifier import BlockSparsifier, SequentialAttentionPP

__all__ = [
    "BlockSparsifier",
    "SequentialAttentionPP",
    "block_magnitude_masks",
    "BlockAttention",
    "attach_block_attention",
    "fold_block_attention",
    "block_attention",
    "export_block_sparse",
    "BlockSparseExport",
    "BSRLinear",
    "to_bsr_inference",
    "zero_block_mask",
    "PhaseSchedule",
    "sparsity_ramp",
]
