"""scikit-learn's contract for every public estimator of sparselimit, around a user's net.

``tests/test_sklearn_compat.py`` runs scikit-learn's estimator checks on the estimators that
train the default net (``estimator=None``); here they run on every estimator around a user's
skorch net, on the L1 nets themselves, and on ``PQIndex``'s parameter API. A net that takes any
number of features (``AnyWidth``) lets the checks vary the feature count. Each expected failure
names the design it comes from; ``xfail_strict`` makes one that starts passing fail the suite,
so the lists change with the design. Then searches, pipelines, scorers, metadata routing and
the reprs.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.metrics import accuracy_score, balanced_accuracy_score, make_scorer
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    RandomizedSearchCV,
    StratifiedKFold,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch import NeuralNetRegressor
from torch import nn

from sparselimit import (
    GlobalOneShotPruner,
    HessianSpectrum,
    IterativePruner,
    L1RegularizedClassifier,
    L1RegularizedRegressor,
    PQIndex,
    PruningLimitEstimator,
)
from sparselimit.blocks import BlockSparsifier
from sparselimit.metrics import RecallDistortionScorer, achieved_sparsity, sparsity_scorer


class AnyWidth(nn.Module):
    """A net for any number of features (the checks vary it): the columns are folded onto
    ``width`` inputs by a fixed sum, then one hidden ReLU layer. Integer features are cast to
    the weights' dtype; complex ones are left to fail in torch, as in any real net."""

    def __init__(self, n_outputs=1, width=4, hidden=8):
        super().__init__()
        self.width = width
        self.hidden = nn.Linear(width, hidden)
        self.out = nn.Linear(hidden, n_outputs)

    def forward(self, X):
        if not X.is_complex():
            X = X.to(self.hidden.weight.dtype)
        X = X.reshape(len(X), -1)
        X = nn.functional.pad(X, (0, -X.shape[1] % self.width))
        return self.out(torch.relu(self.hidden(X.reshape(len(X), -1, self.width).sum(1))))


class WideAnyWidth(AnyWidth):
    """16 hidden units (a class, not ``module__hidden``: a second ``module__`` parameter puts a
    set of two names in skorch's repr, the test id, whose order varies between processes)."""

    def __init__(self, n_outputs=1, width=4, hidden=16):
        super().__init__(n_outputs, width, hidden)


class BinaryL1Classifier(L1RegularizedClassifier):
    """A two-output classifier, tagged as one (so the checks train it on two classes)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


_FIT = dict(max_epochs=2, lr=0.05, train_split=None, verbose=0, batch_size=64)


def regressor(**kw):
    return L1RegularizedRegressor(AnyWidth, **{**_FIT, **kw})


def classifier(module=AnyWidth, **kw):  # trained long enough for the checks' accuracy bar
    params = {**_FIT, "max_epochs": 10, "lr": 0.1, **kw}
    return BinaryL1Classifier(module, module__n_outputs=2, criterion=nn.CrossEntropyLoss, **params)


_QUICK_BLOCKS = dict(
    block_size=(1, 2),
    min_blocks=1,
    sparsity=0.5,
    dense_epochs=1,
    sparsify_epochs=1,
    sparse_epochs=1,
    finetune_epochs=1,
    random_state=0,
)
_IMP = dict(n_rounds=1, verbose=0, random_state=0)

# -- the expected failures, by the design they come from --------------------------------------

_X_AS_IS = "X goes to the user's net as it is"
_AROUND_ANY_NET = {
    "check_complex_data": f"{_X_AS_IS}: torch refuses complex data with its own error",
    "check_dtype_object": f"{_X_AS_IS}: an object array fails in torch's collate",
    "check_fit1d": f"{_X_AS_IS}: a 1-D X is input for some nets (nn.Embedding indices)",
}
_PREDICTING = {
    **_AROUND_ANY_NET,
    "check_fit2d_predict1d": _AROUND_ANY_NET["check_fit1d"],
    "check_supervised_y_2d": (
        "a y column is what skorch nets train on (a one-output regressor's target, labels of "
        "shape (n, 1)), without a DataConversionWarning"
    ),
}
_NOT_AN_ARRAY = (
    "skorch takes arrays, tensors, lists, pandas and scipy.sparse, not any object with __array__"
)
_REGRESSING = {
    **dict.fromkeys(
        [
            "check_regressors_train",
            "check_regressors_no_decision_function",
            "check_estimator_sparse_array",
            "check_estimator_sparse_matrix",
        ],
        "a one-output skorch regressor predicts shape (n, 1), and so does the estimator",
    ),
    "check_regressor_data_not_an_array": _NOT_AN_ARRAY,
}
_CLASSIFYING = {
    "check_classifier_data_not_an_array": _NOT_AN_ARRAY,
    "check_classifiers_classes": (
        "a skorch classifier trains on class codes 0..n-1: string labels are a TypeError "
        "naming LabelEncoder"
    ),
    "check_estimators_dtypes": "the check trains on 3 classes: the 2-output net names label 2",
    "check_fit2d_1feature": "the check trains on 3 classes: the 2-output net names label 2",
    "check_classifier_not_supporting_multiclass": (
        "the 2-output net refuses a third class in its own words (label 2 for 2 outputs)"
    ),
}
_SKORCH_NET = {  # the L1 nets are skorch nets
    "check_no_attributes_set_in_init": "skorch sets history_, initialized_ in __init__",
    "check_n_features_in_after_fitting": "skorch nets record no n_features_in_",
    "check_n_features_in": "skorch nets record no n_features_in_",
    "check_estimators_partial_fit_n_features": "skorch leaves the feature count to the module",
    "check_estimators_nan_inf": "skorch leaves values to the net (a criterion may mask NaN)",
    "check_supervised_y_no_nan": "skorch leaves values to the net (a criterion may mask NaN)",
    "check_fit_idempotent": "skorch nets have no random_state: each fit draws from torch's RNG",
    "check_set_params": "skorch 1.4 lists _params_to_validate in get_params; setting it fails",
    "check_requires_y_none": (
        "skorch's own error for y=None (valid with a Dataset X): supply a DataLoader"
    ),
}
_SKORCH_REGRESSOR = {
    **_SKORCH_NET,
    "check_regressors_int": "skorch nets have no random_state: each fit draws from torch's RNG",
}
_SKORCH_CLASSIFIER = {
    **_SKORCH_NET,
    "check_classifiers_train": "skorch leaves the feature count to the module (at predict too)",
}

_ESTIMATORS = {  # id -> (estimator, expected failures)
    "IterativePruner-fixed": (
        IterativePruner(regressor(), schedule="fixed", **_IMP),
        {**_PREDICTING, **_REGRESSING, "check_transformer_data_not_an_array": _NOT_AN_ARRAY},
    ),
    "IterativePruner-sap": (
        IterativePruner(regressor(), schedule="sap", **_IMP),
        {**_PREDICTING, **_REGRESSING, "check_transformer_data_not_an_array": _NOT_AN_ARRAY},
    ),
    "IterativePruner-undecayed": (
        IterativePruner(regressor(), schedule="fixed", importance="undecayed", **_IMP),
        {**_PREDICTING, **_REGRESSING, "check_transformer_data_not_an_array": _NOT_AN_ARRAY},
    ),
    "IterativePruner-sap-layer-classifier": (
        IterativePruner(classifier(), schedule="sap", scope="layer", **_IMP),
        {**_PREDICTING, **_CLASSIFYING, "check_transformer_data_not_an_array": _NOT_AN_ARRAY},
    ),
    "GlobalOneShotPruner-regressor": (
        GlobalOneShotPruner(regressor(), sparsity=0.5, fine_tune_epochs=1, random_state=0),
        {**_PREDICTING, **_REGRESSING, "check_transformer_data_not_an_array": _NOT_AN_ARRAY},
    ),
    "GlobalOneShotPruner-classifier": (
        GlobalOneShotPruner(classifier(), sparsity=0.5, importance="undecayed", random_state=0),
        {**_PREDICTING, **_CLASSIFYING, "check_transformer_data_not_an_array": _NOT_AN_ARRAY},
    ),
    "BlockSparsifier-regressor": (  # l1_alpha=0: the L1 penalty does not see block weights
        BlockSparsifier(regressor(l1_alpha=0.0), **_QUICK_BLOCKS),
        {**_PREDICTING, **_REGRESSING, "check_transformer_data_not_an_array": _NOT_AN_ARRAY},
    ),
    "BlockSparsifier-classifier": (  # 16 units: 8 leave too few alive for the accuracy bar
        BlockSparsifier(classifier(l1_alpha=0.0, module=WideAnyWidth), **_QUICK_BLOCKS),
        {**_PREDICTING, **_CLASSIFYING, "check_transformer_data_not_an_array": _NOT_AN_ARRAY},
    ),
    "HessianSpectrum": (
        HessianSpectrum(regressor(), n_lanczos_steps=4, random_state=0),
        _AROUND_ANY_NET,  # y=None: the "requires y to be passed" error scikit-learn expects
    ),
    "PruningLimitEstimator": (
        PruningLimitEstimator(regressor(), n_lanczos_steps=4, random_state=0),
        _AROUND_ANY_NET,  # y=None: the "requires y to be passed" error scikit-learn expects
    ),
    "L1RegularizedRegressor": (regressor(), {**_PREDICTING, **_REGRESSING, **_SKORCH_REGRESSOR}),
    "L1RegularizedClassifier": (
        classifier(),
        {**_PREDICTING, **_CLASSIFYING, **_SKORCH_CLASSIFIER},
    ),
}
_EXPECTED = {id(est): failures for est, failures in _ESTIMATORS.values()}
# variants of what the fast set already runs (schedule, importance, fine-tuning)
_SLOW = {"IterativePruner-fixed", "IterativePruner-undecayed", "GlobalOneShotPruner-regressor"}


def _check_name(check):
    return getattr(check, "func", check).__name__


@parametrize_with_checks([est for k, (est, _) in _ESTIMATORS.items() if k not in _SLOW])
def test_sklearn_estimator_checks(estimator, check):
    _run_check(estimator, check)


@pytest.mark.slow
@parametrize_with_checks([est for k, (est, _) in _ESTIMATORS.items() if k in _SLOW])
def test_sklearn_estimator_checks_of_more_variants(estimator, check):
    _run_check(estimator, check)


def _run_check(estimator, check):
    # the expected failures are handled here rather than by `expected_failed_checks`: pytest
    # would format each one's traceback through scikit-learn's 5,000-line module (~0.3 s each)
    reason = _EXPECTED[id(estimator)].get(_check_name(check))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # regime and Lanczos warnings on the checks' data
        if reason is None:
            check(estimator)
            return
        try:
            check(estimator)
        except Exception:
            failed = True
        else:
            failed = False
    if failed:  # outside the except block: no chained traceback to format
        pytest.xfail(reason)
    # strict: when the design changes, the list must change with it
    pytest.fail(f"{_check_name(check)} is listed as failing ({reason!r}) but passes")


@pytest.mark.parametrize("name", _ESTIMATORS)
def test_every_expected_failure_names_a_check_that_runs(name):
    # a check renamed or dropped by scikit-learn would leave a dead entry behind
    from sklearn.utils.estimator_checks import _yield_all_checks

    estimator, expected = _ESTIMATORS[name]
    run = {_check_name(check) for check in _yield_all_checks(estimator, legacy=True)}
    assert set(expected) <= run, sorted(set(expected) - run)


_AROUND_A_NET = {  # how each estimator takes a net
    "net": lambda net: net,
    "one-shot": lambda net: GlobalOneShotPruner(net),
    "iterative": lambda net: IterativePruner(net, n_rounds=1, verbose=0),
    "blocks": lambda net: BlockSparsifier(net, **_QUICK_BLOCKS),
    "spectrum": lambda net: HessianSpectrum(net),
    "limit": lambda net: PruningLimitEstimator(net),
}


@pytest.mark.parametrize("wrap", _AROUND_A_NET.values(), ids=_AROUND_A_NET)
def test_the_sparse_tag_says_what_the_net_takes(wrap):
    # the L1 nets take every scipy.sparse format, and the estimators around a net pass X on
    # to it: their tags said "no sparse input" while it worked (check_estimator_sparse_tag)
    X = sp.random(30, 4, density=0.5, format="coo", random_state=0, dtype=np.float32)
    y = np.arange(30, dtype=np.float32) / 30
    l1 = L1RegularizedRegressor(nn.Linear(4, 1), l1_alpha=0.0, **_FIT)  # 0: for the blocks
    plain = NeuralNetRegressor(nn.Linear(4, 1), **_FIT)
    assert get_tags(wrap(l1)).input_tags.sparse
    assert not get_tags(wrap(plain)).input_tags.sparse  # skorch's own tag
    if not isinstance(wrap(l1), (HessianSpectrum, PruningLimitEstimator)):  # no predict
        est = wrap(l1).fit(X, y)
        assert est.predict(X).shape == (30, 1)


def test_a_classifier_net_is_tagged_for_sparse_input_too():
    net = L1RegularizedClassifier(nn.Linear(4, 2), criterion=nn.CrossEntropyLoss, **_FIT)
    assert get_tags(net).input_tags.sparse and get_tags(IterativePruner(net)).input_tags.sparse


# -- PQIndex: a scorer with scikit-learn's parameter API, no fit ----------------------------

_PARAMETER_API_CHECKS = [
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_get_params_invariance",
    "check_set_params",
    "check_parameters_default_constructible",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_mixin_order",
]


@pytest.mark.parametrize("name", _PARAMETER_API_CHECKS)
def test_pq_index_follows_the_parameter_api(name):
    # PQIndex is a BaseEstimator for get_params / set_params / clone / repr (so it can sit in
    # a search's `scoring` and be cloned with it); it has no fit, so only these checks apply
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, name)("PQIndex", PQIndex(p=0.5, q=2.0, scope="layer"))


def test_pq_index_is_a_scorer_not_a_fitted_estimator():
    # if PQIndex ever gains fit, the whole of check_estimator applies to it
    assert not hasattr(PQIndex(), "fit")
    module = nn.Linear(3, 2)
    assert clone(PQIndex(q=2.0))(module, None, None) == PQIndex(q=2.0).score(module)


# -- searches, pipelines, scorers ---------------------------------------------------------

_XC, _YC = make_classification(120, 6, n_informative=4, random_state=0)
_XC = (_XC * 3 + 5).astype(np.float32)  # far from standardised: the scaler matters
_XR, _YR = make_regression(120, 5, random_state=0)
_YR = ((_YR - _YR.mean()) / _YR.std()).astype(np.float32)


def _hidden(est):
    """The hidden width of the fitted net inside ``est`` (a net, pruner, search, pipeline)."""
    est = getattr(est, "best_estimator_", est)
    est = est[-1] if hasattr(est, "steps") else est
    net = getattr(est, "estimator_", est)
    return net.module_.hidden.out_features


_SEARCHED = {  # estimator, its nested grid; all classifiers of _XC
    "IterativePruner": (
        IterativePruner(classifier(max_epochs=3), **_IMP),
        {"estimator__module__hidden": [4, 12], "schedule": ["sap", "fixed"]},
    ),
    "GlobalOneShotPruner": (
        GlobalOneShotPruner(classifier(max_epochs=3), random_state=0),
        {"estimator__module__hidden": [4, 12], "estimator__l1_alpha": [0.0, 1e-3]},
    ),
    "BlockSparsifier": (
        BlockSparsifier(classifier(l1_alpha=0.0), **_QUICK_BLOCKS),
        {"estimator__module__hidden": [4, 12], "sparsity": [0.25, 0.5]},
    ),
    "L1RegularizedClassifier": (
        classifier(max_epochs=3),
        {"module__hidden": [4, 12], "l1_alpha": [0.0, 1e-3]},
    ),
    "HessianSpectrum": (
        HessianSpectrum(classifier(max_epochs=3), n_lanczos_steps=3, random_state=0),
        {"estimator__module__hidden": [4, 12], "n_probes": [1, 2]},
    ),
    "PruningLimitEstimator": (
        PruningLimitEstimator(classifier(max_epochs=3), n_lanczos_steps=3, random_state=0),
        {"estimator__module__hidden": [4, 12], "quadrature": ["gauss", "averaged"]},
    ),
}


@pytest.mark.parametrize("name", _SEARCHED)
def test_searches_reach_the_nested_parameters_of_the_net(name):
    estimator, grid = _SEARCHED[name]
    scoring = {"pqi": PQIndex(), "sparsity": sparsity_scorer}
    if hasattr(estimator, "score"):
        scoring["acc"] = "accuracy"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid_search = GridSearchCV(estimator, grid, cv=2, scoring=scoring, refit="pqi")
        grid_search.fit(_XC, _YC)
        steps = [("scale", StandardScaler()), ("est", estimator)]
        pipe = sklearn.pipeline.Pipeline(steps)
        random_search = RandomizedSearchCV(
            pipe,
            {f"est__{k}": v for k, v in grid.items()},
            n_iter=2,
            cv=2,
            scoring=scoring,
            refit="pqi",
            random_state=0,
        ).fit(_XC, _YC)
    width = [k for k in grid if k.endswith("module__hidden")][0]
    # the refitted winner holds a net of the width the search says it chose
    assert _hidden(grid_search) == grid_search.best_params_[width]
    assert _hidden(random_search) == random_search.best_params_[f"est__{width}"]
    assert len(grid_search.cv_results_["params"]) == 4
    # the search's PQ index of the refitted winner is the scorer's own value
    assert PQIndex().score(grid_search) == pytest.approx(
        PQIndex().score(grid_search.best_estimator_)
    )
    # the template is untouched: searches clone
    assert not hasattr(estimator, "estimator_") and not hasattr(estimator, "module_")


_IN_A_PIPELINE = {
    "IterativePruner": lambda: IterativePruner(classifier(max_epochs=3), **_IMP),
    "GlobalOneShotPruner": lambda: GlobalOneShotPruner(
        classifier(max_epochs=3), sparsity=0.5, fine_tune_epochs=1, random_state=0
    ),
    "BlockSparsifier": lambda: BlockSparsifier(classifier(l1_alpha=0.0), **_QUICK_BLOCKS),
    "HessianSpectrum": lambda: HessianSpectrum(
        classifier(max_epochs=3), n_lanczos_steps=4, random_state=0
    ),
    "PruningLimitEstimator": lambda: PruningLimitEstimator(
        classifier(max_epochs=3), n_lanczos_steps=4, random_state=0
    ),
}


@pytest.mark.parametrize("name", _IN_A_PIPELINE)
def test_a_scaler_before_the_estimator_is_the_estimator_on_scaled_data(name):
    # the reference: scale by hand, fit the estimator alone with the same seed
    make = _IN_A_PIPELINE[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(StandardScaler(), make()).fit(_XC, _YC)
        Xs = StandardScaler().fit_transform(_XC)
        alone = make().fit(Xs, _YC)
    last = pipe[-1]
    if hasattr(alone, "predict"):
        np.testing.assert_array_equal(pipe.predict(_XC), alone.predict(Xs))
        np.testing.assert_allclose(pipe.transform(_XC), alone.transform(Xs), rtol=1e-6)
        np.testing.assert_array_equal(pipe.get_feature_names_out(), alone.get_feature_names_out())
        assert pipe.score(_XC, _YC) == alone.score(Xs, _YC)
    for attr in ("sparsity_", "trace_", "pruning_limit_", "n_features_in_"):
        if hasattr(alone, attr):
            assert getattr(last, attr) == pytest.approx(getattr(alone, attr)), attr
    assert PQIndex().score(pipe) == pytest.approx(PQIndex().score(alone))
    assert achieved_sparsity(pipe) == achieved_sparsity(alone)


def test_cross_validate_with_scikit_learn_and_sparselimit_scorers():
    def balanced(y_true, y_pred):
        return balanced_accuracy_score(y_true, y_pred)

    dense = classifier(max_epochs=3)
    pruner = make_pipeline(
        StandardScaler(), GlobalOneShotPruner(dense, sparsity=0.5, random_state=0)
    )
    reference = make_pipeline(StandardScaler(), dense).fit(_XC, _YC)
    scoring = {
        "acc": "accuracy",
        "balanced": make_scorer(balanced),
        "pqi": PQIndex(scope="layer"),
        "sparsity": sparsity_scorer,
        "recall": RecallDistortionScorer(reference),
    }
    cv = StratifiedKFold(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cross_validate(pruner, _XC, _YC, cv=cv, scoring=scoring, return_estimator=True)
    for fold, (train, test) in enumerate(cv.split(_XC, _YC)):
        est = clone(pruner).fit(_XC[train], _YC[train])  # seeded: the same fit again
        pred = est.predict(_XC[test])
        assert result["test_acc"][fold] == accuracy_score(_YC[test], pred)
        assert result["test_balanced"][fold] == balanced(_YC[test], pred)
        assert result["test_pqi"][fold] == pytest.approx(PQIndex(scope="layer").score(est))
        assert result["test_sparsity"][fold] == achieved_sparsity(est) > 0.45
        rd = RecallDistortionScorer(reference)(est, _XC[test], _YC[test])
        assert result["test_recall"][fold] == pytest.approx(rd, nan_ok=True)
        assert result["estimator"][fold][-1].sparsity_ == est[-1].sparsity_


# -- metadata routing ---------------------------------------------------------------------


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


_ROUTED = {
    "IterativePruner": lambda: IterativePruner(classifier(max_epochs=3), **_IMP),
    "GlobalOneShotPruner": lambda: GlobalOneShotPruner(
        classifier(max_epochs=3), sparsity=0.5, random_state=0
    ),
    "default-net": lambda: GlobalOneShotPruner(sparsity=0.5, random_state=0),
    "L1RegularizedClassifier": lambda: classifier(max_epochs=3),
}


@pytest.mark.parametrize("name", _ROUTED)
def test_metadata_routing_sample_weight_and_groups(routing, name):
    estimator = _ROUTED[name]()
    w = np.random.RandomState(0).rand(len(_YC))
    groups = np.arange(len(_YC)) % 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # groups reach the splitter: each test fold is whole groups
        search = GridSearchCV(estimator, {}, cv=GroupKFold(2), scoring="accuracy")
        search.fit(_XC, _YC, groups=groups)
        assert search.n_splits_ == 2
        # sample_weight nobody requested is an error, not silently dropped
        with pytest.raises((TypeError, UnsetMetadataPassedError), match="sample_weight"):
            GridSearchCV(estimator, {}, cv=2).fit(_XC, _YC, sample_weight=w)
        # requested by a scorer, it weights that score; the nets train unweighted (the
        # net's forward takes no sample_weight: a fit that got it would fail)
        weighted = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        scoring = {"acc": weighted, "pqi": PQIndex(), "sparsity": sparsity_scorer}
        GridSearchCV(estimator, {}, cv=2, scoring=scoring, refit="acc").fit(
            _XC, _YC, sample_weight=w
        )
        result = cross_validate(
            estimator,
            _XC,
            _YC,
            cv=KFold(2),
            scoring=scoring,
            params={"sample_weight": w},
            return_estimator=True,
            return_indices=True,
        )
    for fold, est in enumerate(result["estimator"]):
        test = result["indices"]["test"][fold]
        expected = accuracy_score(_YC[test], est.predict(_XC[test]), sample_weight=w[test])
        assert result["test_acc"][fold] == pytest.approx(expected)
        assert expected != accuracy_score(_YC[test], est.predict(_XC[test]))  # weights count
        assert result["test_pqi"][fold] == pytest.approx(PQIndex().score(est))


def test_the_pruners_cannot_request_sample_weight_for_fit(routing):
    # documented: a net that uses sample weights takes them in its module's forward
    with pytest.raises((AttributeError, TypeError)):
        GlobalOneShotPruner().set_fit_request(sample_weight=True)
    with pytest.raises(TypeError, match="sample_weight"):
        IterativePruner(classifier()).set_fit_request(sample_weight=True)


# -- reprs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(_ESTIMATORS)[:: len(_ESTIMATORS) // 6 or 1])
def test_repr_and_html_repr_with_nested_nets(name):
    estimator = _ESTIMATORS[name][0]
    wrapped = [
        estimator,
        make_pipeline(StandardScaler(), estimator),
        GridSearchCV(estimator, {}),
    ]
    for obj in wrapped:
        text, html = repr(obj), obj._repr_html_()
        assert type(estimator).__name__ in text and type(estimator).__name__ in html
        assert "AnyWidth" in html  # the net's module, at depth
    fitted = clone(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted.fit(_XR[:40], _YR[:40]) if "Regressor" in repr(estimator) else fitted.fit(
            _XC[:40], _YC[:40]
        )
    assert "fitted" in fitted._repr_html_().lower()
    if not hasattr(fitted, "module"):  # (a skorch net's repr shows its module once fitted)
        assert repr(fitted) == repr(estimator)  # the parameters, not the fitted state
