"""PQIndex and sparsity_scorer as GridSearchCV scorers over a skorch classifier."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit.metrics import PQIndex, pq_index, sparsity_scorer
from sparselimit.training import MaskEnforcer


class SeededMLP(nn.Module):
    """64-16-10 MLP whose initial weights depend only on ``seed`` (not on the global RNG)."""

    def __init__(self, seed=0):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)

    def forward(self, X):
        return self.layers(X)


MASKS = {  # fixed random masks, about half of the first layer pruned
    "layers.0.weight": torch.rand(16, 64, generator=torch.Generator().manual_seed(1)) > 0.5,
}


def make_net():
    return NeuralNetClassifier(
        SeededMLP,
        max_epochs=2,
        lr=0.1,
        batch_size=64,
        train_split=None,
        iterator_train__shuffle=False,
        verbose=0,
        callbacks=[MaskEnforcer(MASKS)],
    )


def weights(net):
    return [net.module_.layers[0].weight.detach(), net.module_.layers[2].weight.detach()]


def test_grid_search_reports_pqi_and_sparsity_per_split(digits_small):
    X, y = digits_small
    cv = StratifiedKFold(2)
    scoring = {"acc": "accuracy", "pqi": PQIndex(), "sparsity": sparsity_scorer}
    grid = {"lr": [0.05, 0.2], "module__seed": [0]}
    search = GridSearchCV(make_net(), grid, scoring=scoring, refit="acc", cv=cv, n_jobs=1)
    search.fit(X, y)
    results = search.cv_results_
    assert {"mean_test_acc", "mean_test_pqi", "mean_test_sparsity"} <= set(results)

    # recompute each split's values independently from a refitted copy of the candidate
    n_masked = int((~MASKS["layers.0.weight"]).sum())
    n_total = 16 * 64 + 10 * 16
    for i, params in enumerate(results["params"]):
        for split, (train, _) in enumerate(cv.split(X, y)):
            net = clone(make_net()).set_params(**params).fit(X[train], y[train])
            w0, w1 = weights(net)
            kept = torch.cat([w0[MASKS["layers.0.weight"]], w1.ravel()])
            assert results[f"split{split}_test_pqi"][i] == pytest.approx(
                pq_index(kept), rel=1e-6, abs=1e-9
            )
            zeros = int((w0 == 0).sum() + (w1 == 0).sum())
            assert zeros >= n_masked
            assert results[f"split{split}_test_sparsity"][i] == zeros / n_total

    # the refitted best estimator: masked weights are zero, PQI over the kept ones
    best = search.best_estimator_
    w0, w1 = weights(best)
    assert bool((w0[~MASKS["layers.0.weight"]] == 0).all())
    kept = np.concatenate([w0[MASKS["layers.0.weight"]].numpy(), w1.numpy().ravel()])
    assert PQIndex().score(best) == pytest.approx(pq_index(kept), abs=1e-12)
    # without the masks the zeros count in d, which makes the weights look sparser
    assert PQIndex().score(best.module_) > PQIndex().score(best)
    assert 0.4 < sparsity_scorer(best) < 0.6


class WeightTakingMLP(SeededMLP):
    """skorch passes fit parameters to ``forward``: this module takes ``sample_weight`` (and
    leaves the weighting to a criterion of the user's; here it is unused)."""

    def forward(self, X, sample_weight=None):
        return self.layers(X)


def test_a_search_fitted_with_sample_weight_scores_the_sparsity_scorers_unweighted(digits_small):
    # without metadata routing, scikit-learn asks each scorer of a multi-metric search
    # `_accept_sample_weight()` and failed with AttributeError on PQIndex, sparsity_scorer and
    # RecallDistortionScorer (scikit-learn#31599)
    import warnings

    from sklearn.metrics import accuracy_score

    from sparselimit.metrics import RecallDistortionScorer

    X, y = digits_small
    w = np.random.RandomState(0).rand(len(y))
    net = make_net().set_params(module=WeightTakingMLP)
    reference = clone(net).fit(X, y)
    scoring = {
        "acc": "accuracy",
        "pqi": PQIndex(),
        "sparsity": sparsity_scorer,
        "rd": RecallDistortionScorer(reference),
    }
    cv = StratifiedKFold(2)
    search = GridSearchCV(net, {"lr": [0.1]}, scoring=scoring, refit="acc", cv=cv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y, sample_weight=w)
    # scikit-learn says which scorers score unweighted
    said = " ".join(str(c.message) for c in caught)
    assert all(f"scoring {name}=" in said for name in ("pqi", "sparsity", "rd"))
    results = search.cv_results_
    for split, (train, test) in enumerate(cv.split(X, y)):
        fitted = clone(net).fit(X[train], y[train], sample_weight=w[train])
        pred = fitted.predict(X[test])
        assert results[f"split{split}_test_acc"][0] == pytest.approx(
            accuracy_score(y[test], pred, sample_weight=w[test])
        )
        assert results[f"split{split}_test_pqi"][0] == pytest.approx(PQIndex().score(fitted))
        assert results[f"split{split}_test_sparsity"][0] == sparsity_scorer(fitted)
        rd = RecallDistortionScorer(reference)(fitted, X[test], y[test])
        assert results[f"split{split}_test_rd"][0] == pytest.approx(rd)
