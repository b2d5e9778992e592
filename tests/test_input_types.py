"""Inputs, dtypes and storage users hand to the estimators and functions: each case is checked
against the same computation on the plain float32 / NumPy form, or against an independent
reference."""

import copy
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from sparselimit import HessianSpectrum, L1RegularizedClassifier, PruningLimitEstimator
from sparselimit.curvature import HessianOperator


def _data(n=120, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def _net(dtype=torch.float32, d=6, **kwargs):
    torch.manual_seed(0)
    kwargs.setdefault("max_epochs", 10)
    kwargs.setdefault("train_split", None)
    return L1RegularizedClassifier(
        nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, 2)).to(dtype),
        criterion=nn.CrossEntropyLoss,
        lr=0.1,
        verbose=0,
        **kwargs,
    )


# -- half-precision networks: the curvature is taken in float32 --------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_hessian_of_half_precision_module_matches_float64_reference(dtype):
    X, y = _data()
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2)).to(dtype)
    reference = copy.deepcopy(module).double()  # the same (half-rounded) weights, exactly
    op = HessianOperator(module, nn.CrossEntropyLoss(), X, y)
    ref = HessianOperator(reference, nn.CrossEntropyLoss(), X, y)
    assert op.dtype == torch.float32
    v = torch.randn(op.shape[0], generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    hv, ref_hv = (op @ v).double(), ref @ v
    assert float((hv - ref_hv).norm() / ref_hv.norm()) < 1e-4
    assert module[0].weight.dtype == dtype  # the user's module is left as it was


def test_limit_of_float16_net_matches_its_float32_copy():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = _net(torch.float16).fit(X, y)
        twin = copy.deepcopy(net)
        twin.module_.float()
        kw = dict(prefit=True, n_probes=2, n_lanczos_steps=20, random_state=0)
        half = PruningLimitEstimator(net, **kw).fit(X, y)
        full = PruningLimitEstimator(twin, **kw).fit(X, y)
        trace_half = HessianSpectrum(net, n_probes=2, n_lanczos_steps=20, random_state=0)
        trace_full = HessianSpectrum(twin, n_probes=2, n_lanczos_steps=20, random_state=0)
        trace_half, trace_full = trace_half.fit(X, y).trace_, trace_full.fit(X, y).trace_
    assert trace_half == pytest.approx(trace_full, rel=1e-5)
    # the float16 forward pass still sets loss_ and epsilon, so the limits agree to ~1e-3
    assert half.pruning_limit_ == pytest.approx(full.pruning_limit_, abs=2e-3)


# -- scipy.sparse X: densified where the whole X becomes one tensor ---------------------------


@pytest.fixture(scope="module")
def fitted_net():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _net().fit(X, y)


@pytest.mark.parametrize("fmt", ["csr", "coo", "dok"])
def test_hessian_spectrum_takes_sparse_X_as_its_dense_form(fitted_net, fmt):
    import scipy.sparse as sp

    X, y = _data()
    X[np.abs(X) < 0.5] = 0.0
    kw = dict(prefit=True, n_probes=1, n_lanczos_steps=8, random_state=0, max_samples=100)
    dense = HessianSpectrum(fitted_net, **kw).fit(X, y)
    sparse = HessianSpectrum(fitted_net, **kw).fit(sp.csr_matrix(X).asformat(fmt), y)
    assert sparse.trace_ == dense.trace_
    assert sparse.n_samples_ == 100
    op = HessianOperator(fitted_net.module_, nn.CrossEntropyLoss(), sp.csr_matrix(X), y)
    ref = HessianOperator(fitted_net.module_, nn.CrossEntropyLoss(), X, y)
    v = torch.ones(op.shape[0])
    assert torch.equal(op @ v, ref @ v)


def test_undecayed_importance_takes_sparse_X(fitted_net):
    import scipy.sparse as sp

    from sparselimit import GlobalOneShotPruner

    X, y = _data()
    kw = dict(sparsity=0.5, prefit=True, importance="undecayed")
    dense = GlobalOneShotPruner(fitted_net, **kw).fit(X, y)
    sparse = GlobalOneShotPruner(fitted_net, **kw).fit(sp.csr_matrix(X), y)
    assert all(torch.equal(sparse.masks_[n], dense.masks_[n]) for n in dense.masks_)


# -- the default net of PruningLimitEstimator: X as it was trained on --------------------------


@pytest.mark.filterwarnings("ignore::sparselimit.LimitRegimeWarning")
@pytest.mark.parametrize("kind", ["uint8", "bool", "list"])
def test_curve_of_default_net_takes_X_as_fit_did(kind):
    from sparselimit import measure_pruning_curve

    X, y = _data(n=100, d=5)
    X_user = {
        "uint8": (np.abs(X) * 40).astype(np.uint8),
        "bool": X > 0,
        "list": X.tolist(),
    }[kind]
    X_float = np.asarray(X_user, dtype=np.float32)
    est = PruningLimitEstimator(n_probes=1, n_lanczos_steps=8, random_state=0).fit(X_user, y)
    sweep = dict(sparsities=[0.0, 0.5, 0.9])
    got = measure_pruning_curve(est, X_user, y, **sweep)
    ref = measure_pruning_curve(est, X_float, y, **sweep)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.losses, ref.losses)
    retrain = dict(sweep, fine_tune_epochs=1, random_state=0)
    got = measure_pruning_curve(est, X_user, y, X_fine_tune=X_user, y_fine_tune=y, **retrain)
    ref = measure_pruning_curve(est, X_float, y, X_fine_tune=X_float, y_fine_tune=y, **retrain)
    np.testing.assert_array_equal(got.scores, ref.scores)


# -- pq_index / PQIndex on tensors of any dtype and on zero-size layers ------------------------


@pytest.mark.parametrize(
    "values, dtype",
    [
        ([-128, 1, 0, 0], torch.int8),  # |int8(-128)| wraps around in torch
        ([True, False, False, False], torch.bool),  # torch has no abs for bool
        ([3, 0, 1, 0], torch.uint8),
        ([-5, 2, 0, 7], torch.int64),
    ],
)
def test_pq_index_of_integer_and_bool_tensors_equals_the_numpy_float64_value(values, dtype):
    from sparselimit import pq_index

    expected = pq_index(np.asarray(values, dtype=np.float64))
    assert pq_index(torch.tensor(values, dtype=dtype)) == pytest.approx(expected, rel=1e-12)
    # the reference, from the definition 1 - d^(1/q - 1/p) ||w||_p / ||w||_q with p=.5, q=1
    a = np.abs(np.asarray(values, dtype=np.float64))
    assert expected == pytest.approx(1 - len(a) ** (1 - 2) * np.sqrt(a).sum() ** 2 / a.sum())


def test_pq_index_of_a_model_names_PQIndex():
    from sparselimit import pq_index

    with pytest.raises(TypeError, match=r"PQIndex\(\)\.score\(model\)"):
        pq_index(nn.Linear(3, 2))


def test_neuron_scope_skips_a_zero_size_layer():
    from sparselimit import PQIndex, pq_index

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "Initializing zero-element tensors is a no-op"
        net = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 0), nn.Linear(0, 2))
    units = PQIndex(scope="neuron").score_units(net)
    rows = [pq_index(net[0].weight[i]) for i in range(3)]
    np.testing.assert_allclose(units["0.weight"], rows, rtol=1e-12)
    assert units["1.weight"].shape == (0,)  # no output unit
    assert np.isnan(units["2.weight"]).all() and units["2.weight"].shape == (2,)  # no weight
    assert PQIndex(scope="neuron").score(net) == pytest.approx(np.mean(rows), rel=1e-12)


# -- recall distortion: text labels against class codes ----------------------------------------


def test_recall_distortion_refuses_text_labels_against_class_codes(fitted_net):
    from sparselimit import GlobalOneShotPruner
    from sparselimit.metrics import (
        RecallDistortionScorer,
        recall_distortion,
        recall_distortion_report,
    )

    X, y = _data()
    names = np.array(["neg", "pos"])
    pruned = GlobalOneShotPruner(fitted_net, sparsity=0.5, prefit=True).fit(X, y)
    # the same labels, encoded the same way on both sides: the reference value
    ref = recall_distortion(y, fitted_net.predict(X), pruned.predict(X))
    named = recall_distortion(names[y], names[fitted_net.predict(X)], names[pruned.predict(X)])
    assert named.alpha == pytest.approx(ref.alpha) and np.isfinite(ref.alpha)
    # text labels against the codes a skorch net predicts used to give alpha = NaN silently
    with pytest.raises(ValueError, match="LabelEncoder"):
        recall_distortion_report(fitted_net, pruned, X, names[y])
    with pytest.raises(ValueError, match="text labels"):
        RecallDistortionScorer(fitted_net)(pruned, X, names[y])
    with pytest.raises(ValueError, match="numeric labels"):
        recall_distortion(y, names[fitted_net.predict(X)], pruned.predict(X))


# -- a Dataset as X (y=None): the samples it yields --------------------------------------------


@pytest.mark.parametrize("kind", ["skorch", "torch"])
def test_dataset_X_gives_what_its_arrays_give(fitted_net, kind):
    from skorch.dataset import Dataset
    from torch.utils.data import TensorDataset

    from sparselimit import IterativePruner, measure_pruning_curve

    X, y = _data()
    ds = Dataset(X, y) if kind == "skorch" else TensorDataset(torch.tensor(X), torch.tensor(y))
    kw = dict(prefit=True, n_probes=1, n_lanczos_steps=8, random_state=0, max_samples=90)
    got = HessianSpectrum(fitted_net, **kw).fit(ds)
    ref = HessianSpectrum(fitted_net, **kw).fit(X, y)
    assert got.trace_ == ref.trace_ and got.n_samples_ == 90
    sweep = dict(sparsities=[0.0, 0.5, 0.9])
    got = measure_pruning_curve(fitted_net, ds, None, **sweep)
    ref = measure_pruning_curve(fitted_net, X, y, **sweep)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_allclose(got.losses, ref.losses, rtol=1e-6)
    # IterativePruner trains on it; with no y to score against, the per-round score is NaN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sap = IterativePruner(_net(max_epochs=2), n_rounds=2, retrain_epochs=1, verbose=0)
        sap.fit(ds)
    assert np.isnan([h["score"] for h in sap.history_]).all()
    assert 0.0 < sap.sparsity_ < 1.0


def test_curve_without_y_names_it(fitted_net):
    from sparselimit import measure_pruning_curve

    X, _ = _data()
    with pytest.raises(ValueError, match="requires y to be passed"):
        measure_pruning_curve(fitted_net, X, None, sparsities=[0.5])


def _pruners_needing_y(fitted_net):
    from sparselimit import GlobalOneShotPruner, IterativePruner
    from sparselimit.blocks import BlockSparsifier

    quick = dict(dense_epochs=1, sparsify_epochs=1, sparse_epochs=1, finetune_epochs=1)
    return {
        "one-shot": GlobalOneShotPruner(_net(max_epochs=1), sparsity=0.5),
        "one-shot fine-tuning": GlobalOneShotPruner(fitted_net, prefit=True, fine_tune_epochs=1),
        "one-shot undecayed": GlobalOneShotPruner(fitted_net, prefit=True, importance="undecayed"),
        "one-shot auto": GlobalOneShotPruner(fitted_net, prefit=True, sparsity="auto"),
        "iterative": IterativePruner(_net(max_epochs=1), n_rounds=1, verbose=0),
        "blocks": BlockSparsifier(_net(), block_size=(1, 2), min_blocks=1, **quick),
    }


@pytest.mark.parametrize(
    "case",
    ["one-shot", "one-shot fine-tuning", "one-shot undecayed", "one-shot auto", "iterative"]
    + ["blocks"],
)
def test_pruners_without_y_name_it(fitted_net, case):
    """The pruners passed y=None to skorch, whose error speaks of DataLoaders (or, for the
    undecayed gradient pass, of a NaN loss against placeholder targets)."""
    X, _ = _data()
    pruner = _pruners_needing_y(fitted_net)[case]
    before = copy.deepcopy(fitted_net.module_.state_dict())
    with pytest.raises(ValueError, match=r"requires y to be passed, but the target y is None"):
        pruner.fit(X)
    after = fitted_net.module_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_pruners_without_y_run_where_y_is_not_needed(fitted_net):
    """Magnitude pruning of a fitted net needs no targets, a Dataset X carries its own, and a
    net with its own DataLoader may make them (skorch's rule)."""
    from sparselimit import GlobalOneShotPruner, IterativePruner

    X, y = _data()
    one_shot = GlobalOneShotPruner(fitted_net, prefit=True, sparsity=0.5).fit(X)
    ref = GlobalOneShotPruner(fitted_net, prefit=True, sparsity=0.5).fit(X, y)
    for name, mask in ref.masks_.items():
        assert torch.equal(one_shot.masks_[name], mask)

    class _Targets(torch.utils.data.DataLoader):  # a loader yielding (X, y) from X alone
        def __iter__(self):
            for Xb, _ in super().__iter__():
                yield Xb, (Xb[:, 0] + Xb[:, 1] > 0).long()

    net = _net(max_epochs=1, iterator_train=_Targets, iterator_valid=_Targets)
    pruner = IterativePruner(net, n_rounds=1, retrain_epochs=1, verbose=0).fit(X)
    assert 0.0 < pruner.sparsity_ < 1.0


# -- a bfloat16 network predicts (NumPy has no bfloat16) ---------------------------------------


def test_bfloat16_net_predicts_in_float32():
    from skorch.dataset import ValidSplit

    from sparselimit import GlobalOneShotPruner

    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the default ValidSplit scores valid_acc through predict at every epoch
        net = _net(torch.bfloat16, max_epochs=3, train_split=ValidSplit(4)).fit(X, y)
    assert np.isfinite(net.history[:, "valid_acc"]).all()
    proba = net.predict_proba(X)
    with torch.no_grad():
        ref = torch.softmax(net.module_(torch.tensor(X, dtype=torch.bfloat16)), dim=1)
    assert proba.dtype == np.float32
    np.testing.assert_array_equal(proba, ref.float().numpy())
    np.testing.assert_array_equal(net.predict(X), ref.argmax(dim=1).numpy())
    pruned = GlobalOneShotPruner(net, sparsity=0.5, prefit=True).fit(X, y)
    assert pruned.estimator_.module_[0].weight.dtype == torch.bfloat16
    assert 0.0 <= pruned.score(X, y) <= 1.0


# -- integer X: indices pass, integer features into float layers get the fix -------------------


def test_integer_features_into_a_float_net_name_the_cast():
    X, y = _data()
    images = (np.abs(X) * 40).astype(np.uint8)
    with pytest.raises(TypeError, match=r"X holds integers \(torch.uint8\).*astype\('float32'\)"):
        _net(max_epochs=1).fit(images, y)
    # integer inputs are indices for an embedding, and pass unchanged
    tokens = np.random.RandomState(0).randint(0, 10, size=(120, 3))
    torch.manual_seed(0)
    module = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    net = L1RegularizedClassifier(
        module, criterion=nn.CrossEntropyLoss, max_epochs=2, train_split=None, verbose=0
    ).fit(tokens, y)
    with torch.no_grad():
        ref = module(torch.as_tensor(tokens)).argmax(dim=1).numpy()
    np.testing.assert_array_equal(net.predict(tokens), ref)


# -- masks and importances that are not torch tensors ------------------------------------------


def test_masks_and_scores_that_are_not_torch_tensors_name_the_conversion():
    from sparselimit import PQIndex, prune_global

    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    masks = prune_global(module, 0.5, copy=True).masks
    as_numpy = {k: m.numpy() for k, m in masks.items()}
    with pytest.raises(TypeError, match=r"got a ndarray of dtype bool.*torch\.as_tensor"):
        prune_global(module, 0.8, copy=True, masks=as_numpy)
    with pytest.raises(TypeError, match=r"got list.*torch\.as_tensor"):  # was AttributeError
        PQIndex().score(module, masks={k: m.tolist() for k, m in masks.items()})
    with pytest.raises(TypeError, match=r"got a torch\.float32 tensor.*mask\.bool\(\)"):
        PQIndex().score(module, masks={k: m.float() for k, m in masks.items()})
    # converted as the messages say, they give the bool masks' result
    converted = {k: torch.as_tensor(m).bool() for k, m in as_numpy.items()}
    assert PQIndex().score(module, masks=converted) == PQIndex().score(module, masks=masks)
    with pytest.raises(TypeError, match=r"returned a ndarray.*torch\.as_tensor"):
        prune_global(module, 0.5, copy=True, importance=lambda n, p: p.detach().abs().numpy())


# -- load_task (the command line's --data): a column y, integer labels read exactly ------------


def test_load_task_takes_a_column_of_labels(tmp_path):
    from sparselimit.datasets import load_task

    X, y = _data(n=40, d=3)
    np.savez(tmp_path / "flat.npz", X=X, y=y)
    np.savez(tmp_path / "column.npz", X=X, y=y[:, None])
    flat, column = load_task(str(tmp_path / "flat.npz")), load_task(str(tmp_path / "column.npz"))
    np.testing.assert_array_equal(column.y_train, flat.y_train)
    np.testing.assert_array_equal(column.X_train, flat.X_train)


def test_csv_integer_labels_are_read_exactly(tmp_path):
    from sparselimit.datasets import load_task

    rng = np.random.RandomState(0)
    big = [2**53, 2**53 + 1]  # one float64, two int64 values
    rows = [f"{a:.3f},{b:.3f},{big[i % 2]}" for i, (a, b) in enumerate(rng.randn(20, 2))]
    (tmp_path / "ids.csv").write_text("\n".join(rows))
    task = load_task(str(tmp_path / "ids.csv"))  # was: "y holds a single class"
    assert task.classes.tolist() == big and task.classes.dtype == np.int64
    huge = ["12345678901234567891", "7"]  # beyond int64: class names, not a wrapped integer
    rows = [f"{a:.3f},{b:.3f},{huge[i % 2]}" for i, (a, b) in enumerate(rng.randn(20, 2))]
    (tmp_path / "huge.csv").write_text("\n".join(rows))
    assert sorted(load_task(str(tmp_path / "huge.csv")).classes.tolist()) == sorted(huge)


# -- NumPy views with negative strides (X[::-1], np.flip) --------------------------------------


def test_reversed_views_give_what_their_copies_give(fitted_net):
    from sparselimit import measure_pruning_curve
    from sparselimit.metrics import recall_distortion_report

    X, y = _data()
    Xr, yr = X[::-1], y[::-1]  # views: torch.as_tensor refuses their negative strides
    Xc, yc = Xr.copy(), yr.copy()
    kw = dict(prefit=True, n_probes=1, n_lanczos_steps=8, random_state=0, max_samples=90)
    got = HessianSpectrum(fitted_net, **kw).fit(Xr, yr).trace_
    assert got == HessianSpectrum(fitted_net, **kw).fit(Xc, yc).trace_
    v = torch.ones(sum(p.numel() for p in fitted_net.module_.parameters() if p.dim() > 1))
    op = HessianOperator(fitted_net.module_, nn.CrossEntropyLoss(), Xr, yr)
    assert torch.equal(
        op @ v, HessianOperator(fitted_net.module_, nn.CrossEntropyLoss(), Xc, yc) @ v
    )
    sweep = dict(sparsities=[0.0, 0.5, 0.9])
    got = measure_pruning_curve(fitted_net, Xr, yr, **sweep)
    ref = measure_pruning_curve(fitted_net, Xc, yc, **sweep)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.losses, ref.losses)
    module = fitted_net.module_
    assert recall_distortion_report(module, module, Xr, yr) == recall_distortion_report(
        module, module, Xc, yc
    )


def test_curve_of_bfloat16_regressor_scores_r2():
    from sklearn.metrics import r2_score

    from sparselimit import L1RegularizedRegressor, measure_pruning_curve

    X, _ = _data(n=100, d=5)
    y = (X @ np.array([1.0, -1.0, 0.5, 0.0, 0.0], dtype=np.float32))[:, None]
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1)).to(torch.bfloat16)
    net = L1RegularizedRegressor(module, max_epochs=5, lr=0.05, train_split=None, verbose=0)
    net.fit(X, y)
    curve = measure_pruning_curve(net, X, y, sparsities=[0.0])
    assert curve.scores[0] == pytest.approx(r2_score(y, net.predict(X)), abs=1e-6)


@pytest.mark.parametrize("where", ["2.weight", "2.bias"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_curve_refuses_a_net_with_non_finite_weights(fitted_net, where, bad):
    from sparselimit import measure_pruning_curve

    X, y = _data()
    net = copy.deepcopy(fitted_net)
    with torch.no_grad():
        net.module_.get_parameter(where).view(-1)[0] = bad
    # it used to score every point the same (argmax of NaN logits), with no word of warning
    with pytest.raises(ValueError, match=rf"Parameter '{where}'.*NaN or infinity"):
        measure_pruning_curve(net, X, y, sparsities=[0.0, 0.5])


def test_default_net_takes_tensors_that_require_grad():
    from sparselimit import GlobalOneShotPruner

    X, y = _data(n=100, d=5)
    Xg = torch.tensor(X, requires_grad=True)
    yg = torch.tensor(X[:, :1] - X[:, 1:2], requires_grad=True)  # a regression target
    kw = dict(sparsity=0.5, random_state=0)
    ref = GlobalOneShotPruner(**kw).fit(X, y)
    got = GlobalOneShotPruner(**kw).fit(Xg, y)
    np.testing.assert_array_equal(got.predict_proba(Xg), ref.predict_proba(X))
    reg = GlobalOneShotPruner(**kw).fit(Xg, yg)
    ref = GlobalOneShotPruner(**kw).fit(X, yg.detach().numpy())
    np.testing.assert_array_equal(reg.predict(Xg), ref.predict(X))


def test_a_list_X_records_the_feature_count_and_every_2d_X_is_checked_against_it():
    # fitted on a list of rows, the pruners kept no n_features_in_ (scikit-learn counts the
    # columns of a list too); a list or sparse X of the wrong width reached the net, which
    # failed with torch's "mat1 and mat2 shapes cannot be multiplied"
    import scipy.sparse as sp

    from sparselimit import GlobalOneShotPruner, IterativePruner
    from sparselimit.blocks import BlockSparsifier

    X, y = _data(n=40, d=6)
    for est in (
        GlobalOneShotPruner(_net(max_epochs=1), sparsity=0.5),
        IterativePruner(_net(max_epochs=1), n_rounds=1, verbose=0),
        BlockSparsifier(_net(max_epochs=1, l1_alpha=0.0), block_size=2, min_blocks=1),
    ):
        est.fit(X.tolist(), y.tolist())
        assert est.n_features_in_ == 6
        np.testing.assert_array_equal(est.predict(X.tolist()), est.predict(X))
        for narrow in (X[:, :5], X[:, :5].tolist(), sp.csr_matrix(X[:, :5])):
            with pytest.raises(ValueError, match="X has 5 features, but .* is expecting 6"):
                est.predict(narrow)
    # a list of arrays is skorch's form for a module with several inputs: no feature count
    from sparselimit.utils._validation import _n_columns

    assert _n_columns([X[:, 0], X[:, 1]]) is None and _n_columns(X.tolist()) == 6
