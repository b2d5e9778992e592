"""epsilon = std over consecutive batches of the batch-mean data loss."""

import numpy as np
import pytest
import torch
from torch import nn

from sparselimit.limit import batch_loss_std, data_loss


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
    with pytest.raises(ValueError, match="epsilon_batch_size"):
        batch_loss_std(fitted_net, X[:200], y[:200], batch_size=128)


def test_train_mode_is_restored(fitted_net, data):
    X, y = data
    fitted_net.module_.train()
    batch_loss_std(fitted_net, X, y, batch_size=64)
    assert fitted_net.module_.training
