"""The predicted limit against the question it answers, solved exactly on a small net.

The theory: in the quadratic model ``L(w) - L(w*) = 1/2 (w - w*)^T |H| (w - w*)``, pruning the
``rho D`` smallest weights is feasible if a random subspace of the kept dimension, through the
pruned point, meets the sublevel set ``{L - L(w*) <= eps}``; the approximate kinematic formula
turns that into ``rho = G(R(rho))``. Here the question is answered directly: the minimum of the
quadratic model over such random subspaces, with a dense float64 Hessian, by linear algebra
that shares nothing with G(R), the radius curve or the root solver.
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from torch import nn

from sparselimit import L1RegularizedClassifier
from sparselimit.curvature import HessianOperator
from sparselimit.curvature._dense import dense_hessian
from sparselimit.limit import LimitRegimeWarning, PruningLimitEstimator
from sparselimit.utils import select_prunable

from ._helpers import fit_seeded

#: How far on either side of the prediction the subspace answer must flip. The kinematic
#: formula is only guaranteed up to a_eta / sqrt(D) (0.3 at D = 368, eta = 0.05); measured on
#: 8 nets of this kind (.notes study) the exact random-subspace limit was within 0.03 of the
#: prediction. On these two nets the rise is 0.26-0.28 eps at rho* - 0.06 and 1.25-1.5 eps
#: at rho* + 0.06: room for the random draws, while an error that moves the prediction by a
#: few hundredths down or about 0.1 up fails.
MARGIN = 0.06


def _quadratic_rise_on_random_subspace(abs_H, w, rho, rng):
    """``min 1/2 dw^T |H| dw`` over ``dw = d + U x``: ``d`` moves the ``rho D`` smallest weights
    to 0, ``U`` spans a random subspace of the kept dimension orthogonal to ``d``."""
    D = len(w)
    pruned = np.argsort(np.abs(w), kind="stable")[: int(round(rho * D))]
    d = np.zeros(D)
    d[pruned] = -w[pruned]
    u = d / np.linalg.norm(d)
    B = rng.standard_normal((D, D - len(pruned)))
    B -= np.outer(u, u @ B)
    U, _ = np.linalg.qr(B)
    AU = abs_H @ U
    b = AU.T @ d
    x = np.linalg.lstsq(U.T @ AU, b, rcond=1e-12)[0]
    return 0.5 * (d @ abs_H @ d - b @ x)


@pytest.mark.parametrize("l1_alpha", [3e-4, 1e-3])
def test_prediction_solves_the_random_subspace_question(l1_alpha):
    X, y = make_classification(400, 20, n_informative=8, n_classes=3, random_state=0)
    X = X.astype(np.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3))
    net = L1RegularizedClassifier(
        module,
        criterion=nn.CrossEntropyLoss,
        l1_alpha=l1_alpha,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        lr=0.05,
        max_epochs=60,
        batch_size=64,
        train_split=None,
        verbose=0,
    )
    fit_seeded(net, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)
        est = PruningLimitEstimator(net, prefit=True, random_state=0).fit(X, y)
    rho, eps = est.pruning_limit_, est.epsilon_

    names = list(select_prunable(net.module_))
    op = HessianOperator(
        net.module_,
        lambda y_pred, y_true: net.get_loss(y_pred, y_true, training=False),
        X,
        y,
        params=names,
        dtype=torch.float64,
    )
    H = np.asarray(dense_hessian(op), dtype=np.float64)
    lam, V = np.linalg.eigh(0.5 * (H + H.T))
    abs_H = (V * np.abs(lam)) @ V.T
    w = op.flat_params().detach().numpy()

    rng = np.random.default_rng(0)
    for _ in range(3):
        below = _quadratic_rise_on_random_subspace(abs_H, w, rho - MARGIN, rng)
        above = _quadratic_rise_on_random_subspace(abs_H, w, rho + MARGIN, rng)
        assert below <= eps < above
