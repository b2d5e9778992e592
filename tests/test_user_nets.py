"""Nets and inputs as skorch / PyTorch users bring them: a module returning a tuple, targets as
lists or whole floats, labels that need encoding, a channels_last CNN, a plain nn.Module where a
skorch net belongs, and the pruner as a transformer in scikit-learn's output API."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from skorch.helper import SliceDict
from torch import nn

from sparselimit import (
    GlobalOneShotPruner,
    HessianSpectrum,
    IterativePruner,
    L1RegularizedClassifier,
    PruningLimitEstimator,
    measure_pruning_curve,
)
from sparselimit.blocks import BlockSparsifier
from sparselimit.pruning import prune_global
from sparselimit.pruning._importance import undecayed_importance


def _data(n=200, d=6, seed=0):
    X = np.random.RandomState(seed).randn(n, d).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


class TwoOutputs(nn.Module):
    """skorch's multi-output pattern: the prediction first, extras after."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 8), nn.Linear(8, 2)

    def forward(self, x):
        h = torch.relu(self.a(x))
        return self.b(h), h


class TupleNet(L1RegularizedClassifier):
    def get_loss(self, y_pred, y_true, X=None, training=False):
        return super().get_loss(y_pred[0], y_true, X=X, training=training)


def _tuple_net():
    torch.manual_seed(0)
    return TupleNet(
        TwoOutputs,
        criterion=nn.CrossEntropyLoss,
        max_epochs=5,
        lr=0.1,
        verbose=0,
        train_split=None,
    )


def test_tuple_output_net_curve_and_undecayed_use_the_first_output():
    X, y = _data()
    net = _tuple_net().fit(X, y)
    curve = measure_pruning_curve(net, X, y, sparsities=[0.0, 0.5], verbose=0)
    pruner = GlobalOneShotPruner(net, sparsity=0.5, prefit=True).fit(X, y)
    # the curve's default accuracy is the net's own score at each point
    assert curve.scores[0] == pytest.approx(net.score(X, y))
    assert curve.scores[1] == pytest.approx(pruner.score(X, y))
    # Undecayed scores through skorch equal the module's with the first output's loss
    got = undecayed_importance(net, None, X, y, weight_decay=1e-3)

    def loss(out, target):
        return nn.functional.cross_entropy(out[0], target)

    ref = undecayed_importance(net.module_, loss, X, torch.as_tensor(y), 1e-3)
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], rtol=1e-5, atol=1e-8)
    GlobalOneShotPruner(net, sparsity=0.5, prefit=True, importance="undecayed").fit(X, y)


def test_curve_takes_targets_as_lists():
    X, y = _data()
    torch.manual_seed(0)
    net = L1RegularizedClassifier(
        nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=3,
        lr=0.1,
        verbose=0,
        train_split=None,
    ).fit(X, y)
    ref = measure_pruning_curve(net, X, y, sparsities=[0.0, 0.6], verbose=0)
    got = measure_pruning_curve(net, X, y.tolist(), sparsities=[0.0, 0.6], verbose=0)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_allclose(got.losses, ref.losses)


def test_one_shot_curve_on_a_channels_last_cnn_matches_prune_global():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 2, 6, 6).astype(np.float32)
    y = (X[:, 0, :3].sum(axis=(1, 2)) > 0).astype(np.int64)
    module = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2)).to(
        memory_format=torch.channels_last
    )
    assert not module[0].weight.is_contiguous()
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        module, criterion=nn.CrossEntropyLoss, max_epochs=2, lr=0.1, verbose=0, train_split=None
    ).fit(X, y)
    curve = measure_pruning_curve(net, X, y, sparsities=[0.0, 0.5, 0.8], verbose=0)
    for rho, score in zip(curve.sparsities, curve.scores):
        pruned = prune_global(net.module_, float(rho), copy=True).module
        with torch.no_grad():
            pred = pruned(torch.as_tensor(X)).argmax(1).numpy()
        assert score == pytest.approx(np.mean(pred == y))


def test_class_indices_out_of_range_name_the_encoding_and_whole_floats_train():
    X, y = _data()

    def net(n_out=2):
        torch.manual_seed(0)
        return L1RegularizedClassifier(
            nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, n_out)),
            criterion=nn.CrossEntropyLoss,
            max_epochs=1,
            verbose=0,
            train_split=None,
        )

    with pytest.raises(ValueError, match=r"got the label 2 for a network with 2 outputs.*Label"):
        net().fit(X, y + 1)
    with pytest.raises(ValueError, match="got the label -1"):
        net().fit(X, 2 * y - 1)
    as_float = net().fit(X, y.astype(np.float64))  # 0./1.: class indices, as in scikit-learn
    np.testing.assert_allclose(
        as_float.predict_proba(X), net().fit(X, y).predict_proba(X), rtol=1e-6
    )
    # CrossEntropyLoss's ignore_index (-100) is not a bad label
    y_ignored = y.copy()
    y_ignored[:5] = -100
    net().fit(X, y_ignored)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: GlobalOneShotPruner(m),
        lambda m: GlobalOneShotPruner(m, prefit=True),
        lambda m: IterativePruner(m),
        lambda m: BlockSparsifier(m),
        lambda m: PruningLimitEstimator(m),
        lambda m: HessianSpectrum(m),
    ],
    ids=["pruner", "pruner-prefit", "iterative", "blocks", "limit", "spectrum"],
)
def test_plain_module_as_estimator_names_the_wrapping(make):
    X, y = _data()
    module = nn.Sequential(nn.Linear(6, 2))
    with pytest.raises(TypeError, match=r"must be a skorch net.*nn.Module Sequential.*Wrap it"):
        make(module).fit(X, y)


def test_hessian_spectrum_names_a_dict_input():
    X, y = _data()

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 2)

        def forward(self, a, b):
            return self.fc(a + b)

    net = NeuralNetClassifier(
        Two, criterion=nn.CrossEntropyLoss, max_epochs=1, verbose=0, train_split=None
    )
    Xd = SliceDict(a=X, b=X)
    net.fit(Xd, y)
    with pytest.raises(TypeError, match="takes X as one array or tensor.*SliceDict.*'a', 'b'"):
        HessianSpectrum(net, prefit=True, n_lanczos_steps=2, verbose=0).fit(Xd, y)


def test_pruner_joins_the_set_output_api_in_a_pipeline():
    X, y = _data()
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("prune", GlobalOneShotPruner(sparsity=0.5, random_state=0)),
            ("clf", LogisticRegression()),
        ]
    )
    pipe.set_output(transform="default").fit(X, y)  # raised "Unable to configure output"
    names = pipe[:-1].get_feature_names_out()
    assert names.tolist() == ["globaloneshotpruner0", "globaloneshotpruner1"]
    assert pipe[:-1].transform(X).shape == (len(X), 2)
    # the availability check of transform survives the output wrapping
    net = NeuralNetClassifier(nn.Linear, module__in_features=6, module__out_features=2)
    del_proba = type("NoProba", (NeuralNetClassifier,), {"predict_proba": property()})
    assert hasattr(GlobalOneShotPruner(net), "transform")
    assert not hasattr(GlobalOneShotPruner(del_proba(nn.Linear)), "transform")
    pd = pytest.importorskip("pandas")
    out = pipe[:-1].set_output(transform="pandas").transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == names.tolist()
