"""Temporary changes to a skorch net's criterion, undone afterwards."""

from __future__ import annotations

import contextlib

__all__ = ["_with_reduction"]


@contextlib.contextmanager
def _with_reduction(criterion, reduction):
    """Give a torch loss module ``reduction`` for the duration and restore its own after (the
    user's net is left as it was, even when the loss raises). Yields whether the criterion has
    a ``reduction`` to set: a custom criterion without one is left alone."""
    old = getattr(criterion, "reduction", None)
    if old is None:
        yield False
        return
    criterion.reduction = reduction
    try:
        yield True
    finally:
        criterion.reduction = old
