"""GlobalOneShotPruner: the scikit-learn contract, prefit, fine-tuning with masks, bad input."""

import copy
import pickle
import sys
import types

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn

from sparselimit import L1RegularizedClassifier, L1RegularizedRegressor
from sparselimit.pruning import GlobalOneShotPruner

rng = np.random.RandomState(0)
X = rng.randn(120, 8).astype(np.float32)
y = (X[:, 0] - X[:, 1] > 0).astype(np.int64)
y_reg = (X[:, :2].sum(axis=1, keepdims=True)).astype(np.float32)
D = 8 * 16 + 16 * 2


def make_clf(**kw):
    torch.manual_seed(0)
    params = dict(
        criterion=nn.CrossEntropyLoss,
        l1_alpha=1e-3,
        max_epochs=3,
        lr=0.1,
        train_split=None,
        verbose=0,
    )
    params.update(kw)
    return L1RegularizedClassifier(
        nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)), **params
    )


def make_reg(**kw):
    torch.manual_seed(0)
    return L1RegularizedRegressor(
        nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1)),
        l1_alpha=1e-4,
        max_epochs=3,
        lr=0.05,
        train_split=None,
        verbose=0,
        **kw,
    )


def weights(net):
    return {n: p.detach().clone() for n, p in net.module_.named_parameters()}


def test_fit_prunes_a_clone():
    net = make_clf()
    pruner = GlobalOneShotPruner(net, sparsity=0.8).fit(X, y)
    assert not net.initialized_  # the user's estimator was cloned, not fitted
    assert pruner.sparsity_ == round(0.8 * D) / D
    assert pruner.target_sparsity_ == 0.8
    assert set(pruner.layer_sparsity_) == {"0.weight", "2.weight"}
    assert pruner.n_features_in_ == 8
    params = dict(pruner.estimator_.module_.named_parameters())
    for name, mask in pruner.masks_.items():
        assert torch.all(params[name][~mask] == 0)
    assert np.isfinite(pruner.threshold_)
    assert pruner.predict(X).shape == (120,)
    proba = pruner.predict_proba(X)
    np.testing.assert_allclose(pruner.transform(X), proba)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert list(pruner.classes_) == [0, 1]
    assert 0 <= pruner.score(X, y) <= 1
    assert any(name == "pruning_mask_enforcer" for name, _ in pruner.estimator_.callbacks_)


def test_sparsity_zero_and_layer_scope():
    pruner = GlobalOneShotPruner(make_clf(), sparsity=0.0).fit(X, y)
    assert pruner.sparsity_ == 0.0 and pruner.threshold_ == float("-inf")
    pruner = GlobalOneShotPruner(make_clf(), sparsity=0.5, scope="layer").fit(X, y)
    assert pruner.layer_sparsity_ == {"0.weight": 0.5, "2.weight": 0.5}


def test_prefit_takes_a_copy_and_never_mutates_the_user_net():
    net = make_clf().fit(X, y)
    before = weights(net)
    n_hist = len(net.history)
    pruner = GlobalOneShotPruner(net, sparsity=0.9, prefit=True, fine_tune_epochs=2).fit(X, y)
    assert pruner.estimator_ is not net
    for name, w in weights(net).items():
        assert torch.equal(w, before[name])
    assert len(net.history) == n_hist
    assert not any(
        isinstance(cb, tuple) and cb[0] == "pruning_mask_enforcer" for cb in (net.callbacks or [])
    )
    assert pruner.sparsity_ == pytest.approx(round(0.9 * D) / D)
    # re-pruning a pruned net replaces (does not duplicate) the enforcer
    again = GlobalOneShotPruner(pruner.estimator_, sparsity=0.95, prefit=True).fit(X, y)
    names = [cb[0] for cb in again.estimator_.callbacks if isinstance(cb, tuple)]
    assert names.count("pruning_mask_enforcer") == 1


def test_prefit_unfitted_raises():
    with pytest.raises(NotFittedError, match=r"prefit=True .* not fitted.*estimator.fit\(X, y\)"):
        GlobalOneShotPruner(make_clf(), prefit=True).fit(X, y)


def test_fine_tuning_with_momentum_keeps_pruned_weights_exactly_zero():
    net = make_clf(optimizer=torch.optim.SGD, optimizer__momentum=0.9, lr=0.2).fit(X, y)
    pruned = GlobalOneShotPruner(net, sparsity=0.7, prefit=True).fit(X, y)
    tuned = GlobalOneShotPruner(net, sparsity=0.7, prefit=True, fine_tune_epochs=4).fit(X, y)
    for name in pruned.masks_:
        assert torch.equal(pruned.masks_[name], tuned.masks_[name])
    assert len(tuned.estimator_.history) == len(net.history) + 4
    w0, w1 = weights(pruned.estimator_), weights(tuned.estimator_)
    changed = False
    for name, mask in tuned.masks_.items():
        assert torch.all(w1[name][~mask] == 0)
        changed |= not torch.equal(w0[name][mask], w1[name][mask])
    assert changed  # fine-tuning did train the kept weights
    # and further training of estimator_ keeps the masks too
    tuned.estimator_.partial_fit(X, y, epochs=2)
    for name, mask in tuned.masks_.items():
        assert torch.all(weights(tuned.estimator_)[name][~mask] == 0)


def test_regressor():
    pruner = GlobalOneShotPruner(make_reg(), sparsity=0.5).fit(X, y_reg)
    assert is_regressor(pruner) and not is_classifier(pruner)
    assert pruner.transform(X).shape == (120, 1)
    assert pruner.predict(X).shape == (120, 1)
    assert isinstance(pruner.score(X, y_reg), float)
    assert not hasattr(pruner, "classes_")


def test_tags_and_not_fitted():
    pruner = GlobalOneShotPruner(make_clf())
    assert is_classifier(pruner)
    # the default net (estimator=None) is a classifier until fit has seen a floating y
    assert is_classifier(GlobalOneShotPruner())
    for method in ("predict", "predict_proba", "transform"):
        with pytest.raises(NotFittedError):
            getattr(pruner, method)(X)
    with pytest.raises(NotFittedError):
        pruner.score(X, y)
    assert not hasattr(pruner, "classes_")


def test_clone_pickle_deepcopy_before_and_after_fit():
    pruner = GlobalOneShotPruner(make_clf(), sparsity=0.6, fine_tune_epochs=1)
    for other in (clone(pruner), pickle.loads(pickle.dumps(pruner)), copy.deepcopy(pruner)):
        assert other.get_params()["sparsity"] == 0.6
    pruner.fit(X, y)
    expected = pruner.predict_proba(X)
    for other in (pickle.loads(pickle.dumps(pruner)), copy.deepcopy(pruner)):
        np.testing.assert_allclose(other.predict_proba(X), expected, rtol=1e-6)
        assert other.sparsity_ == pruner.sparsity_
        for n in pruner.masks_:
            assert torch.equal(other.masks_[n], pruner.masks_[n])
    fresh = clone(pruner)
    assert not hasattr(fresh, "estimator_")
    assert fresh.fit(X, y).sparsity_ == pruner.sparsity_


@pytest.mark.parametrize(
    "params, exc, match",
    [
        ({"sparsity": 1.0}, InvalidParameterError, r"'sparsity' parameter .* \[0.0, 1.0\).*auto"),
        ({"sparsity": -0.5}, InvalidParameterError, "'sparsity'"),
        ({"sparsity": "max"}, InvalidParameterError, "'sparsity'"),
        ({"scope": "neuron"}, InvalidParameterError, "'scope'"),
        ({"fine_tune_epochs": -1}, InvalidParameterError, "'fine_tune_epochs'"),
        ({"prefit": "yes"}, InvalidParameterError, "'prefit'"),
        ({"importance": "hessian"}, ValueError, r"`importance` must be one of \['magnitude'"),
        ({"include": r"^nothing$"}, ValueError, "No prunable parameters"),
    ],
)
def test_bad_params(params, exc, match):
    with pytest.raises(exc, match=match):
        GlobalOneShotPruner(make_clf(), **params).fit(X, y)


def test_bad_estimator_and_data():
    with pytest.raises(ValueError, match="prefit=True needs the fitted skorch net"):
        GlobalOneShotPruner(prefit=True).fit(X, y)
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="skorch net"):
        GlobalOneShotPruner(LogisticRegression()).fit(X, y)
    with pytest.raises(TypeError, match="skorch net"):
        GlobalOneShotPruner(LogisticRegression().fit(X, y), prefit=True).fit(X, y)
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="`X` contains NaN"):
        GlobalOneShotPruner(make_clf()).fit(X_nan, y)
    with pytest.raises(ValueError, match="same number of samples; got 120 and 100"):
        GlobalOneShotPruner(make_clf()).fit(X, y[:100])


def test_predict_checks_its_input_like_scikit_learn():
    pruner = GlobalOneShotPruner(make_clf(), sparsity=0.5).fit(X, y)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    for method in ("predict", "predict_proba", "transform"):
        with pytest.raises(ValueError, match="`X` contains NaN"):
            getattr(pruner, method)(X_nan)
        with pytest.raises(
            ValueError, match="X has 5 features, but GlobalOneShotPruner is expecting"
        ):
            getattr(pruner, method)(X[:, :5])
    with pytest.raises(ValueError, match="X has 5 features"):
        pruner.score(X[:, :5], y)


def test_non_finite_weights():
    net = make_clf().fit(X, y)
    with torch.no_grad():
        net.module_[2].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="'2.weight' of the fitted .* NaN or infinity"):
        GlobalOneShotPruner(net, prefit=True).fit(X, y)


def test_auto_sparsity_wiring_with_a_stub(monkeypatch):
    """The "auto" path, independent of sparselimit.limit's implementation."""

    class StubLimit:
        def __init__(self, estimator=None, prefit=False, n_probes=1, include=None, exclude=None):
            self.estimator, self.prefit = estimator, prefit
            self.params = {"n_probes": n_probes, "include": include, "exclude": exclude}

        def fit(self, X, y):
            assert self.prefit and self.estimator.initialized_
            self.pruning_limit_ = 0.625
            return self

    stub = types.ModuleType("sparselimit.limit")
    stub.PruningLimitEstimator = StubLimit
    monkeypatch.setitem(sys.modules, "sparselimit.limit", stub)
    monkeypatch.setattr("sparselimit.limit", stub, raising=False)
    pruner = GlobalOneShotPruner(make_clf(), sparsity="auto", limit_params={"n_probes": 1})
    pruner.fit(X, y)
    assert pruner.target_sparsity_ == 0.625
    assert pruner.sparsity_ == round(0.625 * D) / D
    # the pruner's own selection goes along: the limit is about the weights it prunes
    assert pruner.limit_estimator_.params == {"n_probes": 1, "include": None, "exclude": None}


@pytest.mark.filterwarnings("default")  # keeps the simplefilter below local to this test
def test_auto_sparsity_with_the_real_limit_estimator():
    import warnings

    from sparselimit import limit

    warnings.simplefilter("ignore", limit.LimitRegimeWarning)
    pruner = GlobalOneShotPruner(
        make_clf(),
        sparsity="auto",
        limit_params={
            "n_lanczos_steps": 8,
            "n_probes": 1,
            "epsilon_batch_size": 32,
            "random_state": 0,
        },
    ).fit(X, y)
    assert 0.0 <= pruner.target_sparsity_ < 1.0
    assert pruner.limit_estimator_.pruning_limit_ == pruner.target_sparsity_
    assert pruner.sparsity_ == pytest.approx(pruner.target_sparsity_, abs=1 / D)
