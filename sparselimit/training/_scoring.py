"""skorch callbacks recording weight sparsity measures in ``net.history`` once per epoch."""

from __future__ import annotations

from skorch.callbacks import Callback

from ..metrics import PQIndex, achieved_sparsity

__all__ = ["PQIndexScoring", "SparsityScoring"]


def _check_name(name) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"`name` must be a non-empty string (the history column to write); got {name!r}."
        )
    return name


class PQIndexScoring(Callback):
    """Record the PQ index of the net's prunable weights in ``net.history`` after every epoch.

    The PQ index (see :class:`~sparselimit.metrics.PQIndex`) is higher for sparser weights.
    Over training and pruning it typically falls, then rises as the network nears its
    compressibility limit, then falls when it collapses; this callback lets you watch it
    (``net.history[:, "pq_index"]``, or :func:`~sparselimit.metrics.plot_history`).

    It depends on the weights only, not on data, so there is no train/valid variant.

    Parameters
    ----------
    p : float, default=0.5
        Smaller exponent, ``0 < p < q``.
    q : float, default=1.0
        Larger exponent.
    scope : {"global", "layer", "neuron"}, default="global"
        As in :class:`~sparselimit.metrics.PQIndex`; for ``"layer"`` and ``"neuron"`` the
        recorded value is the mean over the units.
    name : str, default="pq_index"
        The history column written.
    include, exclude : str or list of str, default=None
        Select the weights by parameter name; see
        :func:`~sparselimit.utils.select_prunable`.

    Notes
    -----
    Masks: when the net has a ``masks_`` attribute (dict of parameter name to bool tensor,
    ``True`` = kept), only the kept weights count. Otherwise the first callback of the net with
    a dict-valued ``masks`` attribute (such as :class:`~sparselimit.training.MaskEnforcer`
    while fine-tuning a pruned net) supplies them. Without masks every selected weight counts.
    This is the rule of :meth:`PQIndex.score <sparselimit.metrics.PQIndex.score>`, so the last
    recorded value equals ``PQIndex().score(net)``.

    Where the index is undefined (every selected weight is zero, or the weights are NaN after
    divergence) NaN is recorded instead of interrupting training.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetRegressor
    >>> from sparselimit.training import PQIndexScoring
    >>> X = np.random.RandomState(0).randn(32, 4).astype("float32")
    >>> y = X[:, :1] * 2
    >>> net = NeuralNetRegressor(
    ...     torch.nn.Linear, module__in_features=4, module__out_features=1,
    ...     max_epochs=3, train_split=None, verbose=0, callbacks=[PQIndexScoring()],
    ... ).fit(X, y)
    >>> len(net.history[:, "pq_index"])
    3
    """

    def __init__(self, p=0.5, q=1.0, scope="global", name="pq_index", include=None, exclude=None):
        self.p = p
        self.q = q
        self.scope = scope
        self.name = name
        self.include = include
        self.exclude = exclude

    def initialize(self):
        """Validate the parameters (called by the net when it initializes its callbacks)."""
        _check_name(self.name)
        self.scorer_ = PQIndex(self.p, self.q, self.scope, self.include, self.exclude)
        self.scorer_._validate()
        return self

    def on_epoch_end(self, net, **kwargs):
        """Write the PQ index of ``net.module_`` to the current history row."""
        # built from the current parameters: ``net.set_params(callbacks__<name>__p=...)`` sets
        # them without calling ``initialize`` again, and a following ``partial_fit`` recorded
        # the index under the old ``p`` / ``q`` / ``scope``
        self.scorer_ = PQIndex(self.p, self.q, self.scope, self.include, self.exclude)
        value = self.scorer_._score(net, None, strict=False)
        net.history.record(self.name, value)


class SparsityScoring(Callback):
    """Record the fraction of exactly-zero prunable weights in ``net.history`` every epoch.

    Same scale as ``GlobalOneShotPruner(sparsity=...)``; see
    :func:`~sparselimit.metrics.achieved_sparsity`. Useful while training with an L1 penalty
    (which rarely produces exact zeros by itself) and while fine-tuning a pruned net (where it
    shows the masks are kept).

    Parameters
    ----------
    name : str, default="sparsity"
        The history column written.
    include, exclude : str or list of str, default=None
        Select the weights by parameter name; see
        :func:`~sparselimit.utils.select_prunable`.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetRegressor
    >>> from sparselimit.training import SparsityScoring
    >>> X = np.random.RandomState(0).randn(32, 4).astype("float32")
    >>> y = X[:, :1] * 2
    >>> net = NeuralNetRegressor(
    ...     torch.nn.Linear, module__in_features=4, module__out_features=1,
    ...     max_epochs=2, train_split=None, verbose=0, callbacks=[SparsityScoring()],
    ... ).fit(X, y)
    >>> net.history[:, "sparsity"]
    [0.0, 0.0]
    """

    def __init__(self, name="sparsity", include=None, exclude=None):
        self.name = name
        self.include = include
        self.exclude = exclude

    def initialize(self):
        """Validate the parameters (called by the net when it initializes its callbacks)."""
        _check_name(self.name)
        return self

    def on_epoch_end(self, net, **kwargs):
        """Write the fraction of exact zeros of the net's prunable weights (its own
        ``prunable_include`` / ``prunable_exclude`` unless ``include`` / ``exclude`` are set)."""
        net.history.record(self.name, achieved_sparsity(net, self.include, self.exclude))
