"""SequentialAttention++ (Yasuda et al., NeurIPS 2024) as a skorch callback and a meta-estimator.

``SequentialAttentionPP`` drives the training of any skorch net: it attaches a block attention
parametrization to every eligible layer, runs the phases (dense / sparsify / sparse, repeated,
then a sparse fine-tune), re-creates the optimizer at every phase change, and at the end of
training folds the attention into the weights, leaving a plain module with exact block zeros.
``BlockSparsifier`` is the scikit-learn face of it: ``fit`` trains a clone of a skorch net with
the callback and exposes the masks.
"""

from __future__ import annotations

import numbers
import warnings

import torch
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from ..utils import PrunedNetMixin, check_sparsity, check_X_y, make_generator
from ..utils._validation import (
    _record_n_features,
    _refuse_frozen,
    _require_y_to_train,
    _torch_seeded,
    check_class_codes,
    check_skorch_estimator,
)
from ._attention import attach_block_attention, get_block_attention
from ._export import export_block_sparse
from ._grid import (
    check_block_size,
    expand_blocks,
    n_blocks_to_prune,
    select_block_layers,
    topk_block_mask,
)
from ._schedule import PhaseSchedule, sparsity_ramp

__all__ = ["SequentialAttentionPP", "BlockSparsifier"]

_CALLBACK_NAME = "sequential_attention_pp"


class SequentialAttentionPP(Callback):
    """skorch callback training a net into per-layer top-k block sparsity (SequentialAttention++).

    Every eligible weight ``W`` (Linear, or Conv viewed as ``(out, in*kh*kw)``, with at least
    ``min_blocks`` blocks) is used as ``W * expand(A * mask)`` with ``A = N_B * softmax(L)``
    over trainable block logits ``L`` (identity at ``L = 0``). Phases, by epoch:

    * **dense** — mask all ones; ``A`` learns which blocks matter. Pruned weights from the
      previous cycle restart at zero (ACDC).
    * **sparsify** — before every training batch the lowest-attention kept blocks are removed so
      that the layer's block sparsity follows ``s(tau) = s (1 - e^{-c tau}) / (1 - e^{-c})``.
    * **sparse** — mask frozen at exactly ``k = n_blocks - floor(s * n_blocks)`` blocks.
    * the three repeat ``n_cycles`` times, then **finetune** — sparse, logits frozen.

    The optimizer is re-created (``net.initialize_optimizer()``) at every phase change, so its
    state (momentum, Adam moments) never carries over. At the end of training (``export=True``)
    ``A * mask`` is folded into the weights and the parametrizations are removed: ``net.module_``
    is a plain module of its original classes with exact zero blocks, and ``masks_`` holds the
    element-level masks (e.g. for :class:`sparselimit.training.MaskEnforcer` when training on).

    Parameters
    ----------
    sparsity : float in [0, 1), default=0.9
        Fraction of blocks removed in each eligible layer.
    block_size : int or (int, int), default=8
        Block shape. It must divide the (matrix view of the) weight of every eligible layer;
        otherwise ``ValueError`` names the layer (exclude it, or pick another size).
    dense_epochs, sparsify_epochs, sparse_epochs, n_cycles, finetune_epochs : int
        The schedule, see :class:`PhaseSchedule`; defaults 2, 2, 2, 1, 2. Set the net's
        ``max_epochs`` to ``schedule.total_epochs`` (``BlockSparsifier`` does it for you).
    c : float, default=4.0
        Steepness of the sparsification ramp.
    min_blocks : int, default=100
        Layers with fewer blocks stay dense (the paper's rule).
    include, exclude : str or list of str, default=None
        Parameter-name patterns choosing the candidate weights (``select_prunable``).
    reset_optimizer : bool, default=True
        Re-create the optimizer at every phase change.
    export : bool, default=True
        Fold the attention into the weights when training ends.

    Attributes
    ----------
    schedule_ : PhaseSchedule
    layers_ : list of str
        The block-sparsified weights.
    skipped_layers_ : dict of str to str
        Candidate weights left dense, with the reason.
    masks_, block_masks_ : dict of str to bool tensor
        Element- and block-level masks after export.

    Notes
    -----
    While training, the weights live in ``layer.parametrizations.weight.original`` (torch's
    parametrization API, listed after the layer's other parameters; the export restores the
    original order); optimizer parameter groups keyed on ``'...weight'`` names and
    ``L1RegularizedClassifier``'s penalty do not see them — use a plain skorch net (or
    ``l1_alpha=0``). LR-scheduler callbacks holding the old optimizer are not re-bound.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from torch import nn
    >>> from skorch import NeuralNetClassifier
    >>> from sparselimit.blocks import SequentialAttentionPP
    >>> X = np.random.RandomState(0).randn(64, 16).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> cb = SequentialAttentionPP(0.5, 2, dense_epochs=1, sparsify_epochs=1, sparse_epochs=1,
    ...                            finetune_epochs=1, min_blocks=10)
    >>> net = NeuralNetClassifier(nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2)),
    ...                           criterion=nn.CrossEntropyLoss, max_epochs=4, train_split=None,
    ...                           verbose=0, callbacks=[cb]).fit(X, y)
    >>> type(net.module_[0]).__name__, int(cb.block_masks_["0.weight"].sum())
    ('Linear', 16)
    >>> net.history[:, "sa_phase"]
    ['dense', 'sparsify', 'sparse', 'finetune']
    """

    def __init__(
        self,
        sparsity=0.9,
        block_size=8,
        *,
        dense_epochs=2,
        sparsify_epochs=2,
        sparse_epochs=2,
        n_cycles=1,
        finetune_epochs=2,
        c=4.0,
        min_blocks=100,
        include=None,
        exclude=None,
        reset_optimizer=True,
        export=True,
    ):
        self.sparsity = sparsity
        self.block_size = block_size
        self.dense_epochs = dense_epochs
        self.sparsify_epochs = sparsify_epochs
        self.sparse_epochs = sparse_epochs
        self.n_cycles = n_cycles
        self.finetune_epochs = finetune_epochs
        self.c = c
        self.min_blocks = min_blocks
        self.include = include
        self.exclude = exclude
        self.reset_optimizer = reset_optimizer
        self.export = export

    # -- setup -------------------------------------------------------------------------------
    def _validate(self):
        self.sparsity_ = check_sparsity(self.sparsity)
        self.block_size_ = check_block_size(self.block_size)
        self.schedule_ = PhaseSchedule(
            self.dense_epochs,
            self.sparsify_epochs,
            self.sparse_epochs,
            n_cycles=self.n_cycles,
            finetune_epochs=self.finetune_epochs,
        )
        if isinstance(self.c, bool) or not isinstance(self.c, numbers.Real) or self.c < 0:
            raise ValueError(f"`c` must be a float >= 0 (ramp steepness); got {self.c!r}.")
        return self

    def initialize(self):
        self.epoch_ = 0
        self.phase_ = None
        self._cycle = None
        self._attention = {}
        self._layers = {}
        self._batch_in_phase = 0
        self._batches_per_epoch = 1
        self._n_kept = {}
        self.block_masks_ = None
        self.masks_ = None
        return self

    def _attached(self, net) -> bool:
        if not self._attention:
            return False
        modules = {id(m) for m in net.module_.modules()}
        return all(
            id(self._layers[name]) in modules and get_block_attention(self._layers[name]) is par
            for name, par in self._attention.items()
        )

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if not hasattr(self, "epoch_"):
            self.initialize()
        self._validate()
        # kept-block counts are tracked in Python so that the per-batch ramp never waits for the
        # device; recounted once per fit, in case the masks were changed in between
        self._n_kept = {}
        if self._attached(net):
            return
        layers, skipped = select_block_layers(
            net.module_,
            self.block_size_,
            min_blocks=self.min_blocks,
            include=self.include,
            exclude=self.exclude,
        )
        self.layers_ = list(layers)
        self.skipped_layers_ = skipped
        previous = self.block_masks_
        self._layers = {name: layer for name, (layer, _) in layers.items()}
        self._attention = {
            name: attach_block_attention(layer, self.block_size_)
            for name, (layer, _) in layers.items()
        }
        if previous:  # training on after an export: keep the exported support
            for name, par in self._attention.items():
                if name in previous:
                    par.mask.copy_(previous[name].to(par.mask.device))
            self.phase_ = "finetune"
        net.initialize_optimizer()
        remaining = self.schedule_.total_epochs - self.epoch_
        if net.max_epochs != remaining and remaining > 0:
            warnings.warn(
                f"The net trains for max_epochs={net.max_epochs} but the SequentialAttention++ "
                f"schedule has {remaining} epochs left; the final block mask is enforced when "
                "training ends either way. Set max_epochs to schedule_.total_epochs.",
                UserWarning,
                stacklevel=2,
            )

    # -- phases ------------------------------------------------------------------------------
    def _kept_blocks(self, name, par) -> int:
        if name not in self._n_kept:
            self._n_kept[name] = int(par.mask.count_nonzero())
        return self._n_kept[name]

    @torch.no_grad()
    def _prune_to(self, sparsity):
        for name, par in self._attention.items():
            n = par.n_blocks
            k = n - n_blocks_to_prune(n, sparsity)
            if self._kept_blocks(name, par) > k:  # top-k within the kept: exactly k remain
                par.mask.copy_(topk_block_mask(par.attention(), k, within=par.mask))
                self._n_kept[name] = k

    @torch.no_grad()
    def _enter_phase(self, net, phase):
        previous = self.phase_
        for name, par in self._attention.items():
            if phase == "dense":
                if previous in ("sparsify", "sparse"):  # ACDC: pruned weights restart at zero
                    self._zero_pruned(name, par)
                par.mask.fill_(True)
                self._n_kept[name] = par.n_blocks
                par.logits.requires_grad_(True)
            elif phase == "finetune":
                par.logits.requires_grad_(False)
        if phase in ("sparse", "finetune"):
            self._prune_to(self.sparsity_)
        if phase == "sparsify":
            self.dense_topk_ = {
                name: topk_block_mask(
                    par.attention(), par.n_blocks - n_blocks_to_prune(par.n_blocks, self.sparsity_)
                )
                for name, par in self._attention.items()
            }
        self.phase_ = phase
        self._batch_in_phase = 0
        if self.reset_optimizer and previous is not None:
            net.initialize_optimizer()

    def _zero_pruned(self, name, par):
        original = self._layers[name].parametrizations["weight"].original
        keep = expand_blocks(par.mask, par.block_size).reshape(original.shape)
        original.mul_(keep.to(original.dtype))

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if dataset_train is not None:
            self._batches_per_epoch = max(len(net.get_iterator(dataset_train, training=True)), 1)
        phase, cycle, _, _ = self.schedule_.phase_at(self.epoch_)
        if (phase, cycle) != (self.phase_, self._cycle):
            self._enter_phase(net, phase)
            self._cycle = cycle

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        if training and self.phase_ == "sparsify":
            total = self._batches_per_epoch * self.schedule_.sparsify_epochs
            self._batch_in_phase += 1
            self._prune_to(sparsity_ramp(self._batch_in_phase / total, self.sparsity_, self.c))

    def current_block_sparsity(self) -> float:
        """Fraction of blocks currently masked, over all block-sparsified layers."""
        if not self._attention:
            return float("nan")
        pruned = sum(int((~par.mask).count_nonzero()) for par in self._attention.values())
        return pruned / sum(par.n_blocks for par in self._attention.values())

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self.epoch_ += 1
        net.history.record("sa_phase", self.phase_)
        net.history.record("block_sparsity", self.current_block_sparsity())

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if self.export:
            self.finalize(net)

    def finalize(self, net):
        """Enforce the final top-k masks, fold the attention into the weights, drop the wrappers.

        Called at the end of training when ``export=True``; call it yourself otherwise.
        """
        if not self._attention:
            return net
        self._prune_to(self.sparsity_)
        result = export_block_sparse(net.module_)
        self.masks_ = result.masks
        self.block_masks_ = result.block_masks
        self._attention = {}
        self._layers = {}
        net.initialize_optimizer()
        return net


class BlockSparsifier(PrunedNetMixin, MetaEstimatorMixin, BaseEstimator):
    """Train a skorch net into per-layer block sparsity with SequentialAttention++.

    ``fit(X, y)`` fits a clone of ``estimator`` with a :class:`SequentialAttentionPP` callback
    appended and ``max_epochs`` set to the schedule's length; the fitted ``estimator_`` holds a
    plain block-sparse module. ``predict``, ``predict_proba``, ``score`` and ``transform``
    delegate to it.

    Parameters
    ----------
    estimator : skorch NeuralNet
        The (unfitted) net; not modified.
    sparsity, block_size, dense_epochs, sparsify_epochs, sparse_epochs, n_cycles,
    finetune_epochs, c, min_blocks, include, exclude, reset_optimizer
        As in :class:`SequentialAttentionPP`.
    random_state : int, RandomState instance or None, default=None
        Seeds the training (the net's initialization and batch shuffling): it runs with
        torch's global RNG seeded from it inside ``torch.random.fork_rng``, so the global RNG
        is restored afterwards. ``None`` trains with the global RNG as it is.

    Attributes
    ----------
    estimator_ : skorch NeuralNet
        The fitted net; ``estimator_.module_`` is a plain module with exact zero blocks.
    masks_, block_masks_ : dict of str to bool tensor
        Element- and block-level masks (True = kept) of the block-sparsified weights.
    layer_sparsity_ : dict of str to float
        Block sparsity of each block-sparsified weight.
    sparsity_ : float
        Pruned blocks over all blocks of the block-sparsified weights.
    skipped_layers_ : dict of str to str
        Candidate weights left dense, with the reason.
    n_features_in_ : int
        Number of features of ``X`` (only when ``X`` is two-dimensional).

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from skorch import NeuralNetClassifier
    >>> from sparselimit.blocks import BlockSparsifier
    >>> X = np.random.RandomState(0).randn(64, 16).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> net = NeuralNetClassifier(nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2)),
    ...                           criterion=nn.CrossEntropyLoss, train_split=None, verbose=0)
    >>> sp = BlockSparsifier(net, sparsity=0.75, block_size=2, dense_epochs=1, sparsify_epochs=1,
    ...                      sparse_epochs=1, finetune_epochs=1, min_blocks=20,
    ...                      random_state=0).fit(X, y)
    >>> sp.layer_sparsity_
    {'0.weight': 0.75}
    >>> sp.predict(X).shape
    (64,)
    """

    # only random_state here: the estimator and the schedule are checked in fit and by
    # SequentialAttentionPP, with messages that say what to pass instead
    _parameter_constraints: dict = {"random_state": ["random_state"]}

    def __init__(
        self,
        estimator=None,
        *,
        sparsity=0.9,
        block_size=8,
        dense_epochs=2,
        sparsify_epochs=2,
        sparse_epochs=2,
        n_cycles=1,
        finetune_epochs=2,
        c=4.0,
        min_blocks=100,
        include=None,
        exclude=None,
        reset_optimizer=True,
        random_state=None,
    ):
        self.estimator = estimator
        self.sparsity = sparsity
        self.block_size = block_size
        self.dense_epochs = dense_epochs
        self.sparsify_epochs = sparsify_epochs
        self.sparse_epochs = sparse_epochs
        self.n_cycles = n_cycles
        self.finetune_epochs = finetune_epochs
        self.c = c
        self.min_blocks = min_blocks
        self.include = include
        self.exclude = exclude
        self.reset_optimizer = reset_optimizer
        self.random_state = random_state

    def _make_callback(self) -> SequentialAttentionPP:
        return SequentialAttentionPP(
            self.sparsity,
            self.block_size,
            dense_epochs=self.dense_epochs,
            sparsify_epochs=self.sparsify_epochs,
            sparse_epochs=self.sparse_epochs,
            n_cycles=self.n_cycles,
            finetune_epochs=self.finetune_epochs,
            c=self.c,
            min_blocks=self.min_blocks,
            include=self.include,
            exclude=self.exclude,
            reset_optimizer=self.reset_optimizer,
            export=True,
        )._validate()

    def fit(self, X, y=None, **fit_params):
        """Fit a clone of ``estimator`` under the SequentialAttention++ schedule."""
        check_skorch_estimator(self.estimator, type(self).__name__)
        _refuse_frozen(self.estimator, type(self).__name__)
        self._validate_params()
        est = self.estimator
        if est is None or not (hasattr(est, "callbacks") and hasattr(est, "max_epochs")):
            raise TypeError(
                "`estimator` must be a skorch net (NeuralNetClassifier, NeuralNetRegressor, ...) "
                f"so that a training callback can drive it; got {type(est).__name__}."
            )
        check_X_y(X, y)
        _require_y_to_train(est, X, y, type(self).__name__)
        check_class_codes(est, y)
        callback = self._make_callback()
        est = clone(est)
        callbacks = est.callbacks
        if callbacks == "disable":
            raise ValueError(
                "`estimator` has callbacks='disable'; BlockSparsifier needs its training "
                "callback. Pass callbacks=None or a list."
            )
        est.set_params(
            callbacks=[*(callbacks or []), (_CALLBACK_NAME, callback)],
            max_epochs=callback.schedule_.total_epochs,
        )
        seed = (
            None if self.random_state is None else make_generator(self.random_state).initial_seed()
        )
        # the net's initialization and batch shuffling draw from torch's global RNG: seed it
        # for the training and restore it afterwards
        with _torch_seeded(seed):
            est.fit(X, y, **fit_params)
        callback = dict(est.callbacks_)[_CALLBACK_NAME]
        self.estimator_ = est
        self.masks_ = callback.masks_
        self.block_masks_ = callback.block_masks_
        self.skipped_layers_ = callback.skipped_layers_
        # from integer counts: 1 - float32 mean(mask) is off in the 9th digit (0.8299999982
        # for 83 of 100 blocks removed)
        self.layer_sparsity_ = {
            name: int((~m).count_nonzero()) / m.numel() for name, m in self.block_masks_.items()
        }
        total = sum(m.numel() for m in self.block_masks_.values())
        self.sparsity_ = sum(int((~m).count_nonzero()) for m in self.block_masks_.values()) / total
        _record_n_features(self, X)  # predict then names a wrong column count, as the pruners do
        self._record_n_outputs(X)
        return self

    @property
    def history_(self):
        """The fitted net's skorch history (with ``sa_phase`` and ``block_sparsity`` columns)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.history
