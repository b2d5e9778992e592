"""resolve_module / resolve_masks / resolve_prunable through pipelines, searches and
meta-estimators, with cheap estimators (no training)."""

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from torch import nn

from sparselimit.utils import resolve_masks, resolve_module
from sparselimit.utils._modules import resolve_prunable


class MaskingPruner(BaseEstimator):
    """Holds a 2-layer net whose first layer it 'prunes' to keep ``n_keep`` entries;
    ``score`` prefers larger ``n_keep``, so a search's best is known in advance."""

    def __init__(self, estimator=None, n_keep=1):
        self.estimator = estimator
        self.n_keep = n_keep

    def fit(self, X, y=None):
        self.estimator_ = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
        keep = torch.zeros(4, dtype=torch.bool)
        keep[: self.n_keep] = True
        self.masks_ = {"0.weight": keep.reshape(2, 2)}
        return self

    def score(self, X, y=None):
        return float(self.n_keep)


X = np.zeros((6, 2))
y = np.zeros(6)


@pytest.mark.parametrize("search_cls", [GridSearchCV, RandomizedSearchCV])
def test_fitted_search_resolves_to_its_best_estimator(search_cls):
    kwargs = {"n_iter": 3} if search_cls is RandomizedSearchCV else {}
    search = search_cls(MaskingPruner(), {"n_keep": [1, 3, 2]}, cv=2, **kwargs).fit(X, y)
    best = search.best_estimator_
    assert best.n_keep == 3
    assert resolve_module(search) is best.estimator_
    assert resolve_masks(search) is best.masks_
    assert list(resolve_prunable(search)) == ["0.weight"]
    # a search over a pipeline, and a pipeline ending in a search
    pipe = Pipeline([("id", FunctionTransformer()), ("prune", MaskingPruner())])
    over_pipe = GridSearchCV(pipe, {"prune__n_keep": [2, 1]}, cv=2).fit(X, y)
    assert resolve_module(over_pipe) is over_pipe.best_estimator_[-1].estimator_
    assert int(resolve_masks(over_pipe)["0.weight"].sum()) == 2
    outer = Pipeline([("id", FunctionTransformer()), ("search", search)])
    assert resolve_module(outer) is best.estimator_


def test_search_errors():
    search = GridSearchCV(MaskingPruner(), {"n_keep": [1, 2]}, cv=2)
    with pytest.raises(NotFittedError, match="GridSearchCV instance is not fitted"):
        resolve_module(search)
    search.set_params(refit=False).fit(X, y)
    with pytest.raises(ValueError, match=r"refit=False.*best_params_"):
        resolve_module(search)
    with pytest.raises(ValueError, match="refit=False"):
        resolve_prunable(search)
    assert resolve_masks(search) is None


def test_resolve_masks_follows_estimator_when_the_meta_estimator_has_none():
    from skorch import NeuralNetRegressor

    from sparselimit.training import MaskEnforcer

    masks = {"weight": torch.tensor([[True, False]])}
    net = NeuralNetRegressor(
        nn.Linear, module__in_features=2, module__out_features=1, callbacks=[MaskEnforcer(masks)]
    ).initialize()
    meta = MaskingPruner(net)
    meta.estimator_ = net  # fitted, no masks_ of its own
    assert resolve_masks(meta) is masks
    meta.masks_ = {"weight": torch.ones(1, 2, dtype=torch.bool)}  # its own masks come first
    assert resolve_masks(meta) is meta.masks_


def test_resolve_prunable_rules():
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    assert list(resolve_prunable(net)) == ["0.weight", "2.weight"]
    meta = MaskingPruner(net)
    meta.estimator_ = net
    meta.masks_ = {"2.weight": torch.ones(1, 3, dtype=torch.bool), "0.bias": torch.ones(3) > 0}
    # masks' keys, in registration order (not the dict's)
    assert list(resolve_prunable(meta)) == ["0.bias", "2.weight"]
    assert resolve_prunable(meta)["2.weight"] is net[2].weight
    assert list(resolve_prunable(meta, include=r"^1\.")) == ["1.weight", "1.bias"]
    assert list(resolve_prunable(meta, exclude=r"^0\.")) == ["2.weight"]
    meta.masks_ = {}  # pruned nothing: the default rule
    assert list(resolve_prunable(meta)) == ["0.weight", "2.weight"]
    meta.masks_ = {"3.weight": torch.ones(1, dtype=torch.bool)}
    with pytest.raises(KeyError, match=r"\['3.weight'\].*named_parameters"):
        resolve_prunable(meta)
