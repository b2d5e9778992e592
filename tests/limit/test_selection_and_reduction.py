"""The limit and its measurement cover the same weights, and do not depend on how the
criterion reduces a batch."""

import warnings

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


@pytest.mark.parametrize("spectrum", ["exact", "slq"])
def test_limit_pinned_by_zero_weights_says_so(data, spectrum):
    """All but one prunable weight exactly zero: R(1 - 1/D) = 0, so G = 1 and the limit is
    pinned whatever the (non-zero) Hessian. The warning blamed a flat Hessian."""
    X, y = data
    net = make_net()
    net.initialize()
    with torch.no_grad():
        net.module_[0].weight.zero_()
        net.module_[2].weight.zero_()
        net.module_[0].weight[0, 0] = 1.0
    D = 6 * 16 + 16 * 2
    est = PruningLimitEstimator(net, prefit=True, spectrum=spectrum, epsilon=1e-3, random_state=0)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        est.fit(X, y)
    pinned = [str(w.message) for w in rec if "pinned" in str(w.message)]
    assert (
        len(pinned) == 1 and "99.2% of the prunable weights are already exactly zero" in pinned[0]
    )
    assert est.radius((D - 1) / D) == 0.0  # the weights pin it, not the curvature:
    assert est.diagnostics_["mean_abs_curvature"] > 0
    assert est.pruning_limit_ == pytest.approx((D - 1) / D)
