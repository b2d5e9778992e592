import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from torch import nn

from sparselimit import L1RegularizedClassifier, L1RegularizedRegressor
from sparselimit.training import MaskEnforcer


def mlp(n_in=64, n_hidden=16, n_out=10):
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))


def make_net(**kw):
    params = dict(
        criterion=nn.CrossEntropyLoss,
        max_epochs=2,
        lr=0.1,
        verbose=0,
        train_split=None,
        iterator_train__shuffle=False,
    )
    params.update(kw)
    return L1RegularizedClassifier(mlp, **params)


def test_loss_adds_summed_l1_of_prunable_weights_only_when_training(digits_small):
    X, y = digits_small
    net = make_net(l1_alpha=0.01).initialize()
    Xt, yt = torch.from_numpy(X[:32]), torch.from_numpy(y[:32])
    y_pred = net.infer(Xt)
    data = nn.functional.cross_entropy(y_pred, yt)
    weights = [net.module_[0].weight, net.module_[2].weight]  # biases are not penalised
    expected = data + 0.01 * sum(w.abs().sum() for w in weights)
    torch.testing.assert_close(net.get_loss(y_pred, yt, training=True), expected)
    torch.testing.assert_close(net.get_loss(y_pred, yt, training=False), data)


def test_l1_training_shrinks_weights_and_valid_loss_stays_data_loss(digits_small):
    X, y = digits_small
    norms = {}
    for alpha in (0.0, 3e-2):
        net = make_net(l1_alpha=alpha, max_epochs=5, train_split=None)
        torch.manual_seed(0)
        net.fit(X, y)
        norms[alpha] = sum(p.abs().sum().item() for p in net.prunable_parameters())
    assert norms[3e-2] < 0.7 * norms[0.0]

    net = make_net(l1_alpha=10.0, max_epochs=1, train_split=lambda ds, y: (ds, ds))
    net.fit(X, y)
    h = net.history[-1]
    # valid loss is the plain data loss: far below the penalised training loss at alpha=10
    assert h["valid_loss"] < h["train_loss"] / 5


def test_prunable_selection_is_routed_from_init_params(digits_small):
    net = make_net(prunable_include=r"^2\.weight$", l1_alpha=1.0).initialize()
    assert [p.shape for p in net.prunable_parameters()] == [torch.Size([10, 16])]


@pytest.mark.parametrize("alpha", [-1.0, float("nan"), "big"])
def test_bad_l1_alpha(alpha, digits_small):
    with pytest.raises(ValueError, match="`l1_alpha` must be a non-negative float"):
        make_net(l1_alpha=alpha).fit(*digits_small)


def test_get_params_clone_pickle_and_gridsearch(digits_small):
    X, y = digits_small
    net = make_net(l1_alpha=1e-3)
    assert net.get_params()["l1_alpha"] == 1e-3
    assert clone(net).l1_alpha == 1e-3
    net.fit(X, y)
    # the training's internal state stays out of the parameters, so clone and repr stay clean
    assert set(net.get_params(deep=False)) == set(make_net(l1_alpha=1e-3).get_params(deep=False))
    assert "tensor(" not in repr(net.get_params())
    for restored in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        np.testing.assert_array_equal(restored.predict(X), net.predict(X))
        assert restored.l1_alpha == 1e-3
    search = GridSearchCV(make_net(max_epochs=1), {"l1_alpha": [0.0, 1e-3]}, cv=2).fit(X, y)
    assert search.best_params_["l1_alpha"] in (0.0, 1e-3)


def test_regressor_penalty(digits_small):
    X, _ = digits_small
    y = X[:, :2].copy()
    reg = L1RegularizedRegressor(
        nn.Linear(64, 2), l1_alpha=0.5, max_epochs=1, verbose=0, train_split=None
    ).initialize()
    y_pred = reg.infer(torch.from_numpy(X))
    extra = reg.get_loss(y_pred, torch.from_numpy(y), training=True) - reg.get_loss(
        y_pred, torch.from_numpy(y)
    )
    torch.testing.assert_close(extra, 0.5 * reg.module_.weight.abs().sum())


def test_mask_enforcer_keeps_pruned_weights_exactly_zero_with_momentum_and_adam(digits_small):
    X, y = digits_small
    rng = np.random.RandomState(0)
    masks = {
        "0.weight": torch.from_numpy(rng.rand(16, 64) > 0.7),
        "2.weight": torch.from_numpy(rng.rand(10, 16) > 0.5),
    }
    for opt_kw in (
        dict(optimizer=torch.optim.SGD, optimizer__momentum=0.9, optimizer__weight_decay=1e-3),
        dict(optimizer=torch.optim.Adam, lr=1e-2),
    ):
        net = make_net(max_epochs=2, callbacks=[MaskEnforcer(masks)], **opt_kw).fit(X, y)
        for name, mask in masks.items():
            w = dict(net.module_.named_parameters())[name]
            assert torch.all(w[~mask] == 0)
            assert torch.count_nonzero(w[mask]) == mask.sum()
    # the fitted net pickles (the device copy of the masks is rebuilt on the next fit)
    assert pickle.loads(pickle.dumps(net)).predict(X).shape == (len(X),)


def test_float64_inputs_and_targets_are_cast_to_the_module_dtype(digits_small):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = digits_small
    X64 = X.astype(np.float64)
    pipe = make_pipeline(StandardScaler(), make_net(max_epochs=2)).fit(X64, y)
    assert pipe.predict(X64).shape == (len(X),)
    # the same predictions as float32 input: a cast, not a different model
    np.testing.assert_array_equal(
        pipe.predict(X64), pipe[-1].predict(pipe[0].transform(X64).astype(np.float32))
    )

    y64 = X64[:, :2].sum(axis=1, keepdims=True)
    reg = L1RegularizedRegressor(nn.Linear(64, 1), max_epochs=2, verbose=0, train_split=None)
    assert reg.fit(X64, y64).predict(X64).dtype == np.float32
    with pytest.raises(RuntimeError, match="dtype"):  # what plain skorch does with the same data
        from skorch import NeuralNetRegressor

        NeuralNetRegressor(nn.Linear(64, 1), max_epochs=1, verbose=0, train_split=None).fit(
            X64, y64
        )


def test_targets_and_inputs_as_scikit_learn_takes_them(digits_small):
    X, y = digits_small
    X, y = X[:128], y[:128]

    def fit(net, X_, y_):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return net.fit(X_, y_)

    ref = fit(make_net(), X, y).predict_proba(X)
    # lists, int32 labels of shape (n, 1): same training, same outputs
    other = fit(make_net(), X.tolist(), y.astype(np.int32).reshape(-1, 1))
    np.testing.assert_allclose(other.predict_proba(X.tolist()), ref, rtol=1e-6)
    as_lists = fit(make_net(), X.tolist(), y.tolist())  # skorch's check_data took no list y
    np.testing.assert_allclose(as_lists.predict_proba(X), ref, rtol=1e-6)

    # a one-output regressor with a 1-D target trains exactly as with the (n, 1) column;
    # before, MSELoss broadcast (n, 1) against (n,) to (n, n) with only a torch warning
    t = X[:, :4].sum(axis=1).astype(np.float32)
    params = dict(
        module__in_features=64,
        module__out_features=1,
        max_epochs=20,
        lr=0.05,
        batch_size=16,
        verbose=0,
        train_split=None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flat = fit(L1RegularizedRegressor(nn.Linear, **params), X, t)
    column = fit(L1RegularizedRegressor(nn.Linear, **params), X, t[:, None])
    np.testing.assert_allclose(flat.predict(X), column.predict(X), rtol=1e-6)
    assert flat.score(X, t) > 0.5


def test_label_types_a_classifier_cannot_take_are_named(digits_small):
    X, y = digits_small
    X, y = X[:64], y[:64]
    with pytest.raises(TypeError, match="LabelEncoder"):
        make_net(max_epochs=1).fit(X, np.array(["a", "b"])[y % 2])
    net = make_net(max_epochs=1, module__n_out=2).fit(X, (y % 2).astype(bool))  # 0 and 1
    assert set(net.predict(X)) <= {0, 1}


def test_integer_targets_of_any_shape_become_int64_indices():
    # per-pixel labels (n, H, W) as int32: the losses want int64, the shape stays
    net = L1RegularizedClassifier(nn.Conv2d, module__in_channels=1, module__out_channels=3)
    y_pred = torch.zeros(2, 3, 4, 4)
    got = net._match_target(y_pred, torch.ones(2, 4, 4, dtype=torch.int32))
    assert got.dtype == torch.int64 and got.shape == (2, 4, 4)
    soft = torch.full((2, 3), 1 / 3)  # class probabilities pass through unchanged
    assert net._match_target(soft, soft) is soft


@pytest.mark.parametrize(
    "n_out, target",
    [
        (1, lambda y: y[:, 0].astype(np.int64)),  # labels 0/1, one logit (n, 1)
        (1, lambda y: y[:, 0].astype(np.float32)),
        (1, lambda y: y.astype(np.int64)),  # a 0/1 column
        (3, lambda y: y.astype(np.int64)),  # multilabel indicator as integers
    ],
)
def test_bce_targets_are_probabilities_of_the_output_shape_not_class_indices(n_out, target):
    """With BCEWithLogitsLoss the targets are 0/1 per logit: they were read as class indices
    and refused ("label 1 for a network with 1 outputs") or handed to BCE as int64. They train
    as plain skorch trains the float target of the output's shape."""
    from skorch import NeuralNetClassifier

    rng = np.random.RandomState(0)
    X = rng.randn(96, 5).astype(np.float32)
    y = (X[:, :n_out] + 0.3 * X[:, -1:] > 0).astype(np.float32)  # (n, n_out)

    def fit(cls, y_, **kw):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            module = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, n_out))
            net = cls(
                module,
                criterion=nn.BCEWithLogitsLoss,
                lr=0.1,
                max_epochs=3,
                batch_size=32,
                train_split=None,
                verbose=0,
                **kw,
            )
            return net.fit(X, y_)

    ref = fit(NeuralNetClassifier, y)  # skorch's own form: float targets, output's shape
    net = fit(L1RegularizedClassifier, target(y), l1_alpha=0.0)
    np.testing.assert_allclose(net.predict_proba(X), ref.predict_proba(X), rtol=1e-5)
    assert net.score(X, y) == pytest.approx(ref.score(X, y))


@pytest.mark.parametrize("fmt", ["coo", "dia", "bsr", "dok", "csr", "csr_array", "coo_array"])
def test_every_scipy_sparse_format_trains_as_the_dense_array(fmt):
    # skorch indexes X by row: COO, DIA, BSR and DOK failed inside it ("'coo_matrix' object
    # is not subscriptable", "Index input_ids length needs to match", ...), and sparse arrays
    # with "cannot select an axis to squeeze out" (their rows are 1-D)
    import scipy.sparse as sp

    rng = np.random.RandomState(0)
    X = rng.randn(40, 6).astype(np.float32)
    X[rng.rand(40, 6) < 0.6] = 0.0
    y = X @ rng.randn(6, 1).astype(np.float32)
    if fmt.endswith("_array"):
        Xs = sp.csr_array(X).asformat(fmt.split("_")[0])
    else:
        Xs = sp.csr_matrix(X).asformat(fmt)
    preds = []
    for data in (X, Xs):
        torch.manual_seed(0)
        reg = L1RegularizedRegressor(
            nn.Linear(6, 1), max_epochs=3, lr=0.05, batch_size=16, train_split=None, verbose=0
        )
        preds.append(reg.fit(data, y).predict(data))
    np.testing.assert_allclose(preds[1], preds[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(0, 4), (5, 0)])
def test_empty_training_data_is_refused(shape):
    # skorch "trained" on no batch without a word and returned the initial weights
    X, y = np.zeros(shape, dtype=np.float32), np.zeros(shape[0], dtype=np.int64)
    what = "sample" if shape[0] == 0 else "feature"
    for labels in (y, y.tolist()):  # an empty list failed in a skorch callback (IndexError)
        net = L1RegularizedClassifier(nn.Linear(4, 2), criterion=nn.CrossEntropyLoss, verbose=0)
        with pytest.raises(ValueError, match=rf"0 {what}\(s\).*minimum of 1 is required"):
            net.fit(X, labels)
        with pytest.raises(ValueError, match=rf"0 {what}\(s\)"):
            net.initialize().partial_fit(X, labels)


@pytest.mark.parametrize("cls", [L1RegularizedClassifier, L1RegularizedRegressor])
def test_metadata_routing_is_skorch_s(cls):
    # skorch declares `classes` of partial_fit unused; a partial_fit without that parameter
    # made get_metadata_routing (every search, with routing on) fail: "Trying to remove
    # parameter classes with UNUSED which doesn't exist"
    import sklearn
    from skorch import NeuralNetClassifier, NeuralNetRegressor

    plain = NeuralNetClassifier if cls is L1RegularizedClassifier else NeuralNetRegressor
    with sklearn.config_context(enable_metadata_routing=True):
        ours = cls(nn.Linear(3, 2)).get_metadata_routing()
        theirs = plain(nn.Linear(3, 2)).get_metadata_routing()
    assert str(ours) == str(theirs)
