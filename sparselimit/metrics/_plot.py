"""Plot per-epoch values from a skorch history (matplotlib is imported only when called)."""

from __future__ import annotations

__all__ = ["plot_history"]


def plot_history(net_or_history, keys=("pq_index", "valid_acc"), ax=None):
    """Plot history columns (PQ index, sparsity, accuracy, ...) against the epoch.

    Meant for the values the :class:`~sparselimit.training.PQIndexScoring` and
    :class:`~sparselimit.training.SparsityScoring` callbacks record: the PQ index first falls
    during training, then rises as the network approaches its compressibility limit.

    Parameters
    ----------
    net_or_history : skorch net, skorch.History or list of dict
        A net (its ``history`` is used) or the history itself: one dict per epoch.
    keys : str or sequence of str, default=("pq_index", "valid_acc")
        The history columns to plot, one line each, on the same axes. Epochs without a value
        for a key are skipped.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure is created when ``None``.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    KeyError
        If a key appears in no epoch; the message lists the available columns.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from skorch.history import History
    >>> from sparselimit.metrics import plot_history
    >>> history = History()
    >>> for epoch, (pqi, acc) in enumerate([(0.30, 0.6), (0.25, 0.8), (0.40, 0.9)], 1):
    ...     history.new_epoch()
    ...     history.record("epoch", epoch)
    ...     history.record("pq_index", pqi)
    ...     history.record("valid_acc", acc)
    >>> ax = plot_history(history, ax=Figure().subplots())
    >>> [line.get_label() for line in ax.get_lines()]
    ['pq_index', 'valid_acc']
    """
    history = getattr(net_or_history, "history", net_or_history)
    rows = list(history)
    if isinstance(keys, str):
        keys = (keys,)
    available = sorted({k for row in rows for k in row if k != "batches"})
    missing = [k for k in keys if not any(k in row for row in rows)]
    if missing:
        raise KeyError(
            f"No epoch of the history records {missing}; available columns: {available}. Add "
            "the callback that records it (e.g. PQIndexScoring for 'pq_index') or pass other "
            "`keys`."
        )
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    for key in keys:
        points = [
            (row.get("epoch", i), row[key])
            for i, row in enumerate(rows, 1)
            if row.get(key) is not None
        ]
        epochs, values = zip(*points)
        ax.plot(epochs, values, marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.legend()
    return ax
