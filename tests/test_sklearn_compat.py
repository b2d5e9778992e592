"""scikit-learn's own estimator checks on the two estimators that train a default net."""

import warnings

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sparselimit import GlobalOneShotPruner, PruningLimitEstimator

# With estimator=None a floating y is a regression target (load_diabetes has whole-valued
# floats), by design; these two checks pass a float y to a classifier-tagged estimator and
# expect it to be refused as labels.
_FLOAT_Y_IS_REGRESSION = {
    "check_classifiers_one_label": "a float y of ones is a regression target",
    "check_classifiers_regression_target": "a float y is a regression target",
}


def _expected_failures(estimator):
    return _FLOAT_Y_IS_REGRESSION if isinstance(estimator, GlobalOneShotPruner) else {}


@parametrize_with_checks(
    [
        GlobalOneShotPruner(sparsity=0.5, random_state=0),
        PruningLimitEstimator(n_lanczos_steps=8, random_state=0),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # regime warnings on the checks' random data
        check(estimator)


def test_the_expected_failures_still_fail():
    # if the design changes, the list above must shrink with it
    from sklearn.utils.estimator_checks import check_classifiers_regression_target

    with pytest.raises(AssertionError, match="continuous"):
        check_classifiers_regression_target(
            "GlobalOneShotPruner", GlobalOneShotPruner(sparsity=0.5, random_state=0)
        )
