"""A small default network, so the command line and examples need no model code."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """A fully connected ReLU network returning logits.

    Parameters
    ----------
    n_features : int
        Input width.
    n_outputs : int
        Output width (classes for a classifier, targets for a regressor).
    hidden : sequence of int, default=(64,)
        Hidden layer widths.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.training import MLP
    >>> MLP(8, 3, hidden=(16, 16))(torch.zeros(5, 8)).shape
    torch.Size([5, 3])
    """

    def __init__(self, n_features: int, n_outputs: int, hidden: Sequence[int] = (64,)):
        super().__init__()
        widths = [int(n_features), *map(int, hidden)]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], int(n_outputs)))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)
