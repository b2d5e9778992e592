"""measure_pruning_curve and the measured-limit rules."""

import copy

import numpy as np
import pytest
import torch

from sparselimit.limit import PruningCurve, measure_pruning_curve, measured_limit


def _state(net):
    return {k: v.clone() for k, v in net.module_.state_dict().items()}


def _manual_score(net, X, y, rho):
    """Prune a deep copy by hand (stable sort of |w|, round(rho D) smallest) and score it."""
    net = copy.deepcopy(net)
    ws = [p for n, p in net.module_.named_parameters() if n.endswith("weight")]
    flat = torch.cat([p.detach().abs().reshape(-1) for p in ws])
    n = int(round(rho * flat.numel()))
    remove = torch.zeros(flat.numel(), dtype=torch.bool)
    remove[torch.sort(flat, stable=True).indices[:n]] = True
    start = 0
    with torch.no_grad():
        for p in ws:
            k = p.numel()
            p.view(-1)[remove[start : start + k]] = 0
            start += k
    return float(np.mean(net.predict(X) == y))


def test_one_shot_curve_matches_manual_pruning_and_leaves_the_net_alone(fitted_net, data):
    X, y = data
    before = _state(fitted_net)
    rhos = [0.0, 0.3, 0.6, 0.9]
    curve = measure_pruning_curve(fitted_net, X, y, sparsities=rhos[::-1])
    np.testing.assert_allclose(curve.sparsities, rhos)  # sorted
    for r, s in zip(rhos, curve.scores):
        assert s == pytest.approx(_manual_score(fitted_net, X, y, r))
    assert curve.scores[0] == pytest.approx(curve.dense_score)
    assert curve.losses[-1] > curve.losses[0]
    assert np.all(np.diff(curve.radii) >= 0) and curve.radii[0] == 0
    after = _state(fitted_net)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_matches_prune_global(fitted_net, data):
    from sparselimit import pruning as prune

    X, y = data
    curve = measure_pruning_curve(fitted_net, X, y, sparsities=[0.55])
    res = prune.prune_global(fitted_net.module_, 0.55, copy=True)
    with torch.no_grad():
        pred = res.module(torch.as_tensor(X)).argmax(1).numpy()
    assert curve.scores[0] == pytest.approx(np.mean(pred == y))


def test_default_grid_and_single_sort(fitted_net, data, monkeypatch):
    X, y = data
    calls = {"sort": 0, "deepcopy": 0}
    real_sort, real_copy = torch.sort, copy.deepcopy

    def counting_sort(*a, **k):
        calls["sort"] += 1
        return real_sort(*a, **k)

    def counting_copy(*a, **k):
        calls["deepcopy"] += 1
        return real_copy(*a, **k)

    import sparselimit.limit._curve as mod

    monkeypatch.setattr(mod.torch, "sort", counting_sort)
    monkeypatch.setattr(mod.copy, "deepcopy", counting_copy)
    curve = measure_pruning_curve(fitted_net, X, y)
    assert len(curve.sparsities) == 100 and curve.sparsities[-1] == pytest.approx(0.99)
    assert calls == {"sort": 1, "deepcopy": 1}


def test_fine_tuning_keeps_the_mask_and_helps(fitted_net, data):
    X, y = data
    before = _state(fitted_net)
    one_shot = measure_pruning_curve(fitted_net, X, y, sparsities=[0.0, 0.8, 0.9])
    retrain = dict(fine_tune_epochs=3, random_state=0, X_fine_tune=X, y_fine_tune=y)
    tuned = measure_pruning_curve(fitted_net, X, y, sparsities=[0.0, 0.8, 0.9], **retrain)
    assert tuned.fine_tune_epochs == 3
    assert tuned.dense_score == tuned.scores[0]  # the retrained dense net is the reference
    with pytest.warns(UserWarning, match="X_fine_tune"):  # retrains on the scored data
        added = measure_pruning_curve(fitted_net, X, y, sparsities=[0.8], fine_tune_epochs=1)
    assert list(added.sparsities) == [0.0, 0.8]
    assert tuned.scores[-1] >= one_shot.scores[-1] - 0.02
    tuned2 = measure_pruning_curve(fitted_net, X, y, sparsities=[0.0, 0.8, 0.9], **retrain)
    np.testing.assert_allclose(tuned.scores, tuned2.scores)  # seeded
    after = _state(fitted_net)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_each_retrained_point_is_a_fresh_run_even_with_an_lr_scheduler(data):
    # the history restarts per point: an LRScheduler resumes from it (and failed to with a
    # fresh optimizer), and a point's retraining must not depend on the points before it
    from skorch.callbacks import LRScheduler

    from ._helpers import fit_seeded, make_net

    X, y = data
    sched = ("sched", LRScheduler(policy="CosineAnnealingLR", T_max=4))
    net = fit_seeded(make_net(max_epochs=4, callbacks=[sched]), X, y)
    kw = dict(fine_tune_epochs=2, random_state=0, X_fine_tune=X, y_fine_tune=y)
    sweep = measure_pruning_curve(net, X, y, sparsities=[0.0, 0.5, 0.8], **kw)
    alone = measure_pruning_curve(net, X, y, sparsities=[0.8], **kw)
    assert sweep.losses[-1] == pytest.approx(alone.losses[-1], rel=1e-6)
    assert len(net.history) == 4  # the user's net is untouched


def test_fine_tuned_nets_stay_sparse(fitted_net, data, monkeypatch):
    X, y = data
    import sparselimit.limit._curve as mod

    seen = []
    real = mod._evaluate

    def spy(net, X_, y_, score):
        ws = [p for n, p in net.module_.named_parameters() if n.endswith("weight")]
        flat = torch.cat([p.detach().reshape(-1) for p in ws])
        seen.append(float((flat == 0).float().mean()))
        return real(net, X_, y_, score)

    monkeypatch.setattr(mod, "_evaluate", spy)
    measure_pruning_curve(
        fitted_net, X, y, sparsities=[0.5, 0.75], fine_tune_epochs=2, X_fine_tune=X, y_fine_tune=y
    )
    # seen: the dense evaluation, then rho = 0 (added reference), 0.5, 0.75
    assert seen[2] >= 0.5 - 1e-3 and seen[3] >= 0.75 - 1e-3


def test_rules():
    rho = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    acc = np.array([0.9, 0.91, 0.89, 0.9, 0.5])
    assert measured_limit(rho, acc, 0.9, "last_above") == 0.3
    assert measured_limit(rho, acc, 0.9, "first_drop") == 0.1
    assert measured_limit(rho, acc, 0.9, "first_drop", tolerance=0.02) == 0.3
    assert measured_limit(rho, np.full(5, 0.5), 0.9, "last_above") == 0.0
    assert measured_limit(rho, np.full(5, 0.95), 0.9, "first_drop") == 0.4
    with pytest.raises(ValueError, match="rule"):
        measured_limit(rho, acc, 0.9, "best")
    with pytest.raises(ValueError, match="tolerance"):
        measured_limit(rho, acc, 0.9, tolerance=-1)
    # None (or a string, a bool) is not a score drop: the same ValueError naming `tolerance`,
    # not float()'s TypeError
    for bad in (None, "0.1", True, float("nan")):
        with pytest.raises(ValueError, match=r"`tolerance` must be a non-negative float"):
            measured_limit(rho, acc, 0.9, tolerance=bad)
    assert measured_limit(rho, acc, 0.9, "first_drop", tolerance=np.float32(0.02)) == 0.3
    assert measured_limit(rho, acc, 0.9, "first_drop", tolerance=float("inf")) == 0.4


def test_rules_refuse_scores_that_do_not_pair_with_the_sparsities():
    # 3 scores for 2 sparsities gave 0.5 (the third score silently dropped); fewer scores, or
    # an empty first_drop curve, an IndexError
    with pytest.raises(ValueError, match="got 2 sparsities and 3 scores"):
        measured_limit([0.0, 0.5], [0.9, 0.9, 0.1], 0.9, "last_above")
    with pytest.raises(ValueError, match="got 3 sparsities and 2 scores"):
        measured_limit([0.0, 0.5, 0.9], [0.9, 0.9], 0.9, "first_drop")
    for rule in ("last_above", "first_drop"):
        with pytest.raises(ValueError, match="at least one point"):
            measured_limit([], [], 0.9, rule)
    # a one-point curve, and a column of scores, still work
    assert measured_limit([0.5], [[0.9]], 0.9, "first_drop") == 0.5


def test_curve_object(fitted_net, data):
    import json

    X, y = data
    curve = measure_pruning_curve(
        fitted_net, X, y, sparsities=np.linspace(0, 0.9, 5), rule="first_drop", tolerance=0.01
    )
    assert isinstance(curve, PruningCurve)
    assert curve.measured_limit == curve.limit()
    d = curve.to_dict()
    json.dumps(d)
    assert set(d["limits"]) == {"last_above", "first_drop"}


def test_regressor_scores_r2():
    from skorch import NeuralNetRegressor
    from torch import nn

    rng = np.random.RandomState(0)
    X = rng.randn(100, 4).astype(np.float32)
    y = X.sum(axis=1, keepdims=True)
    net = NeuralNetRegressor(
        nn.Linear(4, 1), max_epochs=20, lr=0.1, train_split=None, verbose=0
    ).fit(X, y)
    curve = measure_pruning_curve(net, X, y, sparsities=[0.0, 0.75])
    assert curve.score_name == "r2"
    assert curve.dense_score > 0.9 and curve.scores[1] < curve.dense_score


def test_bad_input(fitted_net, data):
    X, y = data
    with pytest.raises(ValueError, match="sparsities"):
        measure_pruning_curve(fitted_net, X, y, sparsities=[0.5, 1.0])
    with pytest.raises(ValueError, match="fine_tune_epochs"):
        measure_pruning_curve(fitted_net, X, y, fine_tune_epochs=-1)
    with pytest.raises(TypeError, match="skorch"):
        measure_pruning_curve(object(), X, y)


def test_array_fast_path_equals_skorch_forward(fitted_net, data, monkeypatch):
    # arrays skip skorch's per-sample DataLoader; the outputs (and so scores and losses) must
    # be those of net.forward, in several batches too, with the module's mode restored
    from skorch import NeuralNet
    from torch import nn

    import sparselimit.limit._curve as curve_module

    X, y = data
    monkeypatch.setattr(curve_module, "_EVAL_BATCH", 37)
    fitted_net.module_.train()
    fast = curve_module._forward(fitted_net, X)
    ref = fitted_net.forward(X, training=False)
    torch.testing.assert_close(fast, ref)
    fitted_net.module_.train()  # (skorch's forward left it in eval mode)
    score, loss = curve_module._evaluate(fitted_net, X, y, lambda p, X, y: 0.0)
    assert fitted_net.module_.training  # mode restored
    assert loss == pytest.approx(float(fitted_net.get_loss(ref, y, X=X, training=False)))

    # scoring runs in eval mode: with dropout, a train-mode pass would differ
    drop = NeuralNet(
        nn.Sequential(nn.Linear(3, 16), nn.Dropout(0.5), nn.Linear(16, 2)),
        criterion=nn.MSELoss,
        max_epochs=0,
        train_split=None,
    ).initialize()
    Xd = np.random.RandomState(1).randn(50, 3).astype(np.float32)
    drop.module_.train()
    torch.testing.assert_close(curve_module._forward(drop, Xd), drop.forward(Xd, training=False))

    class Pair(nn.Module):  # tuple outputs go through skorch's own path
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x):
            return self.lin(x), self.lin(x).sum(dim=1)

    net = NeuralNet(Pair, criterion=nn.MSELoss, max_epochs=0, train_split=None).initialize()
    Xp = np.random.RandomState(0).randn(80, 3).astype(np.float32)
    out = curve_module._forward(net, Xp)
    assert isinstance(out, tuple) and out[0].shape == (80, 2) and out[1].shape == (80,)


class OneLogit(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)
        )

    def forward(self, x):
        return self.body(x).squeeze(-1)


def test_binary_classifier_with_one_logit_scores_like_its_predict():
    from skorch import NeuralNetBinaryClassifier

    from ._helpers import make_data

    X, y = make_data()
    y = y.astype(np.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = NeuralNetBinaryClassifier(
            OneLogit, lr=0.1, max_epochs=5, train_split=None, verbose=0, threshold=0.4
        ).fit(X, y)
    curve = measure_pruning_curve(net, X, y, sparsities=[0.0, 0.5])
    assert curve.score_name == "accuracy"
    assert curve.scores[0] == pytest.approx(net.score(X, y))
    pruned = copy.deepcopy(net)
    ws = [pruned.module_.body[0].weight, pruned.module_.body[2].weight]
    flat = torch.cat([w.detach().abs().reshape(-1) for w in ws])
    cut = torch.sort(flat, stable=True).values[int(round(0.5 * flat.numel())) - 1]
    with torch.no_grad():
        for w in ws:
            w[w.abs() <= cut] = 0
    assert curve.scores[1] == pytest.approx(pruned.score(X, y))


@pytest.mark.parametrize("n_labels", [1, 3])
def test_bce_classifier_one_column_and_multilabel_score_like_their_score(n_labels):
    """A NeuralNetClassifier on BCE logits predicts through skorch's (1 - p, p) stack: an
    (n, 1) column for one logit, (n, n_labels) for multilabel targets; the curve's accuracy
    is the net's own ``score`` (subset accuracy for multilabel), not a broadcast error."""
    from skorch import NeuralNetClassifier
    from torch import nn

    rng = np.random.RandomState(0)
    X = rng.randn(120, 5).astype(np.float32)
    y = (X[:, :n_labels] + 0.5 * X[:, -1:] > 0).astype(np.float32)  # (n, n_labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = NeuralNetClassifier(
            nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, n_labels)),
            criterion=nn.BCEWithLogitsLoss,
            lr=0.1,
            max_epochs=5,
            train_split=None,
            verbose=0,
        ).fit(X, y)
    curve = measure_pruning_curve(net, X, y, sparsities=[0.0, 0.5])
    assert curve.score_name == "accuracy"
    assert curve.scores[0] == pytest.approx(net.score(X, y))
    pruned = copy.deepcopy(net)
    ws = [pruned.module_[0].weight, pruned.module_[2].weight]
    flat = torch.cat([w.detach().abs().reshape(-1) for w in ws])
    remove = torch.zeros(flat.numel(), dtype=torch.bool)
    remove[torch.sort(flat, stable=True).indices[: int(round(0.5 * flat.numel()))]] = True
    with torch.no_grad():
        ws[0].view(-1)[remove[: ws[0].numel()]] = 0
        ws[1].view(-1)[remove[ws[0].numel() :]] = 0
    assert curve.scores[1] == pytest.approx(pruned.score(X, y))


def test_per_pixel_class_scores_give_per_pixel_accuracy():
    """Class scores on axis 1 of (n, C, H, W): the argmax over the classes of each labelled
    pixel (skorch's own nonlinearity softmaxes the last axis, which is the width here)."""
    from skorch import NeuralNetClassifier
    from torch import nn

    rng = np.random.RandomState(0)
    X = rng.randn(40, 1, 4, 5).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 0] > 1)  # 3 classes per pixel, (n, H, W)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = NeuralNetClassifier(
            nn.Conv2d(1, 3, 1), criterion=nn.CrossEntropyLoss, max_epochs=0, verbose=0
        ).initialize()
    y[:, 0, 0] = -100  # unlabelled pixels (CrossEntropyLoss's ignore_index)
    curve = measure_pruning_curve(net, X, y, sparsities=[0.0])
    with torch.no_grad():
        pixel = net.module_(torch.as_tensor(X)).argmax(dim=1).numpy()
    labelled = y != -100
    assert curve.scores[0] == pytest.approx(np.mean(pixel[labelled] == y[labelled]))


@pytest.mark.parametrize("criterion", ["ce", "bce"])
def test_plain_neural_net_with_a_classification_loss_scores_accuracy(criterion):
    """A plain skorch NeuralNet is neither classifier nor regressor: with a classification
    criterion its default score is accuracy (R^2 of logits against labels failed for
    cross-entropy and was a meaningless number for multilabel BCE)."""
    from skorch import NeuralNet
    from torch import nn

    rng = np.random.RandomState(0)
    X = rng.randn(100, 4).astype(np.float32)
    if criterion == "ce":
        y, loss, n_out = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0), nn.CrossEntropyLoss, 3
    else:
        y, loss, n_out = (X[:, :2] > 0).astype(np.float32), nn.BCEWithLogitsLoss, 2
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = NeuralNet(
            nn.Linear(4, n_out), criterion=loss, lr=0.1, max_epochs=5, train_split=None, verbose=0
        ).fit(X, y)
    curve = measure_pruning_curve(net, X, y, sparsities=[0.0])
    with torch.no_grad():
        out = net.module_(torch.as_tensor(X)).numpy()
    if criterion == "ce":
        expected = np.mean(out.argmax(axis=1) == y)
    else:  # subset accuracy of the logits' signs
        expected = np.mean(np.all((out > 0) == (y > 0.5), axis=1))
    assert curve.score_name == "accuracy"
    assert curve.scores[0] == pytest.approx(expected)


def test_fine_tune_data_come_in_pairs(fitted_net, data):
    # X_fine_tune alone was retrained against the scoring targets y (silently, when the lengths
    # agree), and y_fine_tune alone against the scoring inputs X
    X, y = data
    Xs, ys = X[:128], y[:128]  # scored on one half, retrained on the other: same length
    Xf, yf = X[128:], y[128:]
    kw = dict(sparsities=[0.5], fine_tune_epochs=1, random_state=0)
    with pytest.raises(ValueError, match="`X_fine_tune` was given without `y_fine_tune`"):
        measure_pruning_curve(fitted_net, Xs, ys, X_fine_tune=Xf, **kw)
    with pytest.raises(ValueError, match="`y_fine_tune` was given without `X_fine_tune`"):
        measure_pruning_curve(fitted_net, Xs, ys, y_fine_tune=yf, **kw)
    # a Dataset yielding (X, y) carries its own targets: the same curve as the arrays
    ds = torch.utils.data.TensorDataset(torch.as_tensor(Xf), torch.as_tensor(yf))
    got = measure_pruning_curve(fitted_net, Xs, ys, X_fine_tune=ds, **kw)
    ref = measure_pruning_curve(fitted_net, Xs, ys, X_fine_tune=Xf, y_fine_tune=yf, **kw)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_allclose(got.losses, ref.losses, rtol=1e-6)


def test_sort_order_of_ties_signed_zeros_and_subnormals(monkeypatch):
    # the sweep sorts |w| by its bit patterns; the weights zeroed at every point must be those
    # a stable sort of the float magnitudes removes (ties by position, -0 as +0, subnormals)
    from skorch import NeuralNetRegressor

    import sparselimit.limit._curve as mod

    w = torch.tensor([[0.5, -0.5, -0.0, 0.0, 1e-40, -1e-40, 3.0, -3.0, 2e-45, 0.5, 1e30, -0.25]])
    net = NeuralNetRegressor(
        torch.nn.Linear, module__in_features=12, module__out_features=1, verbose=0
    ).initialize()
    with torch.no_grad():
        net.module_.weight.copy_(w)
    X = np.eye(12, dtype=np.float32)
    y = X @ w.numpy().T
    seen = []
    real = mod._evaluate

    def recording(net, X, y, score):
        seen.append(net.module_.weight.detach().clone())
        return real(net, X, y, score)

    monkeypatch.setattr(mod, "_evaluate", recording)
    rhos = np.arange(1, 12) / 12
    measure_pruning_curve(net, X, y, sparsities=rhos)
    order = np.argsort(np.abs(w.numpy().ravel()), kind="stable")
    for rho, got in zip(rhos, seen[1:]):
        expected = w.clone().reshape(-1)
        expected[torch.from_numpy(order[: int(round(rho * 12))])] = 0
        assert torch.equal(got.reshape(-1), expected), rho


def test_measured_limit_checks_its_input():
    """Mismatched lengths raised IndexError, an empty curve IndexError under "first_drop", and
    a NaN dense score returned 0.0 (no point "keeps" NaN)."""
    assert measured_limit(np.array([0.0, 0.5]), np.array([0.9, 0.9]), np.float32(0.9)) == 0.5
    with pytest.raises(ValueError, match=r"same length.*got 2 sparsities and 1 scores"):
        measured_limit([0.1, 0.2], [1.0], 1.0)
    for rule in ("last_above", "first_drop"):
        with pytest.raises(ValueError, match="non-empty"):
            measured_limit([], [], 1.0, rule)
    with pytest.raises(ValueError, match=r"`sparsities` must be fractions in \[0, 1\]"):
        measured_limit([0.5, 1.5], [1.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="`dense_score` must be finite"):
        measured_limit([0.5], [1.0], float("nan"))
    with pytest.raises(TypeError, match="`dense_score` must be a real number"):
        measured_limit([0.5], [1.0], "0.9")
