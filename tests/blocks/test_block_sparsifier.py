import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from torch import nn

from sparselimit.blocks import BlockSparsifier, SequentialAttentionPP, zero_block_mask


def _data(n=256, d=32, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d).astype(np.float32)
    y = (X[:, :4].sum(axis=1) > 0).astype(np.int64)
    return X, y


def _net(**kw):
    torch.manual_seed(0)
    kw.setdefault("callbacks", None)
    return NeuralNetClassifier(
        nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2)),
        criterion=nn.CrossEntropyLoss,
        lr=0.05,
        optimizer__momentum=0.9,
        batch_size=64,
        train_split=None,
        verbose=0,
        **kw,
    )


class _OptimizerIds(Callback):
    def initialize(self):
        self.ids = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.ids.append(id(net.optimizer_))


SCHED = dict(dense_epochs=1, sparsify_epochs=2, sparse_epochs=1, finetune_epochs=1)


def test_callback_phases_exact_k_and_optimizer_reset():
    X, y = _data()
    cb = SequentialAttentionPP(0.75, 4, n_cycles=2, **SCHED)
    ids = _OptimizerIds()
    net = _net(callbacks=[cb, ids], max_epochs=cb._validate().schedule_.total_epochs).fit(X, y)
    phases = net.history[:, "sa_phase"]
    assert phases == ["dense", "sparsify", "sparsify", "sparse"] * 2 + ["finetune"]
    # a new optimizer at every phase change, the same one inside a phase
    changes = [a != b for a, b in zip(phases, phases[1:])]
    assert [a != b for a, b in zip(ids.ids, ids.ids[1:])] == changes
    sp = net.history[:, "block_sparsity"]
    assert sp[0] == 0.0 and 0 < sp[1] < 0.75 and sp[2] == pytest.approx(0.75)
    assert sp[4] == 0.0  # second dense phase: all blocks back
    # 32x64 (128 blocks of 4x4) and 64x64 (256) are sparsified; the 2x64 head is skipped
    assert cb.layers_ == ["0.weight", "2.weight"]
    assert "4.weight" in cb.skipped_layers_
    for name, n_blocks in (("0.weight", 128), ("2.weight", 256)):
        k = n_blocks - int(0.75 * n_blocks)
        assert int(cb.block_masks_[name].sum()) == k
        weight = dict(net.module_.named_parameters())[name]
        nz = zero_block_mask(weight, 4)
        assert bool((nz <= cb.block_masks_[name]).all())  # no weight outside kept blocks
        assert bool((weight[~cb.masks_[name]] == 0).all())
    assert all(type(m) in (nn.Sequential, nn.Linear, nn.ReLU) for m in net.module_.modules())
    assert net.score(X, y) > 0.7


class _KeptBlocks(Callback):
    """Kept blocks of each attention mask after every training batch (runs after SA++)."""

    def __init__(self, sa):
        self.sa = sa

    def initialize(self):
        self.rows = []
        return self

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            kept = {n: int(par.mask.sum()) for n, par in self.sa._attention.items()}
            self.rows.append((self.sa.phase_, kept))


def test_sparsify_ramp_keeps_exactly_the_ramp_count_every_batch_in_every_cycle():
    # the kept counts are tracked in Python (no device sync per batch); they must follow the
    # ramp exactly, also in the second cycle after the dense phase restored every block
    from sparselimit.blocks import sparsity_ramp
    from sparselimit.blocks._grid import n_blocks_to_prune

    X, y = _data()
    sa = SequentialAttentionPP(0.75, 4, n_cycles=2, c=2.0, **SCHED)
    rec = _KeptBlocks(sa)
    _net(callbacks=[sa, rec], max_epochs=sa._validate().schedule_.total_epochs).fit(X, y)
    per_epoch = 4  # 256 samples, batch 64
    total = per_epoch * SCHED["sparsify_epochs"]
    phases = [p for p, _ in rec.rows]
    assert phases == (["dense"] * 4 + ["sparsify"] * 8 + ["sparse"] * 4) * 2 + ["finetune"] * 4
    for cycle in range(2):
        rows = rec.rows[cycle * 16 : (cycle + 1) * 16]
        for i, (phase, kept) in enumerate(rows):
            for name, n in (("0.weight", 128), ("2.weight", 256)):
                if phase == "dense":
                    expected = n
                else:
                    tau = min(i - 3, total) / total  # batch 1..8 of the ramp, then frozen
                    expected = n - n_blocks_to_prune(n, sparsity_ramp(tau, 0.75, 2.0))
                assert kept[name] == expected, (cycle, i, phase, name)


def test_sparsifier_estimator_and_state_dict_roundtrip():
    X, y = _data()
    base = _net()
    sp = BlockSparsifier(base, sparsity=0.5, block_size=4, **SCHED)
    with pytest.raises(NotFittedError):
        sp.predict(X)
    sp.fit(X, y)
    assert not hasattr(base, "module_")  # a clone was fitted, not the estimator passed in
    assert sp.layer_sparsity_ == {"0.weight": 0.5, "2.weight": 0.5}
    assert sp.sparsity_ == pytest.approx(0.5)
    assert sp.estimator_.max_epochs == 5
    assert sp.predict(X).shape == (256,)
    assert sp.predict_proba(X).shape == (256, 2)
    assert sp.transform(X).shape == (256, 2)
    assert 0.5 < sp.score(X, y) <= 1.0
    fresh = nn.Sequential(
        nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2)
    )
    fresh.load_state_dict(sp.estimator_.module_.state_dict())
    out = fresh(torch.as_tensor(X)).argmax(1).numpy()
    np.testing.assert_array_equal(out, sp.predict(X))
    restored = pickle.loads(pickle.dumps(sp))
    np.testing.assert_array_equal(restored.predict(X), sp.predict(X))
    c = clone(sp)
    assert c.get_params()["sparsity"] == 0.5 and not hasattr(c, "estimator_")


def test_sparsifier_checks_the_feature_count_at_predict_time():
    # as GlobalOneShotPruner and IterativePruner do: n_features_in_ is recorded, and data with
    # other columns is a ValueError naming both counts, not torch's matmul shape error
    X, y = _data()
    sp = BlockSparsifier(_net(), sparsity=0.5, block_size=4, **SCHED).fit(X, y)
    assert sp.n_features_in_ == 32
    for method in ("predict", "predict_proba", "transform"):
        with pytest.raises(ValueError, match="16 features, but BlockSparsifier is expecting 32"):
            getattr(sp, method)(X[:, :16])
    with pytest.raises(ValueError, match="expecting 32 features"):
        sp.score(X[:, :16], y)


def test_block_size_not_dividing_is_a_clear_error():
    X, y = _data()
    with pytest.raises(ValueError, match="does not divide"):
        BlockSparsifier(_net(), sparsity=0.5, block_size=3, min_blocks=10, **SCHED).fit(X, y)


@pytest.mark.parametrize("bad", [1.0, -0.2, "0.5"])
def test_bad_sparsity(bad):
    X, y = _data()
    with pytest.raises((ValueError, TypeError), match="sparsity"):
        BlockSparsifier(_net(), sparsity=bad, block_size=4).fit(X, y)


def test_bad_estimator_and_schedule():
    X, y = _data()
    with pytest.raises(TypeError, match="skorch net"):
        BlockSparsifier(nn.Linear(2, 2)).fit(X, y)
    with pytest.raises(ValueError, match="sparsify_epochs"):
        BlockSparsifier(_net(), sparsity=0.5, block_size=4, sparsify_epochs=0).fit(X, y)
    with pytest.raises(ValueError, match="n_cycles"):
        BlockSparsifier(_net(), sparsity=0.5, block_size=4, n_cycles=0).fit(X, y)


def test_early_stop_still_enforces_k_and_warns():
    X, y = _data()
    cb = SequentialAttentionPP(0.5, 4, **SCHED)
    with pytest.warns(UserWarning, match="max_epochs"):
        net = _net(callbacks=[cb], max_epochs=2).fit(X, y)
    assert int(cb.block_masks_["2.weight"].sum()) == 128
    assert bool((net.module_[2].weight[~cb.masks_["2.weight"]] == 0).all())


def test_conv_layers_are_block_sparsified_through_the_matrix_view():
    rng = np.random.RandomState(0)
    X = rng.randn(64, 2, 8, 8).astype(np.float32)
    y = (X[:, 0].mean(axis=(1, 2)) > 0).astype(np.int64)
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Conv2d(2, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 2),
    )
    net = NeuralNetClassifier(
        module, criterion=nn.CrossEntropyLoss, lr=0.05, batch_size=32, train_split=None, verbose=0
    )
    sp = BlockSparsifier(net, sparsity=0.5, block_size=(4, 8), min_blocks=20, **SCHED).fit(X, y)
    # 16 x (16*3*3) = 16 x 144 -> 4 x 18 = 72 blocks; the first conv (16 x 18) has too few
    assert list(sp.block_masks_) == ["2.weight"]
    assert int(sp.block_masks_["2.weight"].sum()) == 36
    w = sp.estimator_.module_[2].weight.detach().reshape(16, 144)
    kept = sp.block_masks_["2.weight"].repeat_interleave(4, 0).repeat_interleave(8, 1)
    assert bool((w[~kept] == 0).all())
    assert type(sp.estimator_.module_[2]) is nn.Conv2d


def test_sparsified_net_keeps_the_parameter_and_state_dict_order():
    X, y = _data(n=64)
    sp = BlockSparsifier(_net(), sparsity=0.5, block_size=4, **SCHED).fit(X, y)
    module = sp.estimator_.module_
    fresh = _net().initialize().module_
    assert list(sp.block_masks_) == ["0.weight", "2.weight"]  # two layers were wrapped
    assert [n for n, _ in module.named_parameters()] == [n for n, _ in fresh.named_parameters()]
    assert list(module.state_dict()) == list(fresh.state_dict())


def test_history_callbacks_measure_the_block_sparsified_weights():
    # while SequentialAttention++ trains, its layers' weights are computed (W * A * mask);
    # the library's own history callbacks must count them, not skip them as unprunable
    from sparselimit.training import PQIndexScoring, SparsityScoring

    X, y = _data()
    est = BlockSparsifier(
        _net(callbacks=[("pqi", PQIndexScoring()), ("zeros", SparsityScoring())]),
        sparsity=0.5,
        block_size=4,
        random_state=0,
        **SCHED,
    ).fit(X, y)
    h = est.history_
    assert h[0, "sparsity"] == 0.0  # dense phase: nothing masked yet
    # the finetune epoch's weights are the exported ones: count their zeros by hand
    weights = [m.weight.detach() for m in est.estimator_.module_ if isinstance(m, nn.Linear)]
    n_zero = sum(int((w == 0).sum()) for w in weights)
    assert n_zero > 0
    assert h[-1, "sparsity"] == pytest.approx(n_zero / sum(w.numel() for w in weights))
    flat = torch.cat([w.reshape(-1) for w in weights]).double().abs()
    d = flat.numel()
    pqi = 1 - d ** (1 / 1.0 - 1 / 0.5) * flat.sqrt().sum() ** 2 / flat.sum()
    assert h[-1, "pq_index"] == pytest.approx(float(pqi), rel=1e-5)


class _BatchMasks(Callback):
    """Placed after SequentialAttentionPP: the mask and attention each training batch sees."""

    def initialize(self):
        self.log = []
        return self

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        if training:
            cb = dict(net.callbacks_)["sa"]
            par = cb._attention["0.weight"]
            self.log.append((cb.phase_, par.mask.clone(), par.attention().detach().clone()))


def test_sparsify_phase_follows_the_ramp_batch_by_batch():
    # Linear(20, 20) in (2, 2) blocks: 100 blocks; 64 samples in batches of 16: 4 batches per
    # epoch, 8 over the two sparsify epochs. Before sparsify batch i the layer keeps
    # k_i = 100 - floor(100 * s(i / 8)) blocks, s(tau) = s (1 - e^{-4 tau}) / (1 - e^{-4}),
    # and the blocks removed are the lowest-attention ones among those kept before
    rng = np.random.RandomState(0)
    X = rng.randn(64, 20).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    s = 0.83
    sa = SequentialAttentionPP(
        s, 2, dense_epochs=1, sparsify_epochs=2, sparse_epochs=1, finetune_epochs=1
    )
    spy = _BatchMasks()
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 2)),
        criterion=nn.CrossEntropyLoss,
        lr=0.5,
        batch_size=16,
        max_epochs=5,
        train_split=None,
        verbose=0,
        callbacks=[("sa", sa), ("spy", spy)],
    ).fit(X, y)
    phases = [phase for phase, _, _ in spy.log]
    assert phases == ["dense"] * 4 + ["sparsify"] * 8 + ["sparse"] * 4 + ["finetune"] * 4
    prev = None
    for i, (phase, mask, attention) in enumerate(spy.log):
        if phase == "dense":
            assert bool(mask.all())
        elif phase == "sparsify":
            tau = (i - 3) / 8
            ramp = s * (1 - np.exp(-4 * tau)) / (1 - np.exp(-4))
            assert int(mask.sum()) == 100 - int(np.floor(100 * ramp + 1e-9))
            removed = prev & ~mask
            assert bool(removed.any()) and not bool((mask & ~prev).any())
            assert float(attention[removed].max()) <= float(attention[mask].min())
        else:
            assert int(mask.sum()) == 17
        prev = mask
    assert int(sa.block_masks_["0.weight"].sum()) == 17
    assert type(net.module_[0]) is nn.Linear


def test_layer_sparsity_is_the_exact_fraction_of_blocks_removed():
    rng = np.random.RandomState(0)
    X = rng.randn(32, 20).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 2)),
        criterion=nn.CrossEntropyLoss,
        batch_size=16,
        train_split=None,
        verbose=0,
    )
    sched = dict(dense_epochs=1, sparsify_epochs=1, sparse_epochs=0, finetune_epochs=0)
    sp = BlockSparsifier(net, sparsity=0.83, block_size=2, random_state=0, **sched).fit(X, y)
    assert int(sp.block_masks_["0.weight"].sum()) == 17  # 100 blocks, floor(83) removed
    assert sp.layer_sparsity_ == {"0.weight": 83 / 100}
    assert sp.sparsity_ == 83 / 100
