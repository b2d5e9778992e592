"""PruningLimitEstimator: contract, exact reference, and the consequences the theory predicts."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from skorch import NeuralNetClassifier, NeuralNetRegressor
from torch import nn

from sparselimit import L1RegularizedClassifier
from sparselimit.curvature import HessianOperator
from sparselimit.limit import LimitRegimeWarning, PruningLimitEstimator, limit_report
from sparselimit.limit._exact import dense_hessian

from ._helpers import fit_seeded, make_net


def _exact(net, X=None, y=None, **kw):
    """An exact-spectrum estimator on a prefit net, fitted (regime warnings silenced) if X."""
    params = dict(prefit=True, spectrum="exact", epsilon_batch_size=64, random_state=0)
    params.update(kw)
    est = PruningLimitEstimator(net, **params)
    if X is None:
        return est
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)
        return est.fit(X, y)


def _state(net):
    return {k: v.clone() for k, v in net.module_.state_dict().items()}


def test_bce_one_logit_l1_classifier_matches_brute_force(data):
    """An L1 classifier on one BCE logit with 0/1 integer labels (refused in training before):
    the exact limit solves rho = G(R(rho)) of the dense Hessian of the mean BCE loss."""
    X, y = data
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = nn.Sequential(nn.Linear(X.shape[1], 6), nn.Tanh(), nn.Linear(6, 1))
        net = L1RegularizedClassifier(
            module,
            criterion=nn.BCEWithLogitsLoss,
            l1_alpha=1e-3,
            lr=0.1,
            max_epochs=10,
            train_split=None,
            verbose=0,
        ).fit(X, y)
    est = _exact(net, X, y, epsilon=0.01)
    m64 = copy.deepcopy(net.module_).double().eval()
    names = ["0.weight", "2.weight"]
    params = dict(m64.named_parameters())
    shapes = [params[n].shape for n in names]
    sizes = [int(np.prod(s)) for s in shapes]
    fixed = {n: p.detach() for n, p in params.items() if n not in names}
    Xt, yt = torch.as_tensor(X).double(), torch.as_tensor(y).double()[:, None]

    def f(w):
        parts = dict(zip(names, (t.view(s) for t, s in zip(w.split(sizes), shapes))))
        out = torch.func.functional_call(m64, {**fixed, **parts}, (Xt,))
        return nn.functional.binary_cross_entropy_with_logits(out, yt)

    w0 = torch.cat([params[n].detach().reshape(-1) for n in names])
    lam = np.linalg.eigvalsh(torch.func.hessian(f)(w0).numpy())
    assert est.loss_ == pytest.approx(float(f(w0)), rel=1e-6)
    w2 = np.concatenate([[0.0], np.cumsum(np.sort(w0.numpy() ** 2))])

    def gap(rho):  # rho - G(R(rho)), R^2 interpolated linearly between the points k / D
        r2 = np.interp(rho * len(w0), np.arange(len(w2)), w2)
        return rho - np.mean(1 / (1 + r2 * np.abs(lam) / (2 * 0.01)))

    lo, hi = 0.0, 1.0
    for _ in range(60):
        lo, hi = (lo, (lo + hi) / 2) if gap((lo + hi) / 2) > 0 else ((lo + hi) / 2, hi)
    assert est.pruning_limit_ == pytest.approx(lo, abs=1e-5)


def test_exact_mode_matches_brute_force(fitted_net, data):
    X, y = data
    est = _exact(fitted_net, X, y)
    # brute force: dense Hessian with torch.func.hessian, all eigenvalues, scan rho
    module = fitted_net.module_
    m64 = copy.deepcopy(module).double().eval()
    names = ["0.weight", "2.weight"]
    shapes = [dict(m64.named_parameters())[n].shape for n in names]
    sizes = [int(np.prod(s)) for s in shapes]
    fixed = {n: p.detach() for n, p in m64.named_parameters() if n not in names}
    Xt, yt = torch.as_tensor(X).double(), torch.as_tensor(y)

    def f(w):
        parts = dict(zip(names, (t.view(s) for t, s in zip(w.split(sizes), shapes))))
        out = torch.func.functional_call(m64, {**fixed, **parts}, (Xt,))
        return nn.functional.cross_entropy(out, yt)

    w0 = torch.cat([dict(m64.named_parameters())[n].detach().reshape(-1) for n in names])
    H = torch.autograd.functional.hessian(f, w0).numpy()
    lam = np.linalg.eigvalsh(H)
    w_abs = np.sort(np.abs(w0.numpy()))
    D = w0.numel()
    eps = est.epsilon_
    grid = np.arange(D + 1) / D
    R = np.sqrt(np.concatenate([[0.0], np.cumsum(w_abs**2)]))
    G = np.array([np.mean(1 / (1 + r**2 * np.abs(lam) / (2 * eps))) for r in R])
    k = np.argmax(grid - G >= 0)  # first grid point past the crossing
    assert grid[k - 1] <= est.pruning_limit_ <= grid[k] + 1e-9
    assert est.n_params_ == D
    assert est.sharpness_ == pytest.approx(np.trace(H) / D, rel=1e-6)
    # the estimator's own dense Hessian agrees with autograd's
    op = HessianOperator(
        module,
        nn.functional.cross_entropy,
        X,
        y,
        params=names,
        batch_size=100,
        dtype=torch.float64,
    )
    H2 = dense_hessian(op)
    np.testing.assert_allclose(H2, H, atol=1e-10)


def test_fitted_attributes_and_interval(fitted_net, data):
    X, y = data
    est = _exact(fitted_net, X, y)
    lo, hi = est.pruning_limit_interval_
    assert 0 <= lo <= est.pruning_limit_ <= hi < 1
    assert est.keep_ratio_ == pytest.approx(1 - est.pruning_limit_)
    assert est.predict_ratio() == est.pruning_limit_
    assert est.jensen_limit_ <= est.pruning_limit_ + 1e-6
    assert est.probe_limits_.shape == (1,)
    rho, R = est.radius_curve_
    assert rho[0] == 0 and R[0] == 0 and np.all(np.diff(R) >= 0)
    Rw, Gw = est.width_curve_
    assert Gw[0] == pytest.approx(1.0) and np.all(np.diff(Gw) <= 1e-12)
    assert set(est.timings_) >= {"train", "epsilon", "radius", "spectrum", "solve", "total"}
    assert est.n_lanczos_steps_ == int(est.spectrum_.n_steps.max())
    report = limit_report(est)
    import json

    json.dumps(report)


def test_larger_epsilon_raises_the_limit_without_new_hessian_work(fitted_net, data, monkeypatch):
    X, y = data
    est = _exact(fitted_net, X, y)
    import sparselimit.limit._estimator as mod

    def boom(*a, **k):
        raise AssertionError("predict_ratio must not compute a Hessian")

    monkeypatch.setattr(mod, "dense_hessian", boom)
    eps = est.epsilon_
    values = [est.predict_ratio(epsilon=e) for e in (eps / 10, eps, eps * 10, eps * 100)]
    assert values[1] == pytest.approx(est.pruning_limit_, abs=1e-6)
    assert all(b > a for a, b in zip(values, values[1:]))
    monkeypatch.undo()
    # and refitting with epsilon given as a float gives the same number
    est2 = _exact(fitted_net, X, y, epsilon=eps * 10)
    assert est2.pruning_limit_ == pytest.approx(values[2], abs=1e-6)
    with pytest.raises(ValueError, match="epsilon"):
        est.predict_ratio(epsilon=-1.0)


def test_scaling_the_weights_lowers_the_prediction():
    # A linear least-squares net: its Hessian 2 X^T X / n does not depend on the weights, so
    # scaling the weights by c > 1 changes R(rho) -> c R(rho) and nothing else the formula uses
    # (epsilon is held fixed as a float). The theory says the limit must drop.
    rng = np.random.RandomState(0)
    X = rng.randn(200, 30).astype(np.float32)
    y = (X @ rng.randn(30, 1)).astype(np.float32)
    net = NeuralNetRegressor(
        nn.Linear(30, 1, bias=False), max_epochs=1, verbose=0, train_split=None
    ).initialize()
    with torch.no_grad():
        net.module_.weight.copy_(torch.from_numpy(rng.randn(1, 30).astype(np.float32)))
    preds = []
    for c in (1.0, 2.0, 4.0):
        scaled = copy.deepcopy(net)
        with torch.no_grad():
            scaled.module_.weight.mul_(c)
        est = _exact(scaled, X, y, epsilon=0.5)
        preds.append(est.pruning_limit_)
        lam = np.linalg.eigvalsh(2 * X.T.astype(np.float64) @ X / 200)
        np.testing.assert_allclose(np.sort(est.spectrum_.nodes.ravel()), lam, rtol=1e-5)
    assert preds[0] > preds[1] > preds[2]


def test_mostly_zero_network_predicts_at_least_its_zero_fraction(fitted_net, data):
    X, y = data
    net = copy.deepcopy(fitted_net)
    w = [p for n, p in net.module_.named_parameters() if n.endswith("weight")]
    flat = torch.cat([p.detach().abs().reshape(-1) for p in w])
    D = flat.numel()
    k = int(0.85 * D)
    thr = flat.sort().values[k - 1]
    with torch.no_grad():
        for p in w:
            p[p.abs() <= thr] = 0.0
    zero_fraction = float((torch.cat([p.reshape(-1) for p in w]) == 0).float().mean())
    est = _exact(net, X, y, epsilon=0.05)
    assert est.diagnostics_["zero_weight_fraction"] == pytest.approx(zero_fraction)
    assert est.pruning_limit_ >= zero_fraction - 1.0 / D


def test_flat_counts_negative_eigenvalues_as_flat(fitted_net, data):
    X, y = data
    a = _exact(fitted_net, X, y)
    f = _exact(fitted_net, X, y, negative_eigenvalues="flat")
    assert f.pruning_limit_ >= a.pruning_limit_ - 1e-9


def test_deflation_does_not_change_the_exact_prediction(fitted_net, data):
    X, y = data
    a = _exact(fitted_net, X, y, deflate_zero_rows=True)
    b = _exact(fitted_net, X, y, deflate_zero_rows=False)
    assert b.zero_row_fraction_ == 0.0
    assert a.pruning_limit_ == pytest.approx(b.pruning_limit_, abs=1e-5)


def test_prefit_does_not_mutate_the_users_net(fitted_net, data):
    X, y = data
    before = _state(fitted_net)
    fitted_net.module_.train()
    est = _exact(fitted_net, X, y)
    after = _state(fitted_net)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert fitted_net.module_.training
    assert est.estimator_ is not fitted_net


def test_not_prefit_fits_a_clone(data):
    X, y = data
    net = make_net(max_epochs=3)
    est = PruningLimitEstimator(net, spectrum="exact", epsilon_batch_size=64, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)
        est.fit(X, y)
    assert not hasattr(net, "module_")
    assert est.timings_["train"] > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)
        est2 = clone(est).fit(X, y)
    assert est2.pruning_limit_ == pytest.approx(est.pruning_limit_, abs=1e-6)  # seeded


def test_default_estimator(data):
    X, y = data
    est = PruningLimitEstimator(spectrum="exact", epsilon_batch_size=64, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)
        est.fit(X, y + 3)  # any labels
    assert 0 <= est.pruning_limit_ < 1
    assert est.estimator_.l1_alpha == 1e-4
    np.testing.assert_array_equal(est.classes_, [3, 4])


def test_default_estimator_labels_targets_and_their_errors(data):
    from sparselimit import L1RegularizedClassifier, L1RegularizedRegressor
    from sparselimit.limit import measure_pruning_curve

    X, y = data
    kw = dict(n_lanczos_steps=4, epsilon_batch_size=64, random_state=0)
    names = np.array(["neg", "pos"])[y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)
        est = PruningLimitEstimator(**kw).fit(X, names)
        assert isinstance(est.estimator_, L1RegularizedClassifier)
        np.testing.assert_array_equal(est.classes_, ["neg", "pos"])
        # the curve encodes the labels as the net was trained: same as the codes themselves
        by_name = measure_pruning_curve(est, X, names, sparsities=[0.0, 0.5])
        by_code = measure_pruning_curve(est.estimator_, X, y, sparsities=[0.0, 0.5])
        np.testing.assert_array_equal(by_name.scores, by_code.scores)
        with pytest.raises(ValueError, match="not trained on"):
            measure_pruning_curve(est, X, np.where(y, "pos", "other"), sparsities=[0.5])
        # a floating target is regression, whole-valued or not (one class per value before)
        reg = PruningLimitEstimator(**kw).fit(X, (X[:, 0] > 0).astype(np.float64) + 1.0)
        assert isinstance(reg.estimator_, L1RegularizedRegressor) and reg.classes_ is None
    with pytest.raises(ValueError, match="only one class"):
        PruningLimitEstimator(**kw).fit(X, np.zeros(len(X), dtype=np.int64))
    with pytest.raises(ValueError, match="Standardise y"):  # diverges at lr 0.05
        PruningLimitEstimator(**kw).fit(X, 1e6 * X[:, 0].astype(np.float64))


def test_clone_and_pickle_before_and_after_fit(fitted_net, data):
    X, y = data
    est = _exact(fitted_net)
    assert clone(est).get_params()["spectrum"] == "exact"
    pickle.loads(pickle.dumps(est))
    est = _exact(fitted_net, X, y)
    est2 = pickle.loads(pickle.dumps(est))
    assert est2.pruning_limit_ == est.pruning_limit_
    assert est2.predict_ratio(epsilon=0.1) == est.predict_ratio(epsilon=0.1)
    c = clone(est)
    assert not hasattr(c, "pruning_limit_")


def test_validation_errors(fitted_net, data):
    X, y = data
    with pytest.raises(NotFittedError):
        PruningLimitEstimator().predict_ratio()
    with pytest.raises(ValueError, match="n_probes"):
        PruningLimitEstimator(fitted_net, prefit=True, n_probes=0).fit(X, y)
    with pytest.raises(ValueError, match="epsilon"):
        PruningLimitEstimator(fitted_net, prefit=True, epsilon=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="spectrum"):
        PruningLimitEstimator(fitted_net, prefit=True, spectrum="dense").fit(X, y)
    with pytest.raises(NotFittedError):
        PruningLimitEstimator(make_net(), prefit=True).fit(X, y)
    with pytest.raises(TypeError, match="skorch"):
        PruningLimitEstimator(nn.Linear(2, 2)).fit(X, y)


def _ce(net, X, y):
    with torch.no_grad():
        out = net.module_(torch.as_tensor(X))
    return nn.functional.cross_entropy(out, torch.as_tensor(y), reduction="none").numpy()


def test_batch_std_is_the_papers_consecutive_batch_spread(fitted_net, data):
    X, y = data  # 256 samples: two full batches of 128
    est = PruningLimitEstimator(fitted_net, prefit=True, spectrum="exact").fit(X, y)
    ce = _ce(fitted_net, X, y)
    assert est.epsilon_rule_ == "batch_std" == est.diagnostics_["epsilon_rule"]
    assert est.epsilon_ == pytest.approx(np.std([ce[:128].mean(), ce[128:].mean()]), rel=1e-5)


def test_random_batch_std_rule_and_the_small_data_fallback(fitted_net, data):
    # the standard deviation of a random batch's mean, std(l) / sqrt(128): asked for, and the
    # fallback of "batch_std" on 100 samples (fewer than two full batches of 128)
    X, y = data
    kw = dict(prefit=True, spectrum="exact")
    asked = PruningLimitEstimator(fitted_net, epsilon="random_batch_std", **kw).fit(X, y)
    assert asked.epsilon_rule_ == "random_batch_std"
    assert asked.epsilon_ == pytest.approx(np.std(_ce(fitted_net, X, y)) / np.sqrt(128), rel=1e-5)
    small = PruningLimitEstimator(fitted_net, **kw).fit(X[:100], y[:100])
    assert small.epsilon_rule_ == "random_batch_std"
    ce = _ce(fitted_net, X[:100], y[:100])
    assert small.epsilon_ == pytest.approx(np.std(ce) / np.sqrt(128), rel=1e-5)
    assert 0.0 < small.pruning_limit_ < 1.0
    assert PruningLimitEstimator(fitted_net, epsilon=0.01, **kw).fit(X, y).epsilon_rule_ == "float"


# ------------------------------------------------------------------ regime warnings
def test_warns_without_l1(data):
    X, y = data
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=5,
        lr=0.1,
        train_split=None,
        verbose=0,
    )
    net = fit_seeded(net, X, y)
    est = PruningLimitEstimator(net, prefit=True, spectrum="exact", epsilon_batch_size=64)
    with pytest.warns(LimitRegimeWarning, match="L1"):
        est.fit(X, y)
    assert not est.diagnostics_["in_regime"]
    assert any("L1" in m for m in est.diagnostics_["warnings"])


def test_warns_when_epsilon_is_tiny(fitted_net, data):
    X, y = data
    est = PruningLimitEstimator(fitted_net, prefit=True, spectrum="exact", epsilon=1e-9)
    with pytest.warns(LimitRegimeWarning, match="tiny relative to the loss"):
        est.fit(X, y)


class _Square(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(5, 1, bias=False)

    def forward(self, x):
        return self.lin(x) ** 2


def test_warns_on_a_large_negative_spectrum():
    # f(x) = (w.x)^2 fitted to y = 1 from w ~ 0: the loss is locally concave (a maximum)
    rng = np.random.RandomState(0)
    X = rng.randn(256, 5).astype(np.float32)
    y = np.ones((256, 1), dtype=np.float32)
    net = NeuralNetRegressor(_Square, max_epochs=1, verbose=0, train_split=None).initialize()
    with torch.no_grad():
        net.module_.lin.weight.mul_(1e-3)
    est = PruningLimitEstimator(net, prefit=True, spectrum="exact", epsilon_batch_size=64)
    with pytest.warns(LimitRegimeWarning, match="negative eigenvalues"):
        est.fit(X, y)
    assert est.diagnostics_["negative_mass"] > 0.9


def test_l1loss_gets_its_own_regime_warning_not_train_longer():
    """L1Loss is piecewise linear in the outputs: its Hessian is the network's curvature
    weighted by the residuals' signs, largely negative at any training length. The warning
    says so instead of blaming the training ("not near a minimum ... train longer")."""
    from sparselimit import L1RegularizedRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(300, 4).astype(np.float32)
    y = np.tanh(X[:, :1] - X[:, 1:2]) + 0.1 * rng.randn(300, 1).astype(np.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 1))
        net = L1RegularizedRegressor(
            module,
            criterion=nn.L1Loss,
            l1_alpha=1e-4,
            lr=0.05,
            max_epochs=20,
            verbose=0,
            train_split=None,
        ).fit(X, y)
    est = PruningLimitEstimator(net, prefit=True, spectrum="exact", epsilon=0.01)
    with pytest.warns(LimitRegimeWarning, match="L1Loss") as record:
        est.fit(X, y)
    assert not any("Train longer" in str(w.message) for w in record)
    # the negative share, from the dense Hessian of mean |f(x) - y| by torch.func.hessian
    m64 = copy.deepcopy(net.module_).double()
    params = dict(m64.named_parameters())
    names, fixed = ["0.weight", "2.weight"], {n: p.detach() for n, p in params.items()}
    shapes = [params[n].shape for n in names]

    def f(w):
        parts = dict(zip(names, (t.view(s) for t, s in zip(w.split([24, 6]), shapes))))
        out = torch.func.functional_call(m64, {**fixed, **parts}, (torch.as_tensor(X).double(),))
        return (out - torch.as_tensor(y).double()).abs().mean()

    w0 = torch.cat([params[n].detach().reshape(-1) for n in names])
    lam = np.linalg.eigvalsh(torch.func.hessian(f)(w0).numpy())
    share = np.abs(lam[lam < 0]).sum() / np.abs(lam).sum()
    assert est.diagnostics_["negative_mass"] == pytest.approx(share, rel=1e-6)
    assert share > 0.2
    # the same weights under MSELoss: no L1Loss message
    mse = copy.deepcopy(net)
    mse.criterion_ = nn.MSELoss()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PruningLimitEstimator(mse, prefit=True, spectrum="exact", epsilon=0.01).fit(X, y)
    assert not any("L1Loss" in str(w.message) for w in caught)


def test_exact_spectrum_with_a_class_weighted_criterion_matches_slq():
    # the float64 exact path must cast the criterion's float32 class weights too
    rng = np.random.RandomState(0)
    X = rng.randn(120, 5).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    torch.manual_seed(0)
    net = L1RegularizedClassifier(
        nn.Sequential(nn.Linear(5, 48), nn.ReLU(), nn.Linear(48, 2)),
        criterion=nn.CrossEntropyLoss,
        criterion__weight=torch.tensor([1.0, 3.0]),
        l1_alpha=1e-3,
        lr=0.1,
        max_epochs=20,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    common = dict(prefit=True, epsilon=0.05, verbose=0)
    exact = PruningLimitEstimator(net, spectrum="exact", **common).fit(X, y)
    slq = PruningLimitEstimator(net, n_probes=16, random_state=0, **common).fit(X, y)
    assert exact.pruning_limit_ == pytest.approx(slq.pruning_limit_, abs=0.01)
    assert net.criterion_.weight.dtype == torch.float32  # the user's net is untouched
    assert exact.estimator_.criterion_.weight.dtype == torch.float32


def test_class_weighted_criterion_limit_and_loss_do_not_depend_on_batching():
    # CrossEntropyLoss(weight=w) averages by the total class weight, not the batch size
    rng = np.random.RandomState(1)
    X = rng.randn(150, 5).astype(np.float32)
    y = (X[:, 0] + 0.3 * rng.randn(150) > 0.8).astype(np.int64)  # imbalanced
    w = torch.tensor([1.0, 10.0])
    torch.manual_seed(0)
    net = L1RegularizedClassifier(
        nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2)),
        criterion=nn.CrossEntropyLoss,
        criterion__weight=w,
        l1_alpha=1e-3,
        lr=0.1,
        max_epochs=15,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    with torch.no_grad():
        out = net.module_(torch.as_tensor(X))
    full = float(nn.functional.cross_entropy(out, torch.as_tensor(y), weight=w))
    fits = [
        PruningLimitEstimator(
            net, prefit=True, batch_size=bs, epsilon=0.02, n_lanczos_steps=40, random_state=0
        ).fit(X, y)
        for bs in (7, 150)
    ]
    for est in fits:
        assert est.loss_ == pytest.approx(full, rel=1e-5)
    assert fits[0].pruning_limit_ == pytest.approx(fits[1].pruning_limit_, abs=1e-4)


def test_fit_without_y_is_refused_not_scored_against_class_0(fitted_net, data):
    # skorch's Dataset yields the target 0 for every sample when y is None: fit(X) used to
    # return a limit, epsilon and loss of labels all 0 (here the CE of class 0)
    X, y = data
    with pytest.raises(ValueError, match="requires y to be passed"):
        _exact(fitted_net, X, None)
    # a Dataset yielding (X, y) is the way to fit without a separate y: its own targets
    ds = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    got, ref = _exact(fitted_net, ds), _exact(fitted_net, X, y)
    assert got.loss_ == pytest.approx(float(_ce(fitted_net, X, y).mean()), rel=1e-5)
    assert got.pruning_limit_ == ref.pruning_limit_ and got.epsilon_ == ref.epsilon_


def test_prefit_unfitted_clone_names_frozen_estimator(fitted_net, data):
    # clone() of a prefit estimator holds an unfitted net: the error says why and what to do
    from sklearn.frozen import FrozenEstimator

    X, y = data
    est = clone(_exact(fitted_net))
    with pytest.raises(NotFittedError, match="prefit=True.*FrozenEstimator"):
        est.fit(X, y)
    frozen = clone(_exact(FrozenEstimator(fitted_net)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)
        assert frozen.fit(X, y).pruning_limit_ == _exact(fitted_net, X, y).pruning_limit_


def test_regime_warning_points_at_the_callers_fit(data):
    # the warning's file and line are the user's call of fit, not the library's internals
    X, y = data
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(X.shape[1], 4), nn.ReLU(), nn.Linear(4, 2)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=2,
        train_split=None,
        verbose=0,
    )
    net = fit_seeded(net, X, y)
    with pytest.warns(LimitRegimeWarning, match=r"L1 penalty \(it has no l1_alpha\)") as rec:
        _exact(net).fit(X, y)
    assert {w.filename for w in rec if w.category is LimitRegimeWarning} == {__file__}


def test_verbose_prints_true_stages_to_stdout(fitted_net, data, capsys):
    # like skorch's epoch table, on stdout; the exact spectrum runs no Lanczos steps
    X, y = data
    est = _exact(fitted_net, X, y, verbose=1)
    out, err = capsys.readouterr()
    D, n_zero = est.n_params_, est.spectrum_.n_zero_rows
    assert "[PruningLimitEstimator] epsilon=" in out and not err
    line = next(s for s in out.splitlines() if "spectrum:" in s)
    assert f"exact, {D}x{D} Hessian ({n_zero} zero rows deflated, {D - n_zero} eigenvalues)" in line
    assert "steps" not in line
    assert f"pruning limit {est.pruning_limit_:.4f}" in out
