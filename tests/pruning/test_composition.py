"""GlobalOneShotPruner inside Pipeline / GridSearchCV (joblib processes and a dask cluster)."""

import numpy as np
import pytest
import torch
from sklearn.base import is_classifier
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sparselimit import L1RegularizedClassifier
from sparselimit.metrics import PQIndex, sparsity_scorer
from sparselimit.pruning import GlobalOneShotPruner

ACC_TOL = 0.05


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y.astype(np.int64)  # StandardScaler keeps float32


def make_pipeline(**pruner_params):
    net = L1RegularizedClassifier(
        nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        lr=0.05,
        batch_size=128,
        max_epochs=4,
        l1_alpha=1e-4,
        train_split=None,
        verbose=0,
    )
    return Pipeline(
        [("scale", StandardScaler()), ("prune", GlobalOneShotPruner(net, **pruner_params))]
    )


def sparsest_within_tolerance(cv_results):
    """refit callable: the sparsest candidate whose mean accuracy is within ACC_TOL of the best.

    scikit-learn calls it with ``cv_results_`` and uses the returned int as ``best_index_``.
    """
    acc = np.asarray(cv_results["mean_test_accuracy"])
    sparsity = np.asarray(cv_results["mean_test_sparsity"])
    ok = np.flatnonzero(acc >= acc.max() - ACC_TOL)
    best = ok[np.lexsort((-acc[ok], -sparsity[ok]))[0]]  # most sparse, then most accurate
    return int(best)


SCORING = {"accuracy": "accuracy", "pq": PQIndex(), "sparsity": sparsity_scorer}
GRID = {"prune__estimator__l1_alpha": [1e-5, 1e-4], "prune__sparsity": [0.5, 0.8]}


def check_search(search, X, y):
    res = search.cv_results_
    assert search.best_index_ == sparsest_within_tolerance(res)
    assert set(search.best_params_) == set(GRID)
    for key in ("mean_test_accuracy", "mean_test_pq", "mean_test_sparsity"):
        assert np.all(np.isfinite(res[key])), key
    # the sparsity scorer sees the pruned net: exact zeros >= the pruned fraction
    for target, s in zip(res["param_prune__sparsity"], res["mean_test_sparsity"]):
        assert s >= target - 1e-3
    best = search.best_estimator_
    assert best[-1].sparsity_ == pytest.approx(search.best_params_["prune__sparsity"], abs=1e-3)
    assert search.predict(X[:5]).shape == (5,)


def test_pipeline(digits):
    X, y = digits
    pipe = make_pipeline(sparsity=0.6, fine_tune_epochs=1).fit(X, y)
    assert is_classifier(pipe)
    assert pipe.score(X, y) > 0.7
    assert pipe[-1].sparsity_ == pytest.approx(0.6, abs=1e-3)
    assert pipe.predict_proba(X[:3]).shape == (3, 10)
    assert 0 < PQIndex()(pipe, X, y) < 1
    # and as a non-final step: its output (class probabilities) feeds the next estimator
    from sklearn.linear_model import LogisticRegression

    stacked = Pipeline(
        [
            ("scale", StandardScaler()),
            ("prune", make_pipeline(sparsity=0.5)[-1]),
            ("head", LogisticRegression(max_iter=200)),
        ]
    ).fit(X, y)
    assert stacked.score(X, y) > 0.7


@pytest.mark.slow  # ~20 s: starting two loky workers that import torch dominates
def test_grid_search_joblib_processes(digits):
    X, y = digits
    search = GridSearchCV(
        make_pipeline(), GRID, scoring=SCORING, refit=sparsest_within_tolerance, cv=3, n_jobs=2
    ).fit(X, y)
    check_search(search, X, y)


@pytest.mark.slow
def test_grid_search_dask_cluster(digits):
    pytest.importorskip("dask.distributed")
    import joblib
    from dask.distributed import Client, LocalCluster

    X, y = digits
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster),
        joblib.parallel_backend("dask"),
    ):  # inproc://, no sockets
        search = GridSearchCV(
            make_pipeline(),
            GRID,
            scoring=SCORING,
            refit=sparsest_within_tolerance,
            cv=3,
            n_jobs=2,
        ).fit(X, y)
    check_search(search, X, y)
