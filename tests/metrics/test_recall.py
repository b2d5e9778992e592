import json

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit.metrics._recall import (
    RecallDistortionScorer,
    intensification_ratio,
    per_class_recall,
    recall_distortion,
    recall_distortion_curve,
    recall_distortion_report,
)


def _worked_example():
    # equal class counts, so accuracy = mean recall: dense [0.9, 0.7] (a0 = 0.8),
    # pruned [0.95, 0.55] (a = 0.75)
    y = np.repeat([0, 1], 20)
    dense, pruned = y.copy(), y.copy()
    dense[:2] = 1
    dense[20:26] = 0
    pruned[:1] = 1
    pruned[20:29] = 0
    return y, dense, pruned


def test_worked_example_alpha():
    y, dense, pruned = _worked_example()
    res = recall_distortion(y, dense, pruned)
    np.testing.assert_allclose(res.recall_dense, [0.9, 0.7])
    np.testing.assert_allclose(res.recall_pruned, [0.95, 0.55])
    assert res.accuracy_dense == pytest.approx(0.8)
    assert res.accuracy_pruned == pytest.approx(0.75)
    np.testing.assert_allclose(res.rho_dense, [1.125, 0.875])
    np.testing.assert_allclose(res.rho_pruned, [0.95 / 0.75, 0.55 / 0.75])
    assert res.alpha == pytest.approx(2.1333, abs=1e-4)
    assert res.alpha == pytest.approx(32 / 15)
    assert res.intensified
    np.testing.assert_array_equal(res.support, [20, 20])
    d = res.to_dict()
    assert json.loads(json.dumps(d))["alpha"] == pytest.approx(32 / 15)


def test_no_change_gives_alpha_one_and_reversal_negative():
    y, dense, pruned = _worked_example()
    assert recall_distortion(y, dense, dense).alpha == pytest.approx(1.0)
    # pruned model with the class gap reversed
    assert recall_distortion(y, dense, 1 - dense).alpha < 0


def test_alpha_skips_classes_at_accuracy_and_nan_when_all_equal():
    assert intensification_ratio([1.0, 1.2, 0.8], [5.0, 1.4, 0.6]) == pytest.approx(2.0)
    assert np.isnan(intensification_ratio([1.0, 1.0], [1.2, 0.8]))
    y = np.array([0, 0, 1, 1])
    res = recall_distortion(y, y, np.array([0, 1, 1, 1]))
    assert np.isnan(res.alpha) and res.to_dict()["alpha"] is None


def test_labels_absent_from_y_true_raise():
    y, dense, pruned = _worked_example()
    with pytest.raises(ValueError, match=r"\[2\] do not occur in `y_true`"):
        recall_distortion(y, dense, pruned, labels=[0, 1, 2])
    with pytest.raises(ValueError, match="do not occur"):
        per_class_recall(y, dense, labels=[5])
    # a predicted class absent from y_true just counts as an error
    pred = dense.copy()
    pred[5] = 7
    np.testing.assert_allclose(per_class_recall(y, pred), [0.85, 0.7])


def test_shape_errors():
    y, dense, pruned = _worked_example()
    with pytest.raises(ValueError, match="y_pred_pruned"):
        recall_distortion(y, dense, pruned[:-1])
    with pytest.raises(ValueError, match="1-D"):
        recall_distortion(y.reshape(-1, 1), dense, pruned)
    with pytest.raises(ValueError, match="empty"):
        recall_distortion([], [], [])


def _fitted_net(X, y, n_classes):
    torch.manual_seed(0)
    return NeuralNetClassifier(
        nn.Sequential(nn.Linear(X.shape[1], 32), nn.ReLU(), nn.Linear(32, n_classes)),
        criterion=nn.CrossEntropyLoss,
        lr=0.1,
        optimizer__momentum=0.9,
        max_epochs=15,
        train_split=None,
        verbose=0,
    ).fit(X, y)


def _imbalanced():
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=600,
        n_features=10,
        n_informative=6,
        n_classes=3,
        weights=[0.6, 0.3, 0.1],
        random_state=0,
    )
    return X.astype(np.float32), y.astype(np.int64)


def test_report_and_scorer_with_skorch_nets():
    X, y = _imbalanced()
    net = _fitted_net(X, y, 3)
    rep = recall_distortion_report(net, net, X, y, sparsity=0.0)
    json.dumps(rep)
    assert rep["recall_dense"] == rep["recall_pruned"] and rep["n_samples"] == 600
    assert rep["labels"] == [0, 1, 2] and sum(rep["support"]) == 600
    assert RecallDistortionScorer(net)(net, X, y) == pytest.approx(-1.0)


def test_curve_with_prune_global_leaves_estimator_untouched():
    X, y = _imbalanced()
    net = _fitted_net(X, y, 3)
    before = {k: v.clone() for k, v in net.module_.state_dict().items()}
    curve = recall_distortion_curve(net, X, y, [0.0, 0.5, 0.9])
    for k, v in net.module_.state_dict().items():
        assert torch.equal(v, before[k])
    assert curve.alpha[0] == pytest.approx(1.0)
    assert curve.accuracy[0] == pytest.approx(curve.accuracy_dense)
    assert curve.recall.shape == (3, 3) and curve.importance == "magnitude"
    json.dumps(curve.to_dict())
    from matplotlib.figure import Figure

    ax = curve.plot(Figure().subplots())
    assert ax.get_lines()


def test_curve_through_pipeline_and_module():
    X, y = _imbalanced()
    net = _fitted_net(X, y, 3)
    pipe = make_pipeline(StandardScaler().fit(X), net)  # fitted steps, used as-is
    Xs = pipe[:-1].transform(X)
    c1 = recall_distortion_curve(pipe, X, y, [0.8])
    c2 = recall_distortion_curve(net.module_, Xs, y, [0.8])
    np.testing.assert_allclose(c1.alpha, c2.alpha)


def test_curve_bad_input():
    X, y = _imbalanced()
    net = _fitted_net(X, y, 3)
    with pytest.raises(ValueError, match="importance"):
        recall_distortion_curve(net, X, y, [0.5], importance="bogus")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        recall_distortion_curve(net, X, y, [1.5])
    with pytest.raises(ValueError, match="empty"):
        recall_distortion_curve(net, X, y, [])
    with pytest.raises(ValueError, match="do not occur"):
        recall_distortion_curve(net, X, y, [0.5], labels=[0, 1, 2, 3])


def _ref_pruned_accuracy(module, X, y, names, sparsity):
    """Accuracy after zeroing the round(sparsity * D) smallest |w| of the named tensors only
    (ties by position, as prune_global), in plain NumPy."""
    state = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    flat = np.concatenate([np.abs(state[n]).ravel() for n in names])
    removed = np.zeros(flat.size, bool)
    removed[np.argsort(flat, kind="stable")[: int(round(sparsity * flat.size))]] = True
    offset = 0
    for n in names:
        size = state[n].size
        state[n] = np.where(removed[offset : offset + size].reshape(state[n].shape), 0, state[n])
        offset += size
    h = np.maximum(X @ state["0.weight"].T + state["0.bias"], 0)
    return float(np.mean((h @ state["2.weight"].T + state["2.bias"]).argmax(1) == y))


def test_curve_prunes_the_weights_the_estimator_selects():
    # an L1 net penalising only its first layer, and a pruner pruning only the second: the
    # curve removes those weights (as measure_pruning_curve does), not every Linear weight
    from sparselimit import GlobalOneShotPruner, L1RegularizedClassifier

    X, y = _imbalanced()
    params = dict(criterion=nn.CrossEntropyLoss, lr=0.1, max_epochs=5, train_split=None)
    torch.manual_seed(0)
    net = L1RegularizedClassifier(
        nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3)),
        prunable_include=r"^0\.weight$",
        verbose=0,
        **params,
    ).fit(X, y)
    sparsities = [0.5, 0.9]
    curve = recall_distortion_curve(net, X, y, sparsities)
    ref = [_ref_pruned_accuracy(net.module_, X, y, ["0.weight"], s) for s in sparsities]
    np.testing.assert_allclose(curve.accuracy, ref)

    pruner = GlobalOneShotPruner(net, sparsity=0.5, prefit=True, include=r"^2\.weight$")
    pruner.fit(X, y)
    curve = recall_distortion_curve(pruner, X, y, sparsities)
    module = pruner.estimator_.module_
    ref = [_ref_pruned_accuracy(module, X, y, ["2.weight"], s) for s in sparsities]
    np.testing.assert_allclose(curve.accuracy, ref)


def test_report_curve_and_scorer_refuse_nan_X_and_missing_y():
    """A network predicts a class for NaN inputs too (argmax of NaN scores is class 0): the
    curve and the report came back as numbers; y=None failed naming `y_true`."""
    X, y = _imbalanced()
    net = _fitted_net(X, y, 3)
    X_nan = X.copy()
    X_nan[5, 2] = np.nan
    calls = {
        "recall_distortion_curve": lambda X, y: recall_distortion_curve(net, X, y, [0.5]),
        "recall_distortion_report": lambda X, y: recall_distortion_report(net, net, X, y),
        "RecallDistortionScorer": lambda X, y: RecallDistortionScorer(net)(net, X, y),
    }
    for owner, call in calls.items():
        with pytest.raises(ValueError, match="`X` contains NaN or infinity"):
            call(X_nan, y)
        with pytest.raises(ValueError, match=f"{owner} requires y to be passed"):
            call(X, None)
        with pytest.raises(ValueError, match="same number of samples; got 600 and 599"):
            call(X, y[:-1])
