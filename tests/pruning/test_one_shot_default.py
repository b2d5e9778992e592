"""GlobalOneShotPruner(estimator=None): the default net, the user's labels, tags, clone/pickle."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.datasets import load_iris
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import KFold, cross_val_score

from sparselimit import L1RegularizedClassifier, L1RegularizedRegressor
from sparselimit.pruning import GlobalOneShotPruner

IRIS = load_iris()
X = IRIS.data  # float64, as users pass it: the default net casts to float32
NAMES = IRIS.target_names[IRIS.target]
XS = (X - X.mean(axis=0)) / X.std(axis=0)  # the default regressor's SGD wants unit scale


def n_prunable(n_features, n_outputs):
    return n_features * 32 + 32 * n_outputs  # the default MLP's two weight matrices


def zeros(pruner):
    module = pruner.estimator_.module_
    return sum(int((module.get_parameter(n) == 0).sum()) for n in pruner.masks_)


@pytest.mark.parametrize(
    "labels, classes",
    [
        (NAMES, ["setosa", "versicolor", "virginica"]),
        (np.array([7, 3, 3])[IRIS.target], [3, 7]),  # two classes, not 0..n-1
    ],
    ids=["strings", "3-and-7"],
)
def test_default_net_keeps_the_users_labels(labels, classes):
    pruner = GlobalOneShotPruner(sparsity=0.6, random_state=0).fit(X, labels)
    assert isinstance(pruner.estimator_, L1RegularizedClassifier)
    assert pruner.estimator_.l1_alpha == 1e-4
    assert is_classifier(pruner) and not is_regressor(pruner)
    np.testing.assert_array_equal(pruner.classes_, classes)
    pred = pruner.predict(X)
    assert pred.shape == (150,) and pred.dtype == np.asarray(labels).dtype
    assert set(pred) <= set(classes)
    # columns of predict_proba / transform follow classes_: their argmax is the prediction
    proba = pruner.predict_proba(X)
    assert proba.shape == (150, len(classes))
    np.testing.assert_array_equal(pruner.classes_[proba.argmax(axis=1)], pred)
    np.testing.assert_allclose(pruner.transform(X), proba)
    # the inner net works on codes; the pruner answers in labels
    np.testing.assert_array_equal(pruner.classes_[pruner.estimator_.predict(X.astype("f4"))], pred)
    score = pruner.score(X, labels)
    assert score == accuracy_score(labels, pred)
    assert score > 0.8  # the default net learns iris, pruned to 60% or not
    # sparsity as asked, counted on the weights themselves
    D = n_prunable(4, len(classes))
    assert pruner.sparsity_ == round(0.6 * D) / D
    assert zeros(pruner) >= round(0.6 * D)
    assert pruner.n_features_in_ == 4
    # the default net takes 2-D numbers in any form, checked as arrays are
    np.testing.assert_array_equal(pruner.predict(X[:5].tolist()), pred[:5])
    with pytest.raises(ValueError, match="`X` contains NaN"):
        pruner.predict([[1.0, 2.0, float("nan"), 0.5]])
    with pytest.raises(
        ValueError, match="X has 3 features, but GlobalOneShotPruner is expecting 4 features"
    ):
        pruner.predict_proba(X[:5, :3].tolist())


def test_default_net_float_target_is_a_regressor():
    Xr, y = XS[:, :3], XS[:, 3]  # petal width from the other three measurements
    pruner = GlobalOneShotPruner(sparsity=0.5, random_state=0).fit(Xr, y)
    assert isinstance(pruner.estimator_, L1RegularizedRegressor)
    assert is_regressor(pruner) and not is_classifier(pruner)
    assert not hasattr(pruner, "classes_")
    pred = pruner.predict(Xr)
    assert pred.shape == (150,)  # the shape of y, though the net trains on a column
    assert pruner.transform(Xr).shape == (150, 1)
    assert pruner.score(Xr, y) == pytest.approx(r2_score(y, pred))
    assert pruner.score(Xr, y) > 0.5
    assert pruner.sparsity_ == round(0.5 * n_prunable(3, 1)) / n_prunable(3, 1)
    # a column y gets column predictions
    col = GlobalOneShotPruner(sparsity=0.5, random_state=0).fit(Xr, y[:, None])
    assert col.predict(Xr).shape == (150, 1)


def test_default_net_errors():
    with pytest.raises(ValueError, match="only one class"):
        GlobalOneShotPruner().fit(X, np.full(150, "setosa"))
    with pytest.raises(ValueError, match=r"prefit=True needs the fitted skorch net as `estim"):
        GlobalOneShotPruner(prefit=True).fit(X, NAMES)
    with pytest.raises(ValueError, match="requires y to be passed"):
        GlobalOneShotPruner().fit(X)
    with pytest.raises(ValueError, match=r"labels must be of shape \(n_samples,\)"):
        GlobalOneShotPruner().fit(X, np.stack([np.arange(150) % 3, np.arange(150) % 2], 1))
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        GlobalOneShotPruner().fit(X.reshape(150, 2, 2), NAMES)
    with pytest.raises(ValueError, match="Standardise y"):  # diverges at lr 0.05
        GlobalOneShotPruner().fit(XS, 1e6 * XS[:, 0])


def test_default_net_clone_pickle_and_seeding():
    pruner = GlobalOneShotPruner(sparsity=0.7, random_state=0)
    assert clone(pruner).get_params()["estimator"] is None
    state = torch.get_rng_state()
    pruner.fit(X, NAMES)
    assert torch.equal(torch.get_rng_state(), state)  # the user's global RNG is left alone
    expected = pruner.predict(X)
    for other in (pickle.loads(pickle.dumps(pruner)), copy.deepcopy(pruner)):
        np.testing.assert_array_equal(other.predict(X), expected)
        np.testing.assert_array_equal(other.classes_, pruner.classes_)
        assert other.score(X, NAMES) == pruner.score(X, NAMES)
        assert is_classifier(other)
    fresh = clone(pruner)
    assert not hasattr(fresh, "estimator_")
    assert is_classifier(fresh) and not is_regressor(fresh)  # labels: the common case
    np.testing.assert_array_equal(fresh.fit(X, NAMES).predict_proba(X), pruner.predict_proba(X))
    other_seed = GlobalOneShotPruner(sparsity=0.7, random_state=1).fit(X, NAMES)
    assert not np.allclose(other_seed.predict_proba(X), pruner.predict_proba(X))


def test_default_net_in_cross_validation():
    # unfitted, the pruner has `score` (scikit-learn's default scoring needs it) and is tagged
    # a classifier, so cross_val_score stratifies: iris is sorted by class, and plain KFold
    # would leave a class out of each training fold (accuracy about 1/3 or below)
    scores = cross_val_score(GlobalOneShotPruner(sparsity=0.5, random_state=0), X, NAMES, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.6)
    # a floating target takes an explicit KFold and is scored by R²
    Xs = (X - X.mean(0)) / X.std(0)
    target = Xs[:, 0] - 0.5 * Xs[:, 1]
    r2 = cross_val_score(
        GlobalOneShotPruner(sparsity=0.3, random_state=0),
        Xs[:, 2:],
        target,
        cv=KFold(3, shuffle=True, random_state=0),
    )
    assert r2.shape == (3,) and np.all(np.isfinite(r2))


@pytest.mark.filterwarnings("default")  # keeps the simplefilter below local to this test
def test_default_net_with_auto_sparsity():
    from sparselimit.limit import LimitRegimeWarning

    warnings.simplefilter("ignore", LimitRegimeWarning)
    pruner = GlobalOneShotPruner(
        sparsity="auto",
        random_state=0,
        limit_params={"spectrum": "exact", "epsilon_batch_size": 32},
    ).fit(X, NAMES)
    limit = pruner.limit_estimator_
    assert limit.random_state == 0  # the pruner's seed, as limit_params gave none
    # it took the trained net (fitted on the encoded labels), and is told the labels, so that
    # measure_pruning_curve(limit, X, NAMES) encodes them
    np.testing.assert_array_equal(limit.classes_, IRIS.target_names)
    assert pruner.target_sparsity_ == limit.pruning_limit_
    D = n_prunable(4, 3)
    assert pruner.sparsity_ == round(limit.pruning_limit_ * D) / D
    assert set(pruner.predict(X)) <= set(IRIS.target_names)


def test_fit_transform_is_fit_then_transform_and_tags_say_dtype_not_kept():
    from sklearn.utils import get_tags

    X = np.random.RandomState(0).randn(40, 4)
    y = np.arange(40) % 2
    fitted = GlobalOneShotPruner(sparsity=0.5, random_state=0)
    Xt = fitted.fit_transform(X, y)
    np.testing.assert_array_equal(Xt, fitted.transform(X))
    other = GlobalOneShotPruner(sparsity=0.5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(Xt, other.transform(X))
    assert Xt.shape == (40, 2) and Xt.dtype == np.float32  # the net's output, not X's float64
    assert get_tags(fitted).transformer_tags.preserves_dtype == []


def test_default_net_input_errors_and_sparse_X():
    import scipy.sparse as sp

    y = np.arange(40) % 2
    with pytest.raises(ValueError, match=r"0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1"):
        GlobalOneShotPruner(sparsity=0.5).fit(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match="must be numeric.*OneHotEncoder"):
        GlobalOneShotPruner(sparsity=0.5).fit(np.full((40, 2), "a"), y)
    with pytest.raises(TypeError, match=r"got a dict with keys \['a'\].*own skorch net"):
        GlobalOneShotPruner(sparsity=0.5).fit({"a": np.zeros((40, 2))}, y)
    X = sp.random(40, 5, density=0.5, format="csr", random_state=0)
    sparse = GlobalOneShotPruner(sparsity=0.5, random_state=0).fit(X, y)
    dense = GlobalOneShotPruner(sparsity=0.5, random_state=0).fit(X.toarray(), y)
    np.testing.assert_array_equal(sparse.predict_proba(X), dense.predict_proba(X.toarray()))


def test_fit_parameters_for_the_default_net_are_refused_by_name():
    # skorch passed them to the default MLP's forward: "MLP.forward() got an unexpected
    # keyword argument 'sample_weight'", a module the user never wrote; GridSearchCV.fit(X, y,
    # sample_weight=w) does this for every candidate
    from sklearn.model_selection import GridSearchCV

    w = np.ones(len(NAMES))
    pruner = GlobalOneShotPruner(sparsity=0.5, random_state=0)
    with pytest.raises(TypeError, match=r"estimator=None.*\['sample_weight'\].*own skorch net"):
        pruner.fit(X, NAMES, sample_weight=w)
    search = GridSearchCV(pruner, {"sparsity": [0.5]}, cv=2, error_score="raise")
    with pytest.raises(TypeError, match=r"estimator=None, fit takes no fit parameters"):
        search.fit(X, NAMES, sample_weight=w)
