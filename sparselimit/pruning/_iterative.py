"""Iterative pruning with rewinding: SAP (Diao et al., ICLR 2023) and lottery-ticket IMP.

Each round trains the (masked) network, measures how sparse its kept weights are, removes the
smallest-magnitude kept weights, rewinds the survivors to their initial values and trains again
with the masks enforced. The two schedules differ only in *how many* weights a round removes:

- ``"sap"``: the PQ-index bound (:func:`sap_prune_count`), adaptive to how compressible the
  weights look -- many when the kept weights are sparse (large PQ index), few when they are not;
- ``"fixed"``: a fixed fraction (20%) of the remaining weights, the lottery-ticket baseline.
"""

from __future__ import annotations

import math
import numbers
from numbers import Integral, Real

import torch
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..metrics import pq_index
from ..metrics._pq import _check_pq
from ..training import MaskEnforcer
from ..utils import (
    PrunedNetMixin,
    apply_masks,
    check_weights_finite,
    check_X_y,
    make_generator,
    net_selection,
    select_prunable,
)
from ..utils._validation import (
    _record_n_features,
    _refuse_frozen,
    _require_y,
    _require_y_to_train,
    _torch_seeded,
    check_class_codes,
    check_skorch_estimator,
)
from ._global import DATA_IMPORTANCES, _check_importance, _resolve_importance
from ._masks import _mask_sparsity, compute_masks
from ._one_shot import ENFORCER_NAME

__all__ = ["IterativePruner", "sap_prune_count"]

# Relative tolerance under which a float is taken to be the integer next to it before floor /
# ceil, so that e.g. 0.29 * 100 = 28.999999999999996 floors to 29, not 28.
_INT_RTOL = 1e-9


def _snap(x: float) -> float:
    n = round(x)
    return float(n) if abs(x - n) <= _INT_RTOL * max(1.0, abs(x)) else x


def _floor(x: float) -> int:
    return int(math.floor(_snap(x)))


def _ceil(x: float) -> int:
    return int(math.ceil(_snap(x)))


def _check_real(value, name, low, high, low_closed, high_closed):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"`{name}` must be a finite real number; got {value!r}.")
    if (value < low if low_closed else value <= low) or (
        high is not None and (value > high if high_closed else value >= high)
    ):
        interval = (
            ("[" if low_closed else "(")
            + f"{low}, "
            + ("inf" if high is None else f"{high}")
            + ("]" if high_closed else ")")
        )
        raise ValueError(f"`{name}` must be in {interval}; got {value!r}.")
    return float(value)


def _sap_bound(d, pq, p, q, eta) -> float:
    """``r = d (1 + eta)^(-q/(q-p)) (1 - I)^(qp/(q-p))``: the SAP lower bound on kept weights."""
    return d * (1.0 + eta) ** (-q / (q - p)) * (1.0 - pq) ** (q * p / (q - p))


def sap_prune_count(d, pq, p=0.5, q=1.0, eta=0.0, gamma=1.0, beta=0.9) -> int:
    """How many weights one SAP round removes from ``d`` kept weights with PQ index ``pq``.

    With ``r = d (1 + eta)^(-q/(q-p)) (1 - I)^(qp/(q-p))`` (a lower bound on how many weights must
    stay, Diao et al., ICLR 2023) and ``m = ceil(r)``, the round removes
    ``c = floor(min(gamma * (d - m), beta * d))`` weights. The integer form never removes more
    than the bound allows; values within 1e-9 (relative) of an integer count as that integer
    before ``floor``/``ceil``, so float rounding cannot move ``c`` by one.

    With ``eta=0`` and ``gamma=1``, ``(p, q) = (0.5, 1)`` removes a fraction ``I`` of the weights.

    Parameters
    ----------
    d : int
        Number of kept (unmasked) weights in the scope, >= 0.
    pq : float
        PQ index ``I_{p,q}`` of those weights, in [0, 1] (see
        :func:`sparselimit.metrics.pq_index`).
    p, q : float, default=0.5, 1.0
        The PQ-index exponents, ``0 < p < q``.
    eta : float, default=0.0
        Slack >= 0; larger removes more (see Notes).
    gamma : float, default=1.0
        Step size > 0: the fraction of the gap ``d - m`` removed in one round.
    beta : float, default=0.9
        Cap in (0, 1]: at most ``beta * d`` weights go in one round.

    Returns
    -------
    c : int
        Number of weights to remove, ``0 <= c <= d``.

    Notes
    -----
    ``eta`` enters as ``(1 + eta)^(-q/(q-p))``, which lowers the bound ``r`` and therefore
    *raises* the number removed: ``eta`` is a tolerance on the accuracy the bound protects.

    Examples
    --------
    The reference values of ALGORITHMS.md, for the weights 1, 2, ..., 100:

    >>> import numpy as np
    >>> from sparselimit.metrics import pq_index
    >>> from sparselimit.pruning import sap_prune_count
    >>> w = np.arange(1, 101)
    >>> round(pq_index(w, 0.5, 1.0), 6), sap_prune_count(100, pq_index(w, 0.5, 1.0))
    (0.107203, 10)
    >>> sap_prune_count(100, pq_index(w, 1.0, 2.0), p=1.0, q=2.0)
    24
    >>> sap_prune_count(100, pq_index(w), eta=0.1)
    26
    """
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 0:
        raise ValueError(f"`d` must be a non-negative int (the number of kept weights); got {d!r}.")
    p, q = _check_pq(p, q)
    pq = _check_real(pq, "pq", 0.0, 1.0, True, True)
    eta = _check_real(eta, "eta", 0.0, None, True, False)
    gamma = _check_real(gamma, "gamma", 0.0, None, False, False)
    beta = _check_real(beta, "beta", 0.0, 1.0, False, True)
    d = int(d)
    if d == 0:
        return 0
    m = _ceil(_sap_bound(d, pq, p, q, eta))
    c = _floor(min(gamma * (d - m), beta * d))
    return min(max(c, 0), d)


class IterativePruner(PrunedNetMixin, MetaEstimatorMixin, BaseEstimator):
    """Iterative magnitude pruning with rewinding: SAP and the lottery-ticket baseline (IMP).

    ``fit(X, y)`` fits a clone of ``estimator`` (a skorch net) and then, for up to ``n_rounds``
    rounds: measures the PQ index ``I`` of the kept prunable weights, removes the ``c_t``
    smallest-magnitude kept weights (masks only shrink), rewinds the survivors to the weights
    the net had right after initialization (``rewind="init"``), and retrains with the masks
    enforced (:class:`~sparselimit.training.MaskEnforcer`).

    - ``schedule="sap"`` (Sparsity-informed Adaptive Pruning, Diao et al., ICLR 2023): over the
      ``d_t`` kept weights of the scope, ``r_t = d_t (1+eta)^(-q/(q-p)) (1-I)^(qp/(q-p))`` and
      ``c_t = floor(min(gamma (d_t - ceil(r_t)), beta d_t))`` (:func:`sap_prune_count`).
    - ``schedule="fixed"`` (iterative magnitude pruning of the lottery-ticket hypothesis,
      Frankle & Carbin, 2019): ``c_t = floor(fraction * d_t)``, 20% of the remaining weights.

    Parameters
    ----------
    estimator : skorch.NeuralNet
        The unfitted net (e.g. :class:`~sparselimit.L1RegularizedClassifier` or a plain
        ``NeuralNetClassifier``). It is cloned; round 0 trains it densely for its own
        ``max_epochs``, every later round retrains it for ``retrain_epochs`` (default: the
        same ``max_epochs``), each with a fresh optimizer and history.
    schedule : {"sap", "fixed"}, default="sap"
        How many weights a round removes (see above).
    n_rounds : int, default=30
        Maximum number of pruning rounds T (>= 1). The paper uses 30 (15 for ResNets). SAP stops
        earlier when a round would remove nothing (``c_t = 0``: a fixed point).
    p, q : float, default=0.5, 1.0
        PQ-index exponents, ``0 < p < q``. Used by SAP; both schedules record the PQ index.
    eta : float, default=0.0
        SAP slack >= 0 (larger removes more).
    gamma : float, default=1.0
        SAP step size > 0.
    beta : float, default=0.9
        SAP cap in (0, 1] on the fraction of the kept weights removed in one round.
    fraction : float, default=0.2
        Fraction of the remaining weights removed per round with ``schedule="fixed"``, in (0, 1).
    rewind : {"init", "none"}, default="init"
        ``"init"``: before retraining, reset every parameter and buffer to its value right after
        ``net.initialize()`` (before any training), so the survivors are ``w_init * mask``.
        ``"none"``: retrain (fine-tune) from the trained, pruned weights.
    scope : {"global", "layer"}, default="global"
        ``"global"``: one count and one magnitude ranking over all prunable weights pooled;
        ``"layer"``: each prunable tensor gets its own PQ index, count and ranking.
    importance : {"magnitude", "undecayed"} or callable, default="magnitude"
        How the weights removed each round are ranked: by ``|w|``, by the Undecayed Pruning
        score (recomputed every round from the retrained weights; see
        :class:`~sparselimit.GlobalOneShotPruner`), or a callable ``(name, param) -> score``.
        The PQ index that sets SAP's count always uses the weights themselves.
    include, exclude : str or list of str, default=None
        Which parameters are prunable, see :func:`sparselimit.utils.select_prunable`. When both
        are None, the net's own ``prunable_include`` / ``prunable_exclude`` (L1 nets) are used,
        else the default: the weights of Linear and Conv layers.
    retrain_epochs : int or None, default=None
        Epochs of each retraining round (rounds 1, 2, ...); None uses the net's
        ``max_epochs``. The dense training of round 0 always runs ``max_epochs``.
    verbose : int, default=1
        Show a progress bar over the rounds (tqdm, on stderr); 0 silences it. The net's own
        ``verbose`` controls its per-epoch output.
    random_state : int, RandomState instance or None, default=None
        Seeds the whole fit -- the net's initialization, the batch shuffling of every round's
        training and the gradient pass of ``importance="undecayed"``: they run with torch's
        global RNG seeded from it inside ``torch.random.fork_rng``, so the global RNG is
        restored afterwards. ``None`` trains with the global RNG as it is.

    Attributes
    ----------
    estimator_ : skorch.NeuralNet
        The pruned net, trained in the last round with the final masks; its ``callbacks`` end
        with the :class:`~sparselimit.training.MaskEnforcer` that kept them.
    masks_ : dict of str to bool tensor
        Final masks (CPU, True = kept), keyed by parameter name.
    history_ : list of dict
        One entry per trained network: entry 0 is the dense training, entry ``t`` the network of
        round ``t``. Keys: ``"round"``; ``"c"`` (weights removed at the start of the round, 0 for
        round 0); ``"r"`` (SAP bound ``r_t`` behind ``c``, summed over layers for
        ``scope="layer"``; NaN for round 0 and for ``schedule="fixed"``); ``"n_kept"`` and
        ``"remaining"`` (count and fraction of prunable weights kept while training);
        ``"pq_index"`` (PQ index of the kept weights after training, pooled over all prunable
        weights -- what the next round's ``c`` is computed from with ``scope="global"``);
        ``"layer_pq_index"`` and ``"layer_remaining"`` (dicts per tensor); ``"score"`` (the
        net's ``score`` after training -- accuracy for classifiers, R^2 for regressors -- on
        ``eval_set`` when given, else on the training data; NaN if the net has no ``score``
        or there are no targets, as with a ``Dataset`` X and ``y=None``).
    n_rounds_ : int
        Pruning rounds performed (``<= n_rounds``).
    sparsity_ : float
        Final fraction of the prunable weights removed.
    layer_sparsity_ : dict of str to float
        Final fraction removed per prunable tensor.
    initial_weights_ : dict of str to tensor
        The prunable weights right after initialization (CPU), what ``rewind="init"`` restores:
        with ``rewind="init"`` each round starts from ``initial_weights_ * mask``.
    n_features_in_ : int
        Number of features of ``X`` (only when ``X`` is two-dimensional).

    See Also
    --------
    sap_prune_count : The SAP count of one round.
    sparselimit.metrics.pq_index : The PQ index.
    sparselimit.training.DynamicNetworkSurgery : Pruning while training, with splicing.

    References
    ----------
    Diao, Wang, Zhang, Yang, Ding, Tarokh. "Pruning Deep Neural Networks from a Sparsity
    Perspective", ICLR 2023. Frankle, Carbin. "The Lottery Ticket Hypothesis", ICLR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from skorch import NeuralNetClassifier
    >>> from sparselimit.pruning import IterativePruner
    >>> X = np.random.RandomState(0).randn(128, 8).astype(np.float32)
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    >>> net = NeuralNetClassifier(
    ...     nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
    ...     criterion=nn.CrossEntropyLoss, max_epochs=3, lr=0.1, train_split=None, verbose=0)
    >>> imp = IterativePruner(net, schedule="fixed", n_rounds=2, random_state=0).fit(X, y)
    >>> [h["n_kept"] for h in imp.history_]
    [160, 128, 103]
    >>> imp.sparsity_
    0.35625
    >>> sap = IterativePruner(net, schedule="sap", n_rounds=2).fit(X, y)
    >>> [h["c"] > 0 for h in sap.history_]
    [False, True, True]
    >>> sap.predict(X).shape
    (128,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "initialize", "partial_fit"]), None],
        "schedule": [StrOptions({"sap", "fixed"})],
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "p": [Interval(Real, 0, None, closed="neither")],
        "q": [Interval(Real, 0, None, closed="neither")],
        "eta": [Interval(Real, 0, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="neither")],
        "beta": [Interval(Real, 0, 1, closed="right")],
        "fraction": [Interval(Real, 0, 1, closed="neither")],
        "rewind": [StrOptions({"init", "none"})],
        "scope": [StrOptions({"global", "layer"})],
        "importance": [str, callable],
        "include": [str, list, tuple, None],
        "exclude": [str, list, tuple, None],
        "retrain_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        schedule="sap",
        n_rounds=30,
        p=0.5,
        q=1.0,
        eta=0.0,
        gamma=1.0,
        beta=0.9,
        fraction=0.2,
        rewind="init",
        scope="global",
        importance="magnitude",
        include=None,
        exclude=None,
        retrain_epochs=None,
        verbose=1,
        random_state=None,
    ):
        self.estimator = estimator
        self.schedule = schedule
        self.n_rounds = n_rounds
        self.p = p
        self.q = q
        self.eta = eta
        self.gamma = gamma
        self.beta = beta
        self.fraction = fraction
        self.rewind = rewind
        self.scope = scope
        self.importance = importance
        self.include = include
        self.exclude = exclude
        self.retrain_epochs = retrain_epochs
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers
    def _check_params(self):
        check_skorch_estimator(self.estimator, type(self).__name__)
        _refuse_frozen(self.estimator, type(self).__name__)
        self._validate_params()
        _check_importance(self.importance)
        if self.estimator is None:
            raise ValueError(
                "IterativePruner needs an `estimator`: an unfitted skorch net such as "
                "L1RegularizedClassifier(MLP, ...) or NeuralNetClassifier(module, ...)."
            )
        if self.p >= self.q:
            raise ValueError(
                f"The PQ index needs p < q; got p={self.p!r} and q={self.q!r}. Swap them or "
                "pick a smaller p, e.g. p=0.5 with q=1.0 (the default) or p=1.0 with q=2.0."
            )
        callbacks = getattr(self.estimator, "callbacks", None)
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            raise ValueError(
                "The estimator's `callbacks` must be None or a list for IterativePruner to add "
                f"its MaskEnforcer; got {callbacks!r}."
            )

    def _selection(self, est):
        return net_selection(est, self.include, self.exclude)

    def _groups(self, names):
        return [list(names)] if self.scope == "global" else [[n] for n in names]

    @staticmethod
    def _kept_pq(params, masks, names, p, q):
        """PQ index over the kept entries of the tensors ``names``; 0.0 if all of them are 0."""
        w = torch.cat([params[n].detach().reshape(-1) for n in names])
        m = torch.cat([masks[n].reshape(-1) for n in names])
        try:
            return pq_index(w, p, q, mask=m)
        except ValueError:
            if bool((w[m] == 0).all()):  # every kept weight is zero: all equally unimportant
                return 0.0
            raise

    def _retrain(self, net, X, y, base_callbacks, masks, fit_params, epochs=None):
        callbacks = list(base_callbacks)
        if masks is not None:
            callbacks.append((ENFORCER_NAME, MaskEnforcer(masks)))
        net.callbacks = callbacks
        net.initialize_callbacks()
        net.initialize_optimizer()  # fresh optimizer state (momentum, Adam moments) every round
        net.initialize_history()
        net.partial_fit(X, y, epochs=epochs, **fit_params)
        check_weights_finite(dict(net.module_.named_parameters()), "the retrained network")

    def _record(self, net, params, masks, round_, c, r, eval_set, X, y):
        names = list(params)
        kept = {n: int(masks[n].count_nonzero()) for n in names}
        sizes = {n: masks[n].numel() for n in names}
        n_kept = sum(kept.values())
        Xs, ys = eval_set if eval_set is not None else (X, y)
        if hasattr(net, "score") and ys is not None:
            score = float(net.score(Xs, ys))
        else:  # no score, or no targets to score against (a Dataset X carrying its own)
            score = float("nan")
        return {
            "round": round_,
            "c": int(c),
            "r": float(r),
            "n_kept": n_kept,
            "remaining": n_kept / sum(sizes.values()),
            "pq_index": self._kept_pq(params, masks, names, self.p, self.q),
            "layer_pq_index": {n: self._kept_pq(params, masks, [n], self.p, self.q) for n in names},
            # an empty tensor (a Linear(0, k)) has nothing removed, as in layer_sparsity_
            "layer_remaining": {n: kept[n] / sizes[n] if sizes[n] else 1.0 for n in names},
            "score": score,
        }

    def _round_counts(self, params, masks):
        """Per group: (c, r); r is NaN for the fixed schedule. Never removes a group's last
        kept weight."""
        out = {}
        for group in self._groups(params):
            d = sum(int(masks[n].count_nonzero()) for n in group)
            if self.schedule == "sap":
                pq = self._kept_pq(params, masks, group, self.p, self.q)
                r = _sap_bound(d, pq, self.p, self.q, self.eta)
                c = sap_prune_count(d, pq, self.p, self.q, self.eta, self.gamma, self.beta)
            else:
                r = float("nan")
                c = _floor(self.fraction * d)
            out[group[0]] = (min(c, max(d - 1, 0)), r)
        return out

    # ------------------------------------------------------------------ fit
    def _prune_rounds(self, X, y, eval_set, fit_params):
        """Train a clone of the net, then prune and retrain it round by round; returns the net,
        the final masks, the history and the number of rounds done."""
        from tqdm.auto import tqdm

        net = clone(self.estimator)
        base_callbacks = list(net.callbacks or [])
        net.initialize()
        module = net.module_
        params = select_prunable(module, *self._selection(net))
        init_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        self.initial_weights_ = {n: p.detach().cpu().clone() for n, p in params.items()}
        masks = {
            n: torch.ones(p.shape, dtype=torch.bool, device=p.device) for n, p in params.items()
        }

        history = []
        self._retrain(net, X, y, base_callbacks, None, fit_params)  # dense: max_epochs
        history.append(self._record(net, params, masks, 0, 0, float("nan"), eval_set, X, y))
        n_done = 0
        bar = tqdm(
            range(1, self.n_rounds + 1),
            desc=f"{self.schedule} rounds",
            disable=not self.verbose,
            leave=False,
        )
        for t in bar:
            counts = self._round_counts(params, masks)
            total_c = sum(c for c, _ in counts.values())
            if total_c == 0:
                break
            if self.importance == "magnitude":
                scores = {n: p.detach().abs() for n, p in params.items()}
            else:  # rebuilt every round: a data-dependent score changes with the weights
                score_fn = _resolve_importance(self.importance, net, X, y, list(params))
                scores = {n: score_fn(n, p.detach()).detach() for n, p in params.items()}
            if self.scope == "global":
                n_remove = total_c
            else:
                n_remove = {n: c for n, (c, _) in counts.items()}
            masks, _ = compute_masks(scores, n_remove=n_remove, scope=self.scope, masks=masks)
            del scores
            if self.rewind == "init":
                module.load_state_dict(init_state)
            with torch.no_grad():
                apply_masks(module, masks)
            self._retrain(net, X, y, base_callbacks, masks, fit_params, self.retrain_epochs)
            r = sum(r for _, r in counts.values())
            history.append(self._record(net, params, masks, t, total_c, r, eval_set, X, y))
            n_done = t
            bar.set_postfix(
                remaining=f"{history[-1]['remaining']:.3f}",
                score=f"{history[-1]['score']:.3f}",
                refresh=False,
            )
        bar.close()
        return net, masks, history, n_done

    def fit(self, X, y=None, *, eval_set=None, **fit_params):
        """Train, then prune and retrain for up to ``n_rounds`` rounds.

        Parameters
        ----------
        X, y : array-like
            Training data, passed to the net's ``partial_fit`` in every round.
        eval_set : tuple (X_val, y_val), default=None
            Data the per-round ``score`` in ``history_`` is measured on; default: ``(X, y)``.
        **fit_params : dict
            Passed to the net's ``partial_fit`` (and from there to the module's forward).

        Returns
        -------
        self : IterativePruner
        """
        self._check_params()
        check_X_y(X, y)
        _require_y_to_train(self.estimator, X, y, type(self).__name__)
        if isinstance(self.importance, str) and self.importance in DATA_IMPORTANCES:
            why = f"importance={self.importance!r} takes the data loss gradient on (X, y)"
            _require_y(X, y, type(self).__name__, why)
        check_class_codes(self.estimator, y)
        if eval_set is not None:
            if not isinstance(eval_set, (tuple, list)) or len(eval_set) != 2:
                raise ValueError(
                    f"`eval_set` must be a pair (X_val, y_val); got {type(eval_set).__name__}."
                )
            check_X_y(*eval_set)

        seed = (
            None if self.random_state is None else make_generator(self.random_state).initial_seed()
        )
        # initialization, shuffling and the undecayed gradient pass all draw from torch's
        # global RNG; seed it for the whole fit and restore it afterwards
        with _torch_seeded(seed):
            net, masks, history, n_done = self._prune_rounds(X, y, eval_set, fit_params)

        self.estimator_ = net
        self.masks_ = {n: m.detach().cpu().clone() for n, m in masks.items()}
        self.history_ = history
        self.n_rounds_ = n_done
        self.sparsity_, self.layer_sparsity_ = _mask_sparsity(self.masks_)
        _record_n_features(self, X)
        self._record_n_outputs(X)
        return self
