"""PruningLimitDisplay and limit_report."""

import json
import warnings

import numpy as np
import pytest

from sparselimit.limit import (
    LimitRegimeWarning,
    PruningLimitDisplay,
    PruningLimitEstimator,
    limit_report,
    measure_pruning_curve,
)

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def fitted(fitted_net, data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)
        est = PruningLimitEstimator(
            fitted_net, prefit=True, spectrum="exact", epsilon_batch_size=64
        ).fit(X, y)
    curve = measure_pruning_curve(est, X, y, sparsities=np.linspace(0, 0.95, 20))
    return est, curve


def test_display_two_panels(fitted):
    import matplotlib.pyplot as plt

    est, curve = fitted
    disp = PruningLimitDisplay.from_estimator(est, curve)
    assert len(disp.axes_) == 2
    x, yv = disp.crossing_.get_data()
    assert yv[0] == pytest.approx(est.pruning_limit_)
    assert x[0] == pytest.approx(est.radius(est.pruning_limit_))
    # the crossing lies on the theory curve
    assert float(est.width(x[0])) == pytest.approx(est.pruning_limit_, abs=1e-4)
    labels = [t.get_text() for t in disp.axes_[1].get_legend().get_texts()]
    assert any("predicted" in t for t in labels) and any("measured" in t for t in labels)
    plt.close("all")


def test_display_one_panel_and_given_axes(fitted):
    import matplotlib.pyplot as plt

    est, curve = fitted
    disp = PruningLimitDisplay.from_estimator(est)
    assert len(disp.axes_) == 1
    fig, axes = plt.subplots(1, 2)
    disp = PruningLimitDisplay.from_estimator(est, curve, ax=axes)
    assert disp.figure_ is fig
    with pytest.raises(ValueError, match="ax"):
        PruningLimitDisplay.from_estimator(est, curve, ax=axes[:1])
    plt.close("all")


def test_limit_report_is_json(fitted, fitted_net, data):
    X, y = data
    est, curve = fitted
    tuned = measure_pruning_curve(
        est, X, y, sparsities=[0.0, 0.5], fine_tune_epochs=1, X_fine_tune=X, y_fine_tune=y
    )
    report = limit_report(est, curve, retrained_curve=tuned)
    text = json.dumps(report)
    back = json.loads(text)
    assert back["predicted"]["pruning_limit"] == pytest.approx(est.pruning_limit_)
    assert back["measured"]["limits"]["last_above"] == curve.limit("last_above")
    assert back["measured_retrained"]["fine_tune_epochs"] == 1
    assert "diagnostics" in back and "warnings" in back["diagnostics"]
    assert back["timings"]["measured_curve"] == pytest.approx(curve.seconds)


def test_display_takes_an_axes_grid_from_subplots(fitted):
    # plt.subplots(..., squeeze=False) and 2-D grids hand out 2-D arrays of Axes
    import matplotlib.pyplot as plt

    est, curve = fitted
    fig, grid = plt.subplots(1, 2, squeeze=False)
    disp = PruningLimitDisplay.from_estimator(est, curve, ax=grid)
    assert disp.axes_ == [grid[0, 0], grid[0, 1]] and disp.figure_ is fig
    _, grid = plt.subplots(2, 2)
    disp = PruningLimitDisplay.from_estimator(est, ax=grid)
    assert disp.axes_ == [grid[0, 0]]  # the panels drawn, not every Axes given
    assert grid[0, 0].get_title() and not grid[0, 1].lines
    plt.close("all")


def test_curve_of_another_net_or_swapped_arguments_are_refused(fitted, data):
    import matplotlib.pyplot as plt

    from ._helpers import fit_seeded, make_net

    X, y = data
    est, curve = fitted
    other = fit_seeded(make_net(hidden=8, max_epochs=2), X, y)
    foreign = measure_pruning_curve(other, X, y, sparsities=[0.0, 0.5])
    assert foreign.n_params != est.n_params_
    match = f"measured on {foreign.n_params} prunable weights.*limit of {est.n_params_}"
    with pytest.raises(ValueError, match=match):
        PruningLimitDisplay.from_estimator(est, foreign)
    with pytest.raises(ValueError, match="`retrained_curve` was measured on"):
        limit_report(est, curve, retrained_curve=foreign)
    with pytest.raises(TypeError, match="curve goes second"):
        PruningLimitDisplay.from_estimator(curve, est)
    with pytest.raises(TypeError, match="`curve` must be a PruningCurve"):
        limit_report(est, est)
    plt.close("all")


def test_report_settings_keep_numpy_scalar_parameters(fitted_net, data):
    # parameters from a grid of np.arange / np.linspace values are NumPy scalars: the report's
    # settings are the estimator's parameters, all of them but the net
    X, y = data
    params = dict(n_probes=np.int64(2), n_lanczos_steps=np.int64(8), eta=np.float32(0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)
        est = PruningLimitEstimator(
            fitted_net, prefit=True, random_state=np.int64(0), **params
        ).fit(X, y)
    settings = json.loads(json.dumps(limit_report(est), allow_nan=False))["settings"]
    assert set(settings) == set(est.get_params(deep=False)) - {"estimator"}
    got = settings["n_probes"], settings["n_lanczos_steps"], settings["random_state"]
    assert got == (2, 8, 0)
    assert settings["eta"] == pytest.approx(0.1)
