"""A one-line tqdm progress bar over epochs (skorch's ProgressBar counts batches)."""

from __future__ import annotations

from skorch.callbacks import Callback

__all__ = ["EpochProgressBar"]


class EpochProgressBar(Callback):
    """Show a tqdm bar that advances once per epoch, with the last train loss.

    Parameters
    ----------
    desc : str, default="training"
        Label of the bar.
    disable : bool, default=False
        Silence the bar (what ``verbose=0`` maps to in sparselimit's estimators).

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from skorch import NeuralNetRegressor
    >>> from sparselimit.training import EpochProgressBar
    >>> X = np.zeros((8, 2), dtype=np.float32); y = np.zeros((8, 1), dtype=np.float32)
    >>> net = NeuralNetRegressor(nn.Linear(2, 1), max_epochs=2, verbose=0, train_split=None,
    ...                          callbacks=[EpochProgressBar(disable=True)]).fit(X, y)
    >>> len(net.history)
    2
    """

    def __init__(self, desc="training", disable=False):
        self.desc = desc
        self.disable = disable

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=net.max_epochs, desc=self.desc, disable=self.disable, leave=False)

    def on_epoch_end(self, net, **kwargs):
        self.bar_.update(1)
        loss = net.history[-1].get("train_loss")
        if loss is not None:
            self.bar_.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self.bar_.close()

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("bar_", None)
        return state
