"""How many prunable weights are exactly zero: per-layer report, total, and a scorer."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..utils._modules import resolve_prunable

__all__ = [
    "LayerSparsity",
    "SparsityReport",
    "sparsity_report",
    "achieved_sparsity",
    "sparsity_scorer",
]


@dataclass(frozen=True)
class LayerSparsity:
    """One row of a :class:`SparsityReport`: the exact zeros of one weight tensor.

    Attributes
    ----------
    name : str
        Parameter name, as in ``module.named_parameters()``.
    shape : tuple of int
        Shape of the tensor.
    n_params : int
        Number of entries.
    n_zero : int
        Number of entries that are exactly zero.
    sparsity : float
        ``n_zero / n_params`` (0.0 for an empty tensor).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.metrics import sparsity_report
    >>> layer = nn.Linear(4, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = layer.weight[0].zero_()
    >>> row = sparsity_report(layer).layers[0]
    >>> row.name, row.n_zero, row.sparsity
    ('weight', 4, 0.5)
    """

    name: str
    shape: tuple[int, ...]
    n_params: int
    n_zero: int
    sparsity: float


@dataclass(frozen=True)
class SparsityReport:
    """Exact zeros among a network's prunable weights, per layer and in total.

    Returned by :func:`sparsity_report`; ``str(report)`` is a small text table and
    :meth:`to_dict` a JSON-ready dict.

    Attributes
    ----------
    layers : tuple of LayerSparsity
        One row per prunable weight tensor, in registration order.
    n_params : int
        Total number of prunable weights.
    n_zero : int
        Total number of them that are exactly zero.
    sparsity : float
        ``n_zero / n_params``: the fraction of prunable weights removed.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.metrics import sparsity_report
    >>> net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> with torch.no_grad():
    ...     _ = net[0].weight[:2].zero_()
    >>> report = sparsity_report(net)
    >>> report.n_params, report.n_zero, report.sparsity
    (24, 8, 0.333...)
    """

    layers: tuple[LayerSparsity, ...]
    n_params: int
    n_zero: int
    sparsity: float

    def to_dict(self) -> dict:
        """The report as plain Python types (lists, ints, floats), ready for ``json.dumps``.

        Examples
        --------
        >>> from torch import nn
        >>> from sparselimit.metrics import sparsity_report
        >>> sparsity_report(nn.Linear(2, 1)).to_dict()["layers"][0]["shape"]
        [1, 2]
        """
        rows = [dict(asdict(row), shape=list(row.shape)) for row in self.layers]
        return {
            "layers": rows,
            "n_params": self.n_params,
            "n_zero": self.n_zero,
            "sparsity": self.sparsity,
        }

    def __str__(self) -> str:
        header = ("layer", "shape", "params", "zeros", "sparsity")
        rows = [
            (
                r.name,
                "x".join(map(str, r.shape)) or "()",
                f"{r.n_params:,}",
                f"{r.n_zero:,}",
                f"{r.sparsity:.2%}",
            )
            for r in self.layers
        ]
        rows.append(("total", "", f"{self.n_params:,}", f"{self.n_zero:,}", f"{self.sparsity:.2%}"))
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        align = ("<", "<", ">", ">", ">")
        lines = [
            "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths)).rstrip()
            for row in [header, *rows]
        ]
        lines.insert(1, "-" * len(lines[0]))
        lines.insert(len(lines) - 1, "-" * len(lines[0]))
        return "\n".join(lines)


def _layer_rows(obj, include, exclude) -> list[LayerSparsity]:
    params = resolve_prunable(obj, include, exclude)
    rows = []
    for name, w in params.items():
        n_params = w.numel()
        n_zero = int(torch.count_nonzero(w.detach() == 0)) if n_params else 0
        rows.append(
            LayerSparsity(
                name, tuple(w.shape), n_params, n_zero, n_zero / n_params if n_params else 0.0
            )
        )
    return rows


def sparsity_report(obj, include=None, exclude=None) -> SparsityReport:
    """Count the exactly-zero prunable weights of a network, per layer and in total.

    Which weights count: with ``include`` or ``exclude`` given, those patterns select them
    (:func:`~sparselimit.utils.select_prunable`). With both None, the weights ``obj`` itself
    pruned or penalised, so that the report agrees with the object's ``sparsity_``: the keys
    of ``masks_`` of a fitted pruner; else a meta-estimator's own ``include`` / ``exclude``;
    else the skorch net's ``prunable_include`` / ``prunable_exclude`` (the L1 nets'); else the
    default rule, the weights of Linear and Conv layers. A Pipeline is looked through to its
    last step, a fitted ``GridSearchCV`` / ``RandomizedSearchCV`` to its ``best_estimator_``.

    Parameters
    ----------
    obj : torch.nn.Module, skorch net, fitted meta-estimator, fitted search or Pipeline
        Holds the network (see :func:`~sparselimit.utils.resolve_module`).
    include : str or list of str, default=None
        Regular expressions selecting the weights by parameter name instead of the object's
        own selection; see :func:`~sparselimit.utils.select_prunable`.
    exclude : str or list of str, default=None
        Regular expressions removing weights from the selection (also replaces the object's
        own selection).

    Returns
    -------
    report : SparsityReport
        Per-layer rows and totals; print it for a table, ``to_dict()`` for JSON.

    See Also
    --------
    achieved_sparsity : Just the total fraction.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.metrics import sparsity_report
    >>> net = nn.Sequential(nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 1))
    >>> with torch.no_grad():
    ...     net[0].weight[0] = 0.0
    >>> report = sparsity_report(net)
    >>> report.n_zero, report.n_params, report.sparsity
    (4, 10, 0.4)
    >>> print(report)
    layer     shape  params  zeros  sparsity
    ----------------------------------------
    0.weight  2x4         8      4    50.00%
    2.weight  1x2         2      0     0.00%
    ----------------------------------------
    total                10      4    40.00%
    """
    rows = _layer_rows(obj, include, exclude)
    n_params = sum(r.n_params for r in rows)
    n_zero = sum(r.n_zero for r in rows)
    return SparsityReport(tuple(rows), n_params, n_zero, n_zero / n_params if n_params else 0.0)


def achieved_sparsity(obj, include=None, exclude=None) -> float:
    """Fraction of a network's prunable weights that are exactly zero.

    Same scale as ``GlobalOneShotPruner(sparsity=...)``: 0.9 means 90% removed. Without
    ``include`` / ``exclude`` it counts the weights ``obj`` itself pruned (see
    :func:`sparsity_report`), so on a fitted pruner it equals the pruner's ``sparsity_``.

    Parameters
    ----------
    obj : torch.nn.Module, skorch net, fitted meta-estimator, fitted search or Pipeline
        Holds the network (see :func:`~sparselimit.utils.resolve_module`).
    include, exclude : str or list of str, default=None
        Select the weights by parameter name, as in :func:`sparsity_report`.

    Returns
    -------
    sparsity : float
        In ``[0, 1]``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.metrics import achieved_sparsity
    >>> layer = nn.Linear(5, 2)
    >>> with torch.no_grad():
    ...     layer.weight[:, :4] = 0.0
    >>> achieved_sparsity(layer)
    0.8
    """
    return sparsity_report(obj, include, exclude).sparsity


def sparsity_scorer(estimator, X=None, y=None, *, include=None, exclude=None) -> float:
    """Scorer returning :func:`achieved_sparsity` of ``estimator``; ``X`` and ``y`` are ignored.

    Has the ``scorer(estimator, X, y)`` signature scikit-learn expects, so it goes straight
    into ``GridSearchCV(scoring={"acc": "accuracy", "sparsity": sparsity_scorer})``. Scorers
    are maximised: higher means more zeros. By default it counts the weights the candidate
    itself pruned (its masks' keys; see :func:`sparsity_report`), so for a pruner it agrees
    with ``sparsity_``. To select other weights, bind ``include`` or ``exclude`` with
    ``functools.partial(sparsity_scorer, include=r"weight$")``.

    Parameters
    ----------
    estimator : torch.nn.Module, skorch net, fitted meta-estimator, fitted search or Pipeline
        Holds the network.
    X, y : ignored
        Present for the scorer signature.
    include, exclude : str or list of str, default=None
        Select the weights by parameter name, as in :func:`sparsity_report`.

    Returns
    -------
    sparsity : float
        Fraction of the prunable weights that are exactly zero.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.metrics import sparsity_scorer
    >>> layer = nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     layer.weight[0] = 0.0
    >>> sparsity_scorer(layer, None, None)
    0.5
    """
    return achieved_sparsity(estimator, include, exclude)


# scikit-learn (>= 1.7, without metadata routing) asks every scorer of a multi-metric search
# this before passing it sample_weight, and fails on a plain function (scikit-learn#31599);
# the fraction of zeros depends on no sample: weights do not apply
sparsity_scorer._accept_sample_weight = lambda: False
