"""The same random_state gives the same results whether fits run one after another, in threads
(joblib's threading backend, a dask cluster with processes=False) or in processes (loky), and
predicting or scoring leaves torch's global RNG where the user left it.

torch's global RNG is one per process: seeded fits in concurrent threads used to interleave
their draws and restore each other's saved states, so a threaded GridSearchCV gave other
scores than n_jobs=1."""

import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from torch import nn

from sparselimit import (
    GlobalOneShotPruner,
    HessianSpectrum,
    IterativePruner,
    L1RegularizedClassifier,
    PruningLimitEstimator,
    measure_pruning_curve,
)
from sparselimit.metrics._recall import recall_distortion_curve
from sparselimit.pruning import undecayed_importance
from sparselimit.training import MLP


def make_data(n=160, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d).astype(np.float32)
    y = ((X[:, 0] + 0.5 * X[:, 1] - 0.3 * X[:, 2]) > 0).astype(np.int64)
    return X, y


def make_net(**kw):
    # a module class: the net initialises its weights from the global RNG at fit, and the
    # shuffled batches draw from it every epoch, so both depend on the seeding
    params = dict(
        module__n_features=6,
        module__n_outputs=2,
        module__hidden=(8,),
        criterion=nn.CrossEntropyLoss,
        l1_alpha=1e-3,
        lr=0.1,
        max_epochs=4,
        batch_size=16,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )
    return L1RegularizedClassifier(MLP, **{**params, **kw})


def make_pruner():
    return GlobalOneShotPruner(make_net(), sparsity=0.5, fine_tune_epochs=1, random_state=0)


GRID = {"estimator__l1_alpha": [1e-4, 1e-2]}


def search_scores(**kw):
    X, y = make_data()
    search = GridSearchCV(make_pruner(), GRID, cv=KFold(2), **kw).fit(X, y)
    res = search.cv_results_
    return [res[f"split{i}_test_score"].tolist() for i in range(2)]


JOBS = {
    "pruner": lambda X, y: make_pruner().fit(X, y).predict_proba(X),
    "limit": lambda X, y: (
        PruningLimitEstimator(make_net(), n_lanczos_steps=8, random_state=1)
        .fit(X, y)
        .spectrum_.nodes
    ),
    "iterative": lambda X, y: (
        IterativePruner(make_net(max_epochs=2), n_rounds=1, verbose=0, random_state=2)
        .fit(X, y)
        .predict_proba(X)
    ),
    "spectrum": lambda X, y: (
        HessianSpectrum(
            make_pruner().fit(X, y).estimator_, prefit=True, n_lanczos_steps=8, random_state=3
        )
        .fit(X, y)
        .spectrum_.nodes
    ),
}


def test_seeded_fits_in_threads_match_sequential_fits():
    X, y = make_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # regime warnings of the tiny nets
        expected = [job(X, y) for job in JOBS.values()]
        got = joblib.Parallel(n_jobs=4, backend="threading")(
            joblib.delayed(job)(X, y) for job in JOBS.values()
        )
    for name, a, b in zip(JOBS, expected, got):
        np.testing.assert_array_equal(b, a, err_msg=name)


def test_grid_search_on_dask_threads_matches_n_jobs_1():
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster

    expected = search_scores(n_jobs=1)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster),
        joblib.parallel_backend("dask"),
    ):
        got = search_scores(n_jobs=2)
    assert got == expected


@pytest.mark.slow  # ~20 s: starting two loky workers that import torch dominates
def test_cross_val_score_in_processes_matches_n_jobs_1():
    X, y = make_data()
    expected = cross_val_score(make_pruner(), X, y, cv=KFold(2), n_jobs=1)
    got = cross_val_score(make_pruner(), X, y, cv=KFold(2), n_jobs=2)
    np.testing.assert_array_equal(got, expected)


@pytest.fixture(scope="module")
def fitted():
    X, y = make_data()
    return make_pruner().fit(X, y), X, y


CALLS = {
    "predict": lambda p, X, y: p.predict(X),
    "predict_proba": lambda p, X, y: p.predict_proba(X),
    "transform": lambda p, X, y: p.transform(X),
    "score": lambda p, X, y: p.score(X, y),
    "curve_with_scoring": lambda p, X, y: measure_pruning_curve(
        p.estimator_, X, y, sparsities=[0.0, 0.5], scoring="accuracy"
    ),
    "curve_of_a_list": lambda p, X, y: measure_pruning_curve(
        p.estimator_, X.tolist(), y, sparsities=[0.0, 0.5]
    ),
    "recall_distortion_curve": lambda p, X, y: recall_distortion_curve(p.estimator_, X, y, [0.5]),
    "undecayed_importance": lambda p, X, y: undecayed_importance(p.estimator_, None, X, y),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_predicting_and_scoring_leave_the_global_rng_alone(call, fitted):
    pruner, X, y = fitted
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    CALLS[call](pruner, X, y)
    torch.testing.assert_close(torch.rand(4), expected)
