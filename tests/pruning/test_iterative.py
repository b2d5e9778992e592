"""IterativePruner (SAP and lottery-ticket IMP) and the SAP count of ALGORITHMS.md section 3."""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback
from torch import nn

from sparselimit import L1RegularizedClassifier
from sparselimit.metrics import pq_index
from sparselimit.pruning._iterative import IterativePruner, _sap_bound, sap_prune_count
from sparselimit.training import MaskEnforcer

# ---------------------------------------------------------------------------- the SAP count

W100 = np.arange(1, 101, dtype=np.float64)


def test_sap_reference_table():
    i_half = pq_index(W100, 0.5, 1.0)
    i_one_two = pq_index(W100, 1.0, 2.0)
    assert round(i_half, 6) == 0.107203
    assert round(i_one_two, 6) == 0.131823
    assert sap_prune_count(100, i_half, 0.5, 1.0) == 10
    assert sap_prune_count(100, i_one_two, 1.0, 2.0) == 24
    assert sap_prune_count(100, i_half, 0.5, 1.0, eta=0.1) == 26


def test_sap_bound_formula():
    i = pq_index(W100, 1.0, 2.0)
    # r = d (1+eta)^(-q/(q-p)) (1-I)^(qp/(q-p)) with p=1, q=2: exponents -2 and 2
    assert _sap_bound(100, i, 1.0, 2.0, 0.1) == pytest.approx(100 * 1.1**-2 * (1 - i) ** 2)
    # (0.5, 1), eta=0, gamma=1 removes a fraction I (rounded down to whole weights)
    for d, pq in [(1000, 0.25), (37, 0.1), (5000, 0.6)]:
        assert sap_prune_count(d, pq, beta=1.0) == d - math.ceil(d * (1 - pq) - 1e-9)


def test_sap_gamma_and_beta_caps():
    i = pq_index(W100)
    assert sap_prune_count(100, i, gamma=0.5) == 5  # floor(0.5 * (100 - 90))
    assert sap_prune_count(100, 0.95, beta=0.9) == 90  # the beta cap binds
    assert sap_prune_count(100, 0.95, beta=1.0) == 95
    assert sap_prune_count(0, 0.5) == 0
    assert sap_prune_count(1, 0.0) == 0


def test_sap_count_is_integer_safe():
    # beta * d = 0.29 * 100 = 28.999999999999996 in floating point: still 29 weights
    assert sap_prune_count(100, 0.9, beta=0.29) == 29
    # r = 100 * (1 - 0.7) = 30.000000000000004: m = 30, not 31
    assert 100 * (1 - 0.7) != 30.0
    assert sap_prune_count(100, 0.7, beta=1.0) == 70
    # the count never exceeds d, never negative
    for d in (1, 2, 3, 10, 101):
        for pq in (0.0, 0.3, 0.99, 1.0):
            c = sap_prune_count(d, pq, gamma=5.0, beta=1.0)
            assert 0 <= c <= d


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"p": 1.0, "q": 1.0}, "p < q"),
        ({"p": 2.0, "q": 1.0}, "p < q"),
        ({"eta": -0.1}, "eta"),
        ({"beta": 0.0}, "beta"),
        ({"beta": 1.5}, "beta"),
        ({"gamma": 0.0}, "gamma"),
        ({"pq": 1.5}, "pq"),
        ({"d": -1}, "d"),
    ],
)
def test_sap_count_bad_input(kwargs, match):
    args = {"d": 100, "pq": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        sap_prune_count(**args)


def test_sap_count_rejects_non_numbers():
    with pytest.raises(TypeError, match="pq"):
        sap_prune_count(100, float("nan"))
    with pytest.raises(ValueError, match="`d`"):
        sap_prune_count(10.5, 0.1)


# ---------------------------------------------------------------------------- the pruner

_FIRST_BATCH_WEIGHTS: list = []


class RecordFirstBatch(Callback):
    """Record the prunable weights at the first training batch of every training run."""

    def on_train_begin(self, net, **kwargs):
        self.seen_ = False

    def on_batch_begin(self, net, training=None, **kwargs):
        if training and not self.seen_:
            self.seen_ = True
            _FIRST_BATCH_WEIGHTS.append(
                {n: p.detach().clone() for n, p in net.module_.named_parameters()}
            )


def _data(n=96, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 8).astype(np.float32)
    y = (X[:, 0] + X[:, 1] - X[:, 2] > 0).astype(np.int64)
    return X, y


def _net(**kwargs):
    params = dict(
        module=nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=2,
        lr=0.1,
        batch_size=32,
        train_split=None,
        verbose=0,
    )
    params.update(kwargs)
    return NeuralNetClassifier(**params)


D = 8 * 16 + 16 * 2  # prunable weights of _net()


def test_imp_removes_twenty_percent_of_the_remaining_per_round():
    X, y = _data()
    pruner = IterativePruner(_net(), schedule="fixed", n_rounds=4).fit(X, y)
    expected = [D]
    for _ in range(4):
        expected.append(expected[-1] - math.floor(0.2 * expected[-1]))
    assert [h["n_kept"] for h in pruner.history_] == expected
    removed = [a - b for a, b in zip(expected, expected[1:])]
    assert [h["c"] for h in pruner.history_] == [0] + removed
    assert all(math.isnan(h["r"]) for h in pruner.history_)
    assert pruner.n_rounds_ == 4
    assert pruner.sparsity_ == pytest.approx(1 - expected[-1] / D)
    assert sum(int(m.sum()) for m in pruner.masks_.values()) == expected[-1]


def test_sap_counts_follow_the_pq_index_of_the_previous_round():
    X, y = _data()
    pruner = IterativePruner(_net(), schedule="sap", n_rounds=3, beta=0.5).fit(X, y)
    hist = pruner.history_
    assert len(hist) == pruner.n_rounds_ + 1 >= 2
    for prev, cur in zip(hist, hist[1:]):
        c = sap_prune_count(prev["n_kept"], prev["pq_index"], 0.5, 1.0, 0.0, 1.0, 0.5)
        assert cur["c"] == c > 0
        assert cur["n_kept"] == prev["n_kept"] - c
        assert cur["r"] == pytest.approx(_sap_bound(prev["n_kept"], prev["pq_index"], 0.5, 1, 0))
        assert cur["remaining"] == pytest.approx(cur["n_kept"] / D)
    # the recorded PQ index is the one of the kept weights of the final net
    module = pruner.estimator_.module_
    w = torch.cat([module[0].weight.detach().flatten(), module[2].weight.detach().flatten()])
    m = torch.cat([pruner.masks_["0.weight"].flatten(), pruner.masks_["2.weight"].flatten()])
    assert hist[-1]["pq_index"] == pytest.approx(pq_index(w, mask=m))
    assert hist[0]["round"] == 0 and hist[0]["c"] == 0 and hist[0]["remaining"] == 1.0


@pytest.mark.parametrize("schedule", ["sap", "fixed"])
def test_masks_only_shrink_and_survivors_are_rewound_to_init(schedule):
    X, y = _data()
    _FIRST_BATCH_WEIGHTS.clear()
    net = _net(callbacks=[("rec", RecordFirstBatch())], optimizer__momentum=0.9)
    pruner = IterativePruner(net, schedule=schedule, n_rounds=3).fit(X, y)
    init = pruner.initial_weights_
    rounds = _FIRST_BATCH_WEIGHTS
    assert len(rounds) == pruner.n_rounds_ + 1
    # round 0 starts from the initial weights
    for name in init:
        assert torch.equal(rounds[0][name], init[name])
    previous = {n: torch.ones_like(w, dtype=torch.bool) for n, w in init.items()}
    for weights in rounds[1:]:
        for name, w0 in init.items():
            kept = weights[name] != 0
            # w = w_init * m exactly
            assert torch.equal(weights[name], w0 * kept)
            # masks only shrink
            assert not bool((kept & ~previous[name]).any())
            previous[name] = kept
    for name in init:
        assert torch.equal(previous[name], pruner.masks_[name])
    # training moved the weights, so the rewind is not a no-op
    trained = dict(pruner.estimator_.module_.named_parameters())
    rewound = init["0.weight"] * pruner.masks_["0.weight"]
    assert not torch.equal(trained["0.weight"].detach(), rewound)
    # the final net holds exact zeros where pruned, and keeps a MaskEnforcer
    for name, mask in pruner.masks_.items():
        assert bool((trained[name].detach()[~mask] == 0).all())
    assert isinstance(dict(pruner.estimator_.callbacks_)["pruning_mask_enforcer"], MaskEnforcer)
    remaining = [h["remaining"] for h in pruner.history_]
    assert remaining == sorted(remaining, reverse=True)


def test_rewind_none_fine_tunes_from_the_trained_weights():
    X, y = _data()
    _FIRST_BATCH_WEIGHTS.clear()
    net = _net(callbacks=[("rec", RecordFirstBatch())])
    pruner = IterativePruner(net, schedule="fixed", n_rounds=1, rewind="none").fit(X, y)
    init = pruner.initial_weights_["0.weight"]
    start = _FIRST_BATCH_WEIGHTS[1]["0.weight"]
    kept = pruner.masks_["0.weight"]
    assert bool((start[~kept] == 0).all())
    assert not torch.equal(start, init * kept)


def test_layer_scope_prunes_each_tensor_by_its_own_count():
    X, y = _data()
    pruner = IterativePruner(_net(), schedule="fixed", n_rounds=2, scope="layer").fit(X, y)
    sizes = {"0.weight": 128, "2.weight": 32}
    for name, size in sizes.items():
        kept = size
        for _ in range(2):
            kept -= math.floor(0.2 * kept)
        assert int(pruner.masks_[name].sum()) == kept
        assert pruner.history_[-1]["layer_remaining"][name] == kept / size

    sap = IterativePruner(_net(), schedule="sap", n_rounds=1, scope="layer").fit(X, y)
    h0, h1 = sap.history_
    for name, size in sizes.items():
        c = sap_prune_count(size, h0["layer_pq_index"][name])
        assert int(sap.masks_[name].sum()) == size - c
    assert h1["c"] == D - h1["n_kept"]


def test_sap_stops_at_a_fixed_point():
    X, y = _data()
    pruner = IterativePruner(_net(), schedule="sap", n_rounds=5, gamma=1e-6).fit(X, y)
    assert pruner.n_rounds_ == 0
    assert len(pruner.history_) == 1
    assert pruner.sparsity_ == 0.0
    assert all(bool(m.all()) for m in pruner.masks_.values())


def test_eval_set_scores_and_delegation():
    X, y = _data()
    X_val, y_val = _data(64, seed=1)
    pruner = IterativePruner(_net(), schedule="fixed", n_rounds=1)
    pruner.fit(X, y, eval_set=(X_val, y_val))
    assert pruner.history_[-1]["score"] == pytest.approx(pruner.score(X_val, y_val))
    assert pruner.predict(X).shape == (96,)
    assert pruner.predict_proba(X).shape == (96, 2)
    assert list(pruner.classes_) == [0, 1]
    assert pruner.n_features_in_ == 8
    with pytest.raises(ValueError, match="eval_set"):
        pruner.fit(X, y, eval_set=(X_val,))


def test_retrain_epochs_and_l1_net_selection():
    X, y = _data()
    net = L1RegularizedClassifier(
        nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
        criterion=nn.CrossEntropyLoss,
        l1_alpha=1e-3,
        max_epochs=2,
        lr=0.1,
        train_split=None,
        verbose=0,
        prunable_exclude=r"^2\.",
    )
    net.set_params(callbacks=[("count", _EpochsPerRun())])
    pruner = IterativePruner(net, schedule="fixed", n_rounds=2, retrain_epochs=3).fit(X, y)
    assert list(pruner.masks_) == ["0.weight"]  # the net's own prunable selection
    assert len(pruner.estimator_.history) == 3
    # the dense round 0 trains for the net's max_epochs, the retraining rounds for 3
    (counter,) = [cb for name, cb in pruner.estimator_.callbacks if name == "count"]
    assert counter.runs == [2, 3, 3]


class _EpochsPerRun(Callback):
    """Epochs trained per call of fit / partial_fit (one per IterativePruner round)."""

    def initialize(self):
        self.runs = getattr(self, "runs", [])
        return self

    def on_train_begin(self, net, **kwargs):
        self.runs.append(0)

    def on_epoch_end(self, net, **kwargs):
        self.runs[-1] += 1


def test_regressor_and_tags():
    rng = np.random.RandomState(0)
    X = rng.randn(64, 4).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.0, 0.5], dtype=np.float32))[:, None]
    reg = NeuralNetRegressor(
        nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)),
        max_epochs=2,
        lr=0.05,
        train_split=None,
        verbose=0,
    )
    pruner = IterativePruner(reg, schedule="fixed", n_rounds=1)
    assert is_regressor(pruner) and not is_classifier(pruner)
    pruner.fit(X, y)
    assert np.isfinite(pruner.history_[-1]["score"])
    assert is_classifier(IterativePruner(_net()))


def test_pickle_and_clone_before_and_after_fit():
    X, y = _data()
    pruner = IterativePruner(_net(), schedule="sap", n_rounds=2, p=1.0, q=2.0)
    unfitted = clone(pruner)
    assert unfitted.get_params()["p"] == 1.0
    pruner.fit(X, y)
    restored = pickle.loads(pickle.dumps(pruner))
    assert repr(restored.history_) == repr(pruner.history_)  # NaN != NaN, so by repr
    for name, mask in pruner.masks_.items():
        assert torch.equal(restored.masks_[name], mask)
    np.testing.assert_array_equal(restored.predict(X), pruner.predict(X))
    fresh = clone(pruner)
    assert not hasattr(fresh, "history_")
    assert fresh.get_params(deep=False)["n_rounds"] == 2
    with pytest.raises(NotFittedError):
        fresh.predict(X)


def test_user_estimator_is_not_modified():
    X, y = _data()
    net = _net()
    IterativePruner(net, schedule="fixed", n_rounds=1).fit(X, y)
    assert not getattr(net, "initialized_", False)
    assert net.callbacks is None


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_rounds": 0}, "n_rounds"),
        ({"schedule": "cubic"}, "schedule"),
        ({"scope": "neuron"}, "scope"),
        ({"p": 1.0, "q": 0.5}, "p < q"),
        ({"p": 1.0, "q": 1.0}, "p < q"),
        ({"eta": -1.0}, "eta"),
        ({"beta": 0.0}, "beta"),
        ({"beta": 1.1}, "beta"),
        ({"gamma": 0.0}, "gamma"),
        ({"fraction": 1.0}, "fraction"),
        ({"rewind": "late"}, "rewind"),
        ({"retrain_epochs": 0}, "retrain_epochs"),
    ],
)
def test_bad_parameters_raise_clear_errors(params, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        IterativePruner(_net(), **params).fit(X, y)


def test_missing_estimator_and_bad_data():
    X, y = _data()
    with pytest.raises(ValueError, match="estimator"):
        IterativePruner().fit(X, y)
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        IterativePruner(_net()).fit(X_bad, y)


@pytest.mark.slow
def test_sap_and_imp_keep_accuracy_on_digits(digits_small):
    X, y = digits_small
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=15,
        lr=0.05,
        optimizer__momentum=0.9,
        train_split=None,
        verbose=0,
    )
    for schedule in ("sap", "fixed"):
        pruner = IterativePruner(net, schedule=schedule, n_rounds=3).fit(X, y)
        assert pruner.sparsity_ > 0.2
        assert pruner.history_[-1]["score"] > 0.9


class _WithEmptyLayer(nn.Module):
    """A net with a zero-feature branch (a Linear(0, 3): no weights at all)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.empty = nn.Linear(0, 3)
        self.c = nn.Linear(8, 2)

    def forward(self, x):
        return self.c(torch.relu(self.a(x)))


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_empty_weight_tensor_counts_as_unpruned(scope):
    X = np.random.RandomState(0).randn(64, 8).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = NeuralNetClassifier(_WithEmptyLayer, max_epochs=1, lr=0.1, train_split=None, verbose=0)
    imp = IterativePruner(
        net, schedule="fixed", n_rounds=2, scope=scope, verbose=0, random_state=0
    ).fit(X, y)
    # floor(0.2 * kept) per round: 80 -> 64 -> 52 pooled; per tensor 64 -> 52 -> 42, 16 -> 13 -> 11
    assert [h["n_kept"] for h in imp.history_] == (
        [80, 64, 52] if scope == "global" else [80, 65, 53]
    )
    assert all(h["layer_remaining"]["empty.weight"] == 1.0 for h in imp.history_)
    assert imp.layer_sparsity_["empty.weight"] == 0.0
    assert imp.masks_["empty.weight"].shape == (3, 0)
