"""Curvature operators: the matrix-free Hessian of a network's data loss."""

from ._base import LinearOperatorBase, RestrictedOperator, as_operator
from ._operator import HessianOperator, NondeterministicHessianError

__all__ = [
    "HessianOperator",
    "LinearOperatorBase",
    "RestrictedOperator",
    "NondeterministicHessianError",
    "as_operator",
]
