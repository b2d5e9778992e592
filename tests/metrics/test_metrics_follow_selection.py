"""The metrics measure the weights the object itself pruned, follow fitted searches, accept
any NumPy view, and give transposed convolutions one neuron per output channel."""

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit import GlobalOneShotPruner, L1RegularizedClassifier
from sparselimit.metrics import (
    PQIndex,
    achieved_sparsity,
    pq_index,
    sparsity_report,
    sparsity_scorer,
)


def ref_pq(x, p=0.5, q=1.0):
    """The definition, I = 1 - d^(1/q - 1/p) ||x||_p / ||x||_q, in plain NumPy."""
    x = np.abs(np.asarray(x, dtype=np.float64)).ravel()
    d = x.size
    return 1.0 - d ** (1 / q - 1 / p) * (x**p).sum() ** (1 / p) / (x**q).sum() ** (1 / q)


class BodyHead(nn.Module):
    def __init__(self, seed=0):
        super().__init__()
        self.body = nn.Linear(4, 6)
        self.head = nn.Linear(6, 3)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen))

    def forward(self, X):
        return self.head(torch.relu(self.body(X)))


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4).astype("float32")
    y = (X[:, 0] > 0).astype("int64") + (X[:, 1] > 0.5).astype("int64")
    return X, y


def l1_net(**kwargs):
    params = dict(
        criterion=nn.CrossEntropyLoss,
        max_epochs=2,
        lr=0.05,
        train_split=None,
        iterator_train__shuffle=False,
        verbose=0,
    )
    return L1RegularizedClassifier(BodyHead, **{**params, **kwargs})


def zeros_and_size(module, names):
    """Exact zeros and entries of the named parameters, counted straight off the tensors."""
    params = dict(module.named_parameters())
    zeros = sum(int((params[n].detach() == 0).sum()) for n in names)
    return zeros, sum(params[n].numel() for n in names)


# --------------------------------------------------------------- 1. the object's own selection


@pytest.mark.parametrize(
    "make",
    [
        # the L1 net penalised (and so the pruner pruned) only the body
        lambda: GlobalOneShotPruner(l1_net(prunable_exclude=r"^head"), sparsity=0.5),
        # the pruner's own patterns
        lambda: GlobalOneShotPruner(l1_net(), sparsity=0.8, exclude=r"^head"),
        lambda: GlobalOneShotPruner(l1_net(), sparsity=0.7, include=r"^body\.weight$"),
    ],
)
def test_pruner_metrics_measure_the_pruned_weights(data, make):
    X, y = data
    pruner = make().set_params(random_state=0).fit(X, y)
    assert list(pruner.masks_) == ["body.weight"]
    module = pruner.estimator_.module_
    w = module.body.weight.detach()
    mask = pruner.masks_["body.weight"]
    n_removed = int((~mask).sum())
    zeros, size = zeros_and_size(module, ["body.weight"])
    assert size == 24 and zeros == n_removed  # masked entries are exactly the zeros

    report = sparsity_report(pruner)
    assert [r.name for r in report.layers] == ["body.weight"]
    assert (report.n_params, report.n_zero) == (24, n_removed)
    assert sparsity_scorer(pruner, X, y) == n_removed / 24 == pruner.sparsity_
    assert achieved_sparsity(pruner) == pruner.sparsity_

    assert list(PQIndex(scope="layer").score_units(pruner)) == ["body.weight"]
    assert PQIndex().score(pruner) == pytest.approx(ref_pq(w[mask].numpy()), rel=1e-12)
    neurons = PQIndex(scope="neuron").score_units(pruner)["body.weight"]
    expected = [ref_pq(w[i][mask[i]].numpy()) if mask[i].any() else np.nan for i in range(6)]
    np.testing.assert_allclose(neurons, expected, rtol=1e-9, atol=1e-12)

    # the caller's include / exclude still win
    all_w = ["body.weight", "head.weight"]
    zeros, size = zeros_and_size(module, all_w)
    assert [r.name for r in sparsity_report(pruner, include=r"weight$").layers] == all_w
    assert achieved_sparsity(pruner, include=r"weight$") == zeros / size
    assert sparsity_scorer(pruner, exclude=r"^body") == 0.0  # the head was not pruned
    head = module.head.weight.detach().numpy()
    assert PQIndex(include=r"^head\.weight$").score(pruner) == pytest.approx(
        ref_pq(head), rel=1e-12
    )


def test_unpruned_l1_net_measures_its_penalised_weights(data):
    X, y = data
    net = l1_net(prunable_include=r"^head\.").fit(X, y)
    with torch.no_grad():
        net.module_.head.weight[0] = 0.0
        net.module_.body.weight.zero_()  # not selected by the net: must not count
    names = ["head.weight", "head.bias"]
    assert [r.name for r in sparsity_report(net).layers] == names
    zeros, size = zeros_and_size(net.module_, names)
    assert size == 21 and zeros >= 6
    assert achieved_sparsity(net) == zeros / size
    kept = torch.cat([net.module_.head.weight.detach().ravel(), net.module_.head.bias.detach()])
    assert PQIndex().score(net) == pytest.approx(ref_pq(kept.numpy()), rel=1e-12)
    # explicit patterns replace the net's own ones
    assert [r.name for r in sparsity_report(net, exclude="nothing").layers] == [
        "body.weight",
        "head.weight",
    ]


class FakeMeta(BaseEstimator):
    """A fitted meta-estimator without masks_ (like PruningLimitEstimator)."""

    def __init__(self, estimator=None, include=None, exclude=None):
        self.estimator = estimator
        self.include = include
        self.exclude = exclude


def test_meta_estimator_patterns_then_inner_net_patterns(data):
    X, y = data
    net = l1_net(prunable_exclude=r"^body").fit(X, y)
    with torch.no_grad():
        net.module_.body.weight[:2] = 0.0  # 8 zeros in the body
        net.module_.head.weight[0] = 0.0  # 6 zeros in the head
    meta = FakeMeta(net, include=r"^body\.weight$")
    meta.estimator_ = net
    assert [r.name for r in sparsity_report(meta).layers] == ["body.weight"]
    assert achieved_sparsity(meta) == 8 / 24
    meta.include = None  # nothing on the meta-estimator: the inner net's own selection
    assert [r.name for r in sparsity_report(meta).layers] == ["head.weight"]
    assert achieved_sparsity(meta) == 6 / 18
    pipe = Pipeline([("id", FunctionTransformer()), ("meta", meta)])
    assert sparsity_scorer(pipe) == 6 / 18


def test_mask_enforcer_on_a_net_does_not_narrow_the_selection():
    from sparselimit.training import MaskEnforcer

    X = np.zeros((4, 4), dtype="float32")
    y = np.array([0, 1, 2, 0])
    masks = {"body.weight": torch.arange(24).reshape(6, 4) % 3 != 0}
    net = NeuralNetClassifier(
        BodyHead, max_epochs=0, train_split=None, verbose=0, callbacks=[MaskEnforcer(masks)]
    ).fit(X, y)
    with torch.no_grad():
        net.module_.body.weight[~masks["body.weight"]] = 0.0
    assert [r.name for r in sparsity_report(net).layers] == ["body.weight", "head.weight"]
    kept = np.r_[
        net.module_.body.weight.detach()[masks["body.weight"]].numpy(),
        net.module_.head.weight.detach().numpy().ravel(),
    ]
    assert PQIndex().score(net) == pytest.approx(ref_pq(kept), rel=1e-12)
    net.masks_ = masks  # masks on the net itself: the same, kept entries only
    assert [r.name for r in sparsity_report(net).layers] == ["body.weight", "head.weight"]
    assert PQIndex().score(net) == pytest.approx(ref_pq(kept), rel=1e-12)


# --------------------------------------------------------------------- 2. fitted searches


@pytest.mark.parametrize("kind", ["grid", "random"])
def test_metrics_on_a_fitted_search_use_its_best_estimator(data, kind):
    X, y = data
    pruner = GlobalOneShotPruner(l1_net(max_epochs=1), exclude=r"^head", random_state=0)
    pipe = Pipeline([("id", FunctionTransformer()), ("prune", pruner)])
    grid = {"prune__sparsity": [0.25, 0.75]}
    if kind == "grid":
        search = GridSearchCV(pipe, grid, cv=2, scoring=sparsity_scorer)
    else:
        search = RandomizedSearchCV(pipe, grid, n_iter=2, cv=2, scoring=sparsity_scorer)
    search.fit(X, y)
    best = search.best_estimator_[-1]
    # scored by the pruned weights only: the sparser candidate wins, at its exact sparsity
    assert search.best_params_ == {"prune__sparsity": 0.75}
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"][[0, 1]], [6 / 24, 18 / 24])
    report = sparsity_report(search)
    assert [r.name for r in report.layers] == ["body.weight"]
    assert report.n_zero == int((~best.masks_["body.weight"]).sum()) == 18
    w = best.estimator_.module_.body.weight.detach()
    kept = w[best.masks_["body.weight"]].numpy()
    assert PQIndex().score(search) == pytest.approx(ref_pq(kept), rel=1e-12)
    assert PQIndex()(search, X, y) == PQIndex().score(best)


def test_search_without_refit_or_not_fitted(data):
    X, y = data
    pruner = GlobalOneShotPruner(l1_net(max_epochs=1), random_state=0)
    search = GridSearchCV(pruner, {"sparsity": [0.5]}, cv=2, scoring=sparsity_scorer)
    with pytest.raises(NotFittedError, match="not fitted"):
        sparsity_report(search)
    search.set_params(refit=False).fit(X, y)
    for measure in (sparsity_report, PQIndex().score, achieved_sparsity):
        with pytest.raises(ValueError, match="refit=False"):
            measure(search)


# ------------------------------------------------------------------ 3. negative strides


def test_views_with_negative_or_odd_strides():
    w = np.arange(1.0, 13.0) ** 2 * np.r_[1, 0, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1]
    expected = ref_pq(w)
    assert pq_index(w) == pytest.approx(expected, rel=1e-12)
    assert pq_index(w[::-1]) == pytest.approx(expected, rel=1e-12)
    assert pq_index(np.flip(w.reshape(3, 4), axis=(0, 1))) == pytest.approx(expected, rel=1e-12)
    assert pq_index(w[::-2], 1.0, 2.0) == pytest.approx(ref_pq(w[1::2], 1.0, 2.0), rel=1e-12)
    assert PQIndex().score(np.flip(w)) == pytest.approx(expected, rel=1e-12)
    mask = np.arange(12) % 4 != 1
    assert pq_index(w[::-1], mask=mask[::-1]) == pytest.approx(ref_pq(w[mask]), rel=1e-12)


# ---------------------------------------------------- 4. neurons of transposed convolutions


def unit_patterns(layer, in_channels, spatial):
    """For each output channel, the weight entries it depends on, found by autograd."""
    x = torch.ones(1, in_channels, *spatial)
    patterns = []
    for o in range(layer.out_channels):
        layer.zero_grad()
        layer(x)[:, o].sum().backward()
        patterns.append(layer.weight.grad != 0)  # ones in: every connected weight has grad > 0
    return patterns


@pytest.mark.parametrize(
    "cls, spatial",
    [
        (nn.ConvTranspose1d, (3,)),
        (nn.ConvTranspose2d, (3, 2)),
        (nn.ConvTranspose3d, (2, 2, 2)),
        (nn.Conv2d, (4, 3)),
    ],
)
@pytest.mark.parametrize("groups", [1, 2])
def test_neuron_scope_is_one_value_per_output_channel(cls, spatial, groups):
    layer = cls(4, 6, kernel_size=2, groups=groups, bias=False)
    gen = torch.Generator().manual_seed(groups)
    with torch.no_grad():
        w = torch.randn(layer.weight.shape, generator=gen)
        w[torch.rand(w.shape, generator=gen) < 0.4] = 0.0  # uneven sparsity across units
        layer.weight.copy_(w)
    patterns = unit_patterns(layer, 4, spatial)
    assert all(int(pat.sum()) == 4 // groups * 2 ** len(spatial) for pat in patterns)
    w = w.numpy()
    for p, q in [(0.5, 1.0), (1.0, 2.0)]:
        units = PQIndex(p, q, scope="neuron").score_units(layer)["weight"]
        expected = [ref_pq(w[pat.numpy()], p, q) for pat in patterns]
        assert units.shape == (6,)
        np.testing.assert_allclose(units, expected, rtol=1e-9, atol=1e-12)
    # masks are laid out like the weight and follow the same grouping
    mask = torch.rand(layer.weight.shape, generator=gen) < 0.7
    units = PQIndex(scope="neuron").score_units(layer, masks={"weight": mask})["weight"]
    expected = []
    for pat in patterns:
        kept = w[(pat & mask).numpy()]
        expected.append(ref_pq(kept) if kept.size and np.any(kept) else np.nan)
    np.testing.assert_allclose(units, expected, rtol=1e-9, atol=1e-12)
