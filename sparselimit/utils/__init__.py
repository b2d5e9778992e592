"""Shared helpers: parameter selection, module resolution, input validation."""

from ._masks import apply_masks, check_masks
from ._meta import PrunedNetMixin
from ._modules import resolve_masks, resolve_module
from ._params import net_selection, select_prunable
from ._validation import (
    check_finite,
    check_sparsity,
    check_weights_finite,
    check_X_y,
    make_generator,
)

__all__ = [
    "select_prunable",
    "net_selection",
    "apply_masks",
    "check_masks",
    "resolve_module",
    "resolve_masks",
    "check_sparsity",
    "check_finite",
    "check_X_y",
    "check_weights_finite",
    "make_generator",
    "PrunedNetMixin",
]
