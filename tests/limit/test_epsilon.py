"""epsilon: the spread of the batch-mean data loss over consecutive batches (batch_loss_std,
the paper's one-pass estimate: epsilon="batch_std") and exactly from per-sample losses
(random_batch_loss_std: epsilon="random_batch_std")."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from torch import nn

from sparselimit.limit import batch_loss_std, data_loss, random_batch_loss_std, sample_losses


def _manual_ce(net, X, y):
    with torch.no_grad():
        out = net.module_(torch.as_tensor(X))
    return nn.functional.cross_entropy(out, torch.as_tensor(y), reduction="none").double().numpy()


def test_random_batch_std_is_sample_std_over_sqrt_b(fitted_net, data):
    X, y = data
    ce = _manual_ce(fitted_net, X, y)
    eps, loss, losses = random_batch_loss_std(fitted_net, X, y, batch_size=64)
    np.testing.assert_allclose(losses, ce, rtol=1e-5, atol=1e-8)
    assert eps == pytest.approx(np.std(ce) / 8.0, rel=1e-5)
    assert loss == pytest.approx(ce.mean(), rel=1e-5)
    assert fitted_net.criterion_.reduction == "mean"  # switched back


def test_random_batch_std_is_the_spread_of_random_batches(fitted_net, data):
    # independent reference: draw 20000 random batches of 16 and take the spread of their means
    X, y = data
    ce = _manual_ce(fitted_net, X, y)
    rng = np.random.default_rng(0)
    means = ce[rng.integers(0, len(ce), size=(20000, 16))].mean(axis=1)
    eps = random_batch_loss_std(fitted_net, X, y, batch_size=16)[0]
    assert eps == pytest.approx(np.std(means), rel=0.03)


def test_random_batch_std_ignores_order_and_works_on_few_samples(fitted_net, data):
    X, y = data
    eps = random_batch_loss_std(fitted_net, X, y)[0]
    order = np.argsort(y, kind="stable")  # class-sorted, like load_iris
    assert random_batch_loss_std(fitted_net, X[order], y[order])[0] == pytest.approx(eps)
    small = random_batch_loss_std(fitted_net, X[:20], y[:20], batch_size=128)[0]
    assert small == pytest.approx(np.std(_manual_ce(fitted_net, X[:20], y[:20])) / np.sqrt(128))
    with pytest.raises(ValueError, match="two training samples"):
        random_batch_loss_std(fitted_net, X[:1], y[:1])


class _PlainMSE(nn.Module):  # no `reduction` attribute: losses are taken one sample at a time
    def forward(self, y_pred, y_true):
        return ((y_pred - y_true) ** 2).mean()


@pytest.mark.parametrize("criterion", [nn.MSELoss, _PlainMSE])
def test_sample_losses_multi_output_and_custom_criterion(criterion):
    X = np.arange(12, dtype=np.float32).reshape(6, 2) / 10
    y = np.stack([np.arange(6), -np.arange(6)], axis=1).astype(np.float32)
    net = NeuralNetRegressor(nn.Linear(2, 2), criterion=criterion, verbose=0).initialize()
    with torch.no_grad():
        expected = ((net.module_(torch.as_tensor(X)) - torch.as_tensor(y)) ** 2).mean(1).numpy()
    np.testing.assert_allclose(sample_losses(net, X, y, batch_size=4), expected, rtol=1e-5)
    assert sample_losses(net, X, y).mean() == pytest.approx(data_loss(net, X, y), rel=1e-5)


def test_sample_losses_with_class_weights_keep_each_samples_share(fitted_net, data):
    # a weighted mean is not the plain mean of the unreduced (weighted) terms: each sample's
    # term w_y * l is scaled by n / sum(w_y), so the losses average to the data loss
    X, y = data
    weight = torch.tensor([1.0, 3.0])
    net = NeuralNetClassifier(
        fitted_net.module_, criterion=nn.CrossEntropyLoss, criterion__weight=weight, verbose=0
    ).initialize()
    w = weight.numpy()[y].astype(np.float64)
    expected = w * _manual_ce(net, X, y) * len(y) / w.sum()
    losses = sample_losses(net, X, y)  # one batch of 256
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    assert losses.mean() == pytest.approx(data_loss(net, X, y), rel=1e-5)
    eps, loss, _ = random_batch_loss_std(net, X, y)
    assert loss == pytest.approx(data_loss(net, X, y), rel=1e-5)


def test_batch_std_matches_manual(fitted_net, data):
    X, y = data
    eps, loss, per_batch = batch_loss_std(fitted_net, X, y, batch_size=64)
    module = fitted_net.module_
    with torch.no_grad():
        out = module(torch.as_tensor(X))
    ce = nn.functional.cross_entropy(out, torch.as_tensor(y), reduction="none").numpy()
    manual = [ce[i : i + 64].mean() for i in range(0, 256, 64)]
    np.testing.assert_allclose(per_batch, manual, rtol=1e-5)
    assert eps == pytest.approx(np.std(manual), rel=1e-5)
    assert loss == pytest.approx(ce.mean(), rel=1e-5)
    assert data_loss(fitted_net, X, y) == pytest.approx(ce.mean(), rel=1e-5)


def test_partial_last_batch_is_left_out_of_the_std(fitted_net, data):
    X, y = data
    eps, loss, per_batch = batch_loss_std(fitted_net, X[:250], y[:250], batch_size=64)
    assert per_batch.size == 3  # 64, 64, 64 (+ 58 left out)
    assert eps == pytest.approx(np.std(per_batch))


def test_l1_penalty_is_not_in_the_loss(fitted_net, data):
    X, y = data
    assert fitted_net.l1_alpha > 0
    with torch.no_grad():
        ce = nn.functional.cross_entropy(fitted_net.module_(torch.as_tensor(X)), torch.as_tensor(y))
    assert data_loss(fitted_net, X, y) == pytest.approx(float(ce), rel=1e-5)


def test_too_few_batches_is_a_clear_error(fitted_net, data):
    X, y = data
    with pytest.raises(ValueError, match="random_batch_loss_std"):
        batch_loss_std(fitted_net, X[:200], y[:200], batch_size=128)


def test_train_mode_is_restored(fitted_net, data):
    X, y = data
    fitted_net.module_.train()
    batch_loss_std(fitted_net, X, y, batch_size=64)
    assert fitted_net.module_.training
    random_batch_loss_std(fitted_net, X, y)
    assert fitted_net.module_.training


@pytest.mark.parametrize("rule", [batch_loss_std, random_batch_loss_std])
def test_nan_loss_of_nll_on_log_softmax_names_the_cause(data, rule):
    """skorch's NeuralNetClassifier takes the log of the output under NLLLoss: a module ending
    in LogSoftmax gives NaN losses, which the error blamed on divergence alone."""
    X, y = data
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(X.shape[1], 2), nn.LogSoftmax(dim=1)), verbose=0
    ).initialize()
    with pytest.raises(ValueError, match=r"not finite(.|\n)*nn\.LogSoftmax(.|\n)*Softmax"):
        rule(net, X, y, batch_size=64)
    # a classifier whose NaN comes from elsewhere gets no NLLLoss advice
    reg = NeuralNetRegressor(nn.Linear(X.shape[1], 1), verbose=0).initialize()
    reg.module_.bias.data.fill_(float("nan"))  # diverged weights (NaN data fail before)
    with pytest.raises(ValueError, match="not finite") as info:
        rule(reg, X, np.zeros((len(X), 1), dtype=np.float32), batch_size=64)
    assert "LogSoftmax" not in str(info.value)


_LOSS_FUNCTIONS = [batch_loss_std, random_batch_loss_std, sample_losses, data_loss]


@pytest.mark.parametrize("fn", _LOSS_FUNCTIONS)
def test_loss_functions_refuse_y_none(fitted_net, data, fn):
    """skorch's dataset gives every sample the placeholder target 0 when y is None: the loss
    was silently that of all-0 labels."""
    from skorch.dataset import Dataset

    X, y = data
    assert data_loss(fitted_net, X, np.zeros_like(y)) != pytest.approx(data_loss(fitted_net, X, y))
    with pytest.raises(ValueError, match=f"{fn.__name__} requires y to be passed"):
        fn(fitted_net, X, None, batch_size=64)
    # a Dataset X yields its own targets: the same losses as (X, y)
    got = fn(fitted_net, Dataset(X, y), None, batch_size=64)
    ref = fn(fitted_net, X, y, batch_size=64)
    for a, b in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, ref))):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("fn", _LOSS_FUNCTIONS)
def test_loss_functions_check_their_input(fitted_net, data, fn):
    from sklearn.exceptions import NotFittedError

    X, y = data
    with pytest.raises(NotFittedError, match="not initialized yet"):
        fn(NeuralNetClassifier(nn.Linear(X.shape[1], 2), verbose=0), X, y)
    with pytest.raises(
        TypeError, match=r"`net` must be an initialized skorch net \(.*\); got Sequential"
    ):
        fn(fitted_net.module_, X, y)
    X_nan = X.copy()
    X_nan[3, 0] = np.nan
    with pytest.raises(ValueError, match="`X` contains NaN"):
        fn(fitted_net, X_nan, y, batch_size=64)
    with pytest.raises(ValueError, match="same number of samples; got 256 and 5"):
        fn(fitted_net, X, y[:5], batch_size=64)
    with pytest.raises(ValueError, match="0 sample"):
        fn(fitted_net, X[:0], y[:0])
    for bad in (0, -1, 2.0, "64", True):
        with pytest.raises(ValueError, match=f"`batch_size` must be a positive int.*got {bad!r}"):
            fn(fitted_net, X, y, batch_size=bad)
