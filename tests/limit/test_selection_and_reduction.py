"""The limit and its measurement cover the same weights, and do not depend on how the
criterion reduces a batch."""

import numpy as np
import pytest
import torch
from torch import nn

from sparselimit import L1RegularizedClassifier, PruningLimitEstimator, measure_pruning_curve
from sparselimit.limit import LimitRegimeWarning

from ._helpers import fit_seeded, make_data, make_net


def test_curve_prunes_the_weights_the_limit_is_about(fitted_net, data):
    X, y = data
    est = PruningLimitEstimator(
        fitted_net, prefit=True, include=r"^0\.weight$", spectrum="exact", random_state=0
    ).fit(X, y)
    assert est.param_names_ == ["0.weight"] and est.n_params_ == 6 * 16
    curve = measure_pruning_curve(est, X, y, sparsities=[0.0, 0.5])
    assert curve.n_params == est.n_params_


def test_sum_reduction_gives_the_mean_reduction_limit_at_any_batch_size(fitted_net, data):
    X, y = data
    summed = make_net(criterion__reduction="sum")
    summed.initialize()
    summed.module_.load_state_dict(fitted_net.module_.state_dict())
    kw = dict(prefit=True, n_lanczos_steps=24, random_state=0)
    ref = PruningLimitEstimator(fitted_net, batch_size=256, **kw).fit(X, y)
    for batch_size in (32, 256):
        est = PruningLimitEstimator(summed, batch_size=batch_size, **kw).fit(X, y)
        assert est.epsilon_ == pytest.approx(ref.epsilon_, rel=1e-5)
        assert est.loss_ == pytest.approx(ref.loss_, rel=1e-5)
        assert est.pruning_limit_ == pytest.approx(ref.pruning_limit_, abs=2e-3)
    assert summed.criterion_.reduction == "sum"  # the user's net is left as it was


def test_curve_with_string_labels_on_a_code_predicting_net_is_a_clear_error(fitted_net, data):
    X, y = data
    labels = np.array(["no", "yes"])[y]
    with pytest.raises(ValueError, match="labels of dtype.*LabelEncoder"):
        measure_pruning_curve(fitted_net, X, labels, sparsities=[0.0])


def test_l1_net_without_prunable_weights_names_prunable_include():
    class NoLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.s = nn.Parameter(torch.zeros(6, 2))

        def forward(self, x):
            return x @ self.s

    X, y = make_data()
    net = L1RegularizedClassifier(
        NoLinear, criterion=nn.CrossEntropyLoss, max_epochs=1, train_split=None, verbose=0
    )
    with pytest.raises(ValueError, match="prunable_include=None.*Pass `prunable_include`"):
        fit_seeded(net, X, y)


@pytest.mark.parametrize("steps", [8, "auto"])
def test_all_zero_hessian_rows_give_the_flat_limit(data, steps):
    # every hidden unit dead: the loss does not depend on any prunable weight, every Hessian
    # row is zero, G = 1 everywhere and the limit is the largest sparsity below 1
    X, y = data
    net = make_net()
    net.initialize()
    with torch.no_grad():
        net.module_[0].bias.fill_(-100.0)
    est = PruningLimitEstimator(net, prefit=True, n_lanczos_steps=steps, random_state=0)
    with pytest.warns(LimitRegimeWarning, match="pinned"):
        est.fit(X, y)
    D = 6 * 16 + 16 * 2
    assert est.zero_row_fraction_ == 1.0 and est.n_lanczos_steps_ == 0
    assert est.pruning_limit_ == pytest.approx((D - 1) / D, abs=1e-6)
