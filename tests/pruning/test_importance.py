import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit.pruning import prune_global
from sparselimit.pruning._importance import (
    make_undecayed_importance,
    undecayed_importance,
    undecayed_score,
)


def test_worked_example():
    w = torch.tensor([0.5, -0.2, 0.1], dtype=torch.float64)
    g = torch.tensor([0.1, 0.3, -2.0], dtype=torch.float64)
    s = undecayed_score(w, g, 5e-4)
    torch.testing.assert_close(s, torch.tensor([-0.049875, 0.06002, 0.200005], dtype=torch.float64))
    assert int(s.abs().argmin()) == 0  # Undecayed prunes index 0 first
    assert int(w.abs().argmin()) == 2  # magnitude would prune index 2


def test_worked_example_through_prune_global():
    # a module whose data-loss gradient is exactly g: loss = <g, w> (linear in w)
    g = torch.tensor([[0.1, 0.3, -2.0]])
    layer = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -0.2, 0.1]]))
    X = g.clone()  # output = w . g

    def loss(out, y):
        return out.sum()

    imp = make_undecayed_importance(layer, loss, X, torch.zeros(1), weight_decay=5e-4)
    torch.testing.assert_close(imp.scores["weight"], torch.tensor([[0.049875, 0.06002, 0.200005]]))
    und = prune_global(layer, 1 / 3, importance=imp, copy=True).masks["weight"]
    mag = prune_global(layer, 1 / 3, importance="magnitude", copy=True).masks["weight"]
    assert und.tolist() == [[False, True, True]]
    assert mag.tolist() == [[True, True, False]]


def test_integer_weights_are_scored_in_floating_point():
    # w=[1,-2,3], g=[0.9,0.1,-2], lambda=0.1: s = -w*g + 0.1*w^2, by hand
    s = undecayed_score([1, -2, 3], [0.9, 0.1, -2.0], 0.1)
    assert s.is_floating_point()
    assert s.tolist() == pytest.approx([-0.8, 0.6, 6.9])
    assert int(s.abs().argmin()) == 1


def _data():
    rng = np.random.RandomState(0)
    X = rng.randn(100, 6).astype(np.float32)
    y = (X[:, 0] - X[:, 1] > 0).astype(np.int64)
    return X, y


def test_no_side_effects_on_grads_modes_and_flags():
    X, y = _data()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 2))
    net.train()
    net[0].weight.grad = torch.ones_like(net[0].weight)
    net[3].weight.requires_grad_(False)
    scores = undecayed_importance(net, nn.CrossEntropyLoss(), X, y, 1e-4)
    assert set(scores) == {"0.weight", "3.weight"}
    assert all(bool((s >= 0).all()) for s in scores.values())
    assert torch.equal(net[0].weight.grad, torch.ones_like(net[0].weight))
    assert net[3].weight.grad is None and not net[3].weight.requires_grad
    assert all(m.training for m in net.modules())
    # eval mode was used: dropout did not randomise the scores
    again = undecayed_importance(net, nn.CrossEntropyLoss(), X, y, 1e-4)
    for k in scores:
        torch.testing.assert_close(scores[k], again[k])


def test_batching_matches_full_batch_and_skorch_matches_module():
    X, y = _data()
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=2,
        train_split=None,
        verbose=0,
        optimizer__weight_decay=1e-3,
        batch_size=16,
    ).fit(X, y)
    via_net = undecayed_importance(net, None, X, y)  # lambda from optimizer__weight_decay
    full = undecayed_importance(net.module_, nn.CrossEntropyLoss(), X, y, 1e-3, batch_size=100)
    small = undecayed_importance(net.module_, nn.CrossEntropyLoss(), X, y, 1e-3, batch_size=7)
    for k in full:
        torch.testing.assert_close(via_net[k], full[k], rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(small[k], full[k], rtol=1e-5, atol=1e-7)
    only = undecayed_importance(net, None, X, y, params=["2.bias"])
    assert list(only) == ["2.bias"]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_class_weighted_and_summed_losses_do_not_depend_on_the_batching(reduction):
    # the data-loss gradient is the one of the mean over all samples: a class-weighted batch
    # mean counts by its total class weight, a summed criterion is taken as its mean
    X, y = _data()
    weight = torch.tensor([1.0, 4.0])
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    lam = 1e-3

    def scores(batch_size):
        net = NeuralNetClassifier(
            module,
            criterion=nn.CrossEntropyLoss,
            criterion__weight=weight,
            criterion__reduction=reduction,
            batch_size=batch_size,
            train_split=None,
            verbose=0,
        ).initialize()
        return undecayed_importance(net, None, X, y, weight_decay=lam)

    # reference: one full-batch weighted mean, by hand
    loss = nn.CrossEntropyLoss(weight=weight)(module(torch.as_tensor(X)), torch.as_tensor(y))
    grads = torch.autograd.grad(loss, [module[0].weight, module[2].weight])
    for got in (scores(7), scores(100)):
        for name, p, g in zip(
            ["0.weight", "2.weight"], [module[0].weight, module[2].weight], grads
        ):
            expected = (-p * g + lam * p**2).abs().detach()
            torch.testing.assert_close(got[name], expected, rtol=1e-5, atol=1e-8)
    # a plain module with the weighted loss: the same
    plain = undecayed_importance(
        module, nn.CrossEntropyLoss(weight=weight), X, y, lam, batch_size=7
    )
    torch.testing.assert_close(plain["2.weight"], scores(100)["2.weight"], rtol=1e-5, atol=1e-8)


def test_skorch_lambda_is_the_weight_decay_the_optimizer_applied():
    # AdamW decays by 0.01 without optimizer__weight_decay being set; a second param group
    # with its own value must be scored with it
    X, y = _data()
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        optimizer__param_groups=[("2.*", {"weight_decay": 0.3})],
        max_epochs=1,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    assert sorted(g["weight_decay"] for g in net.optimizer_.param_groups) == [0.01, 0.3]
    got = undecayed_importance(net, None, X, y)
    loss = nn.CrossEntropyLoss()
    for name, lam in [("0.weight", 0.01), ("2.weight", 0.3)]:
        ref = undecayed_importance(net.module_, loss, X, y, lam, params=[name])[name]
        torch.testing.assert_close(got[name], ref, rtol=1e-5, atol=1e-8)
    explicit = undecayed_importance(net, None, X, y, weight_decay=0.0)  # given: used as is
    ref0 = undecayed_importance(net.module_, loss, X, y, 0.0)
    torch.testing.assert_close(explicit["2.weight"], ref0["2.weight"], rtol=1e-5, atol=1e-8)


def test_bad_input():
    X, y = _data()
    net = nn.Sequential(nn.Linear(6, 2))
    with pytest.raises(ValueError, match="weight_decay"):
        undecayed_importance(net, nn.CrossEntropyLoss(), X, y, -1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        undecayed_importance(net, nn.CrossEntropyLoss(), X, y)
    with pytest.raises(ValueError, match="loss_fn"):
        undecayed_importance(net, None, X, y, 0.0)
    with pytest.raises(KeyError, match="nope"):
        undecayed_importance(net, nn.CrossEntropyLoss(), X, y, 0.0, params=["nope"])
    with pytest.raises(ValueError, match="same number of samples"):
        undecayed_importance(net, nn.CrossEntropyLoss(), X, y[:-1], 0.0)
    with pytest.raises(TypeError, match="nn.Module or a skorch net"):
        undecayed_importance("net", nn.CrossEntropyLoss(), X, y, 0.0)
    imp = make_undecayed_importance(net, nn.CrossEntropyLoss(), X, y, 0.0)
    with pytest.raises(KeyError, match="No Undecayed score"):
        imp("other.weight", torch.zeros(2, 6))
    with pytest.raises(ValueError, match="shape"):
        imp("0.weight", torch.zeros(3, 6))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        undecayed_importance(net, nn.CrossEntropyLoss(), bad, y, 0.0)


def test_y_none_is_refused_not_scored_against_placeholder_targets():
    """With y=None a skorch net's dataset gives every sample the target 0: the scores were
    those of all-0 labels, without a word; a plain module failed in torch.as_tensor."""
    from skorch.dataset import Dataset

    X, y = _data()
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Linear(6, 2), criterion=nn.CrossEntropyLoss, max_epochs=2, verbose=0
    ).fit(X, y)
    for model, loss_fn in [(net, None), (net.module_, nn.CrossEntropyLoss())]:
        with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
            undecayed_importance(model, loss_fn, X, None, weight_decay=0.0)
        with pytest.raises(ValueError, match="requires y to be passed"):
            make_undecayed_importance(model, loss_fn, X, None, weight_decay=0.0)
    # a Dataset X yields its targets: the scores of (X, y)
    got = undecayed_importance(net, None, Dataset(X, y), None)
    ref = undecayed_importance(net, None, X, y)
    assert torch.allclose(got["weight"], ref["weight"])


def test_undecayed_score_checks_its_input():
    w, g = torch.tensor([0.5, -0.2]), torch.tensor([0.1, 0.3])
    with pytest.raises(ValueError, match=r"`grad` must have the shape of `weight` \(2,\).*\(3,\)"):
        undecayed_score(w, torch.ones(3), 0.0)
    with pytest.raises(ValueError, match=r"`grad` must have the shape of `weight`"):
        undecayed_score(w, torch.ones(1), 0.0)  # no silent broadcast
    for bad in (-1e-4, float("nan"), float("inf"), "0.1", None):
        with pytest.raises(
            ValueError, match=f"`weight_decay` must be a non-negative float.*{bad!r}"
        ):
            undecayed_score(w, g, bad)


def test_undecayed_by_name_in_both_pruners_matches_the_explicit_importance(digits_small):
    """importance="undecayed" in the pruners ranks by |-w g + lambda w^2| of the fitted net."""
    import numpy as np
    from skorch import NeuralNetClassifier

    from sparselimit import GlobalOneShotPruner, prune_global
    from sparselimit.pruning import IterativePruner, make_undecayed_importance

    X, y = digits_small
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=3,
        lr=0.1,
        optimizer__weight_decay=5e-4,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    pruner = GlobalOneShotPruner(net, sparsity=0.6, prefit=True, importance="undecayed")
    pruner.fit(X, y)
    reference = prune_global(
        net.module_, 0.6, copy=True, importance=make_undecayed_importance(net, None, X, y)
    )
    for name, mask in reference.masks.items():
        assert torch.equal(pruner.masks_[name], mask)
    magnitude = GlobalOneShotPruner(net, sparsity=0.6, prefit=True).fit(X, y)
    assert any(not torch.equal(magnitude.masks_[n], m) for n, m in pruner.masks_.items())

    with pytest.raises(ValueError, match="needs the training data"):
        prune_global(net.module_, 0.5, copy=True, importance="undecayed")
    with pytest.raises(ValueError, match="importance"):
        GlobalOneShotPruner(net, prefit=True, importance="fisher").fit(X, y)

    it = IterativePruner(
        net, schedule="fixed", n_rounds=2, importance="undecayed", retrain_epochs=1, verbose=0
    ).fit(X, y)
    assert np.isclose(it.sparsity_, 1 - 0.8**2, atol=0.01)


def test_undecayed_by_name_scores_the_pruners_own_selection(digits_small):
    """importance="undecayed" with a selection beyond the default weights (``include`` of the
    pruner, or the net's ``prunable_include``: embeddings, recurrent weights, biases) scored
    only the default weights and failed with a KeyError; it scores what is pruned."""
    import numpy as np

    from sparselimit import GlobalOneShotPruner, L1RegularizedClassifier
    from sparselimit.pruning import IterativePruner

    X, y = digits_small
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=3,
        lr=0.1,
        optimizer__weight_decay=5e-4,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    pruner = GlobalOneShotPruner(
        net, sparsity=0.6, prefit=True, include=r"weight|bias", importance="undecayed"
    ).fit(X, y)
    # reference by hand: |-w g + lambda w^2| with g the mean-loss gradient over all of X
    module = net.module_
    params = dict(module.named_parameters())
    module.eval()
    loss = nn.functional.cross_entropy(module(torch.as_tensor(X)), torch.as_tensor(y))
    grads = torch.autograd.grad(loss, list(params.values()))
    scores = {
        n: (-p.detach().double() * g.double() + 5e-4 * p.detach().double() ** 2).abs()
        for (n, p), g in zip(params.items(), grads)
    }
    flat = torch.cat([s.reshape(-1) for s in scores.values()])
    cut = torch.sort(flat).values[int(round(0.6 * flat.numel())) - 1]
    assert list(pruner.masks_) == list(params)
    for n, s in scores.items():
        assert torch.equal(pruner.masks_[n], s > cut)

    # the net's own selection, and the iterative pruner
    l1 = L1RegularizedClassifier(
        nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=2,
        lr=0.1,
        prunable_include=r"weight|bias",
        train_split=None,
        verbose=0,
    )
    one_shot = GlobalOneShotPruner(l1, sparsity=0.5, importance="undecayed").fit(X, y)
    assert "0.bias" in one_shot.masks_ and one_shot.sparsity_ == pytest.approx(0.5, abs=1e-3)
    it = IterativePruner(
        l1, schedule="fixed", n_rounds=1, importance="undecayed", retrain_epochs=1, verbose=0
    ).fit(X, y)
    assert "0.bias" in it.masks_ and np.isclose(it.sparsity_, 0.2, atol=0.01)
