"""Fitting with a random_state leaves torch's global RNG where the user left it (DESIGN: never
touch the global RNG). skorch's DataLoaders draw a seed from it on every pass, even unshuffled,
so every fit stage that iterates over data must be shielded."""

import warnings

import pytest
import torch

from sparselimit import GlobalOneShotPruner, HessianSpectrum, PruningLimitEstimator
from sparselimit.limit import measure_pruning_curve

from ._helpers import fit_seeded, make_data, make_net

CASES = {
    "limit": lambda net, X, y: PruningLimitEstimator(
        net, prefit=True, n_lanczos_steps=8, random_state=0
    ).fit(X, y),
    "limit_exact": lambda net, X, y: PruningLimitEstimator(
        net, prefit=True, spectrum="exact", random_state=0
    ).fit(X, y),
    "limit_training_seeded": lambda net, X, y: PruningLimitEstimator(
        make_net(max_epochs=2), n_lanczos_steps=8, random_state=0
    ).fit(X, y),
    "spectrum": lambda net, X, y: HessianSpectrum(
        net, prefit=True, n_lanczos_steps=8, random_state=0
    ).fit(X, y),
    "pruner_undecayed": lambda net, X, y: GlobalOneShotPruner(
        net, sparsity=0.5, prefit=True, importance="undecayed"
    ).fit(X, y),
    "pruner_auto": lambda net, X, y: GlobalOneShotPruner(
        net,
        sparsity="auto",
        prefit=True,
        limit_params={"n_lanczos_steps": 8, "random_state": 0},
    ).fit(X, y),
    "curve": lambda net, X, y: measure_pruning_curve(net, X, y, sparsities=[0.0, 0.5]),
}


@pytest.fixture(scope="module")
def fitted():
    X, y = make_data(n=256)
    return fit_seeded(make_net(max_epochs=2), X, y), X, y


@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_leaves_the_global_rng_alone(case, fitted):
    net, X, y = fitted
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # regime warnings of the tiny net are beside the point
        CASES[case](net, X, y)
    torch.testing.assert_close(torch.rand(4), expected)
