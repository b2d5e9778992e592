import functools
import json

import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from torch import nn

from sparselimit.metrics import (
    LayerSparsity,
    SparsityReport,
    achieved_sparsity,
    sparsity_report,
    sparsity_scorer,
)


def make_net():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.0, 1, 0, 2], [0, 0, 0, 0], [1, 1, 1, -0.0]]))
        net[0].bias.zero_()  # biases are not prunable: never counted
        net[2].weight.copy_(torch.tensor([[[1.0, 0, 1]], [[1e-30, 2, 3]]]))  # tiny is not zero
    return net


def test_counts_exact_zeros_of_prunable_weights():
    report = sparsity_report(make_net())
    assert isinstance(report, SparsityReport)
    assert report.layers == (
        LayerSparsity("0.weight", (3, 4), 12, 7, 7 / 12),
        LayerSparsity("2.weight", (2, 1, 3), 6, 1, 1 / 6),
    )
    assert (report.n_params, report.n_zero) == (18, 8)
    assert report.sparsity == pytest.approx(8 / 18)
    assert achieved_sparsity(make_net()) == report.sparsity


def test_include_exclude():
    net = make_net()
    assert [r.name for r in sparsity_report(net, exclude=r"^2\.").layers] == ["0.weight"]
    assert achieved_sparsity(net, exclude=r"^2\.") == pytest.approx(7 / 12)
    # zeroed Linear bias (3) + BatchNorm bias (2, zero at init) of 3 + 2 + 2 biases
    assert achieved_sparsity(net, include=r"bias") == pytest.approx(5 / 7)
    with pytest.raises(ValueError, match="No prunable parameters"):
        sparsity_report(net, include="nothing-matches")


def test_str_is_a_table():
    text = str(sparsity_report(make_net()))
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "shape", "params", "zeros", "sparsity"]
    assert lines[2].split() == ["0.weight", "3x4", "12", "7", "58.33%"]
    assert lines[3].split() == ["2.weight", "2x1x3", "6", "1", "16.67%"]
    assert lines[-1].split() == ["total", "18", "8", "44.44%"]
    assert set(lines[1]) == {"-"} and set(lines[-2]) == {"-"}
    big = nn.Linear(2000, 1000)
    assert "2,000,000" in str(sparsity_report(big))


def test_to_dict_is_json_ready():
    report = sparsity_report(make_net())
    data = json.loads(json.dumps(report.to_dict()))
    assert data["n_params"] == 18 and data["n_zero"] == 8
    assert data["sparsity"] == pytest.approx(8 / 18)
    assert data["layers"][1] == {
        "name": "2.weight",
        "shape": [2, 1, 3],
        "n_params": 6,
        "n_zero": 1,
        "sparsity": 1 / 6,
    }


class FakePruner(BaseEstimator):
    def __init__(self, estimator=None):
        self.estimator = estimator


def test_scorer_on_pipelines_and_meta_estimators():
    pruner = FakePruner(make_net())
    pruner.estimator_ = make_net()
    pipe = Pipeline([("id", FunctionTransformer()), ("prune", pruner)])
    assert sparsity_scorer(pipe, None, None) == pytest.approx(8 / 18)
    only_first = functools.partial(sparsity_scorer, include=r"^0\.weight$")
    assert only_first(pipe, None, None) == pytest.approx(7 / 12)


def test_dense_and_fully_zero():
    layer = nn.Linear(3, 3)
    with torch.no_grad():
        layer.weight.fill_(0.5)
    assert achieved_sparsity(layer) == 0.0
    with torch.no_grad():
        layer.weight.zero_()
    assert achieved_sparsity(layer) == 1.0


def test_report_counts_a_layer_pruned_with_torch_prune_hooks():
    import torch.nn.utils.prune as torch_prune

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    torch_prune.l1_unstructured(net[0], "weight", amount=0.5)  # weight = weight_orig * mask
    report = sparsity_report(net)
    assert [(r.name, r.n_params, r.n_zero) for r in report.layers] == [
        ("0.weight", 16, 8),
        ("2.weight", 8, 0),
    ]


def test_layers_pruned_with_torch_prune_hooks_are_counted():
    # a network pruned with torch.nn.utils.prune: its weights are weight_orig * weight_mask,
    # and no longer parameters (the layers were dropped from the report, or, all pruned,
    # "No prunable parameters found")
    from torch.nn.utils import prune

    from sparselimit.metrics import PQIndex, pq_index

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    layers = [(net[0], "weight"), (net[2], "weight")]
    prune.global_unstructured(layers, prune.L1Unstructured, amount=0.6)
    weights = [(m.weight_orig * m.weight_mask).detach() for m, _ in layers]
    report = sparsity_report(net)
    assert [r.name for r in report.layers] == ["0.weight", "2.weight"]
    assert [r.n_zero for r in report.layers] == [int((w == 0).sum()) for w in weights]
    assert (report.n_params, report.n_zero) == (28, 17)  # round(0.6 * 28) removed
    pooled = torch.cat([w.ravel() for w in weights])
    assert PQIndex().score(net) == pytest.approx(pq_index(pooled.numpy()), abs=1e-12)
