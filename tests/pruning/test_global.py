"""prune_global: in place vs copy, serialisation, importance, equivalence with torch's pruning."""

import copy
import io
import pickle

import pytest
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from sparselimit.pruning import IMPORTANCES, PruningResult, prune_global


class Net(nn.Module):
    def __init__(self, d_in=12, hidden=24, d_out=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, d_out)

    def forward(self, x):
        return self.head(self.norm(self.body(x)))


def make_net(seed=0):
    torch.manual_seed(seed)
    return Net()


PRUNABLE = ["body.0.weight", "body.2.weight", "head.weight"]


def n_zero(module, names=PRUNABLE):
    params = dict(module.named_parameters())
    return sum(int((params[n] == 0).sum()) for n in names)


def test_in_place_by_default():
    net = make_net()
    result = prune_global(net, 0.8)
    assert isinstance(result, PruningResult)
    assert result.module is net
    D = 12 * 24 + 24 * 24 + 24 * 3
    assert n_zero(net) == round(0.8 * D)
    assert list(result.masks) == PRUNABLE
    assert result.sparsity == pytest.approx(round(0.8 * D) / D)
    assert set(result.layer_sparsity) == set(PRUNABLE)
    for name, p in net.named_parameters():
        if name in result.masks:
            assert torch.equal(p == 0, ~result.masks[name])
        assert p.requires_grad
    # biases and the norm are untouched
    ref = make_net()
    assert torch.equal(net.body[0].bias, ref.body[0].bias)
    assert torch.equal(net.norm.weight, ref.norm.weight)
    module, masks, threshold = result  # a named tuple
    params = dict(net.named_parameters())
    kept_min = min(float(params[n].detach().abs()[masks[n]].min()) for n in masks)
    assert threshold <= kept_min


def test_copy_leaves_user_module_untouched():
    net = make_net()
    before = copy.deepcopy(net.state_dict())
    result = prune_global(net, 0.5, copy=True)
    assert result.module is not net
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    assert n_zero(result.module) > 0


def test_no_hooks_and_serialisation(tmp_path):
    net = prune_global(make_net(), 0.9).module
    assert not net._forward_pre_hooks
    assert all(not hasattr(m, "weight_orig") for m in net.modules())
    fresh = Net()
    fresh.load_state_dict(net.state_dict())  # loads into a fresh instance of the class
    x = torch.randn(5, 12)
    assert torch.equal(fresh(x), net(x))
    assert torch.equal(copy.deepcopy(net)(x), net(x))
    assert torch.equal(pickle.loads(pickle.dumps(net))(x), net(x))
    path = tmp_path / "sd.pt"
    torch.save(net.state_dict(), path)
    sd = torch.load(path, weights_only=True)
    fresh2 = Net()
    fresh2.load_state_dict(sd)
    assert torch.equal(fresh2(x), net(x))
    # the masks themselves also save with weights_only
    buf = io.BytesIO()
    torch.save(prune_global(make_net(), 0.5).masks, buf)
    buf.seek(0)
    masks = torch.load(buf, weights_only=True)
    assert all(m.dtype == torch.bool for m in masks.values())


def test_same_masks_as_torch_global_unstructured():
    net = make_net(3)
    ours = prune_global(copy.deepcopy(net), 0.7)
    theirs = copy.deepcopy(net)
    mods = dict(theirs.named_modules())
    params = [(mods[n.rsplit(".", 1)[0]], "weight") for n in PRUNABLE]
    torch_prune.global_unstructured(params, pruning_method=torch_prune.L1Unstructured, amount=0.7)
    for name in PRUNABLE:
        mask = mods[name.rsplit(".", 1)[0]].weight_mask.bool()
        assert torch.equal(mask, ours.masks[name])


def test_layer_scope_and_include_exclude():
    net = make_net()
    result = prune_global(net, 0.5, scope="layer", exclude=r"^head")
    assert list(result.masks) == ["body.0.weight", "body.2.weight"]
    assert all(v == 0.5 for v in result.layer_sparsity.values())
    assert int((net.head.weight == 0).sum()) == 0
    result = prune_global(make_net(), 0.5, include=r"bias$")
    assert list(result.masks) == ["body.0.bias", "body.2.bias", "norm.bias", "head.bias"]


def test_existing_masks_continue_pruning():
    net = make_net()
    first = prune_global(net, 0.3)
    second = prune_global(net, 0.6, masks=first.masks)
    assert second.sparsity == pytest.approx(0.6, abs=1e-3)
    for n in PRUNABLE:
        assert not (second.masks[n] & ~first.masks[n]).any()


def test_callable_importance_and_registry():
    net = make_net()

    def by_row_position(name, param):  # prunes the first columns first
        return torch.arange(param.shape[1], dtype=torch.float32).expand_as(param).clone()

    result = prune_global(net, 0.5, importance=by_row_position, scope="layer")
    assert not result.masks["head.weight"][:, 0].any()
    assert "magnitude" in IMPORTANCES
    with pytest.raises(ValueError, match="shape"):
        prune_global(make_net(), 0.5, importance=lambda n, p: torch.ones(3))


def test_magnitude_equals_callable_abs():
    a = prune_global(make_net(1), 0.6)
    b = prune_global(make_net(1), 0.6, importance=lambda n, p: p.detach().abs())
    for n in PRUNABLE:
        assert torch.equal(a.masks[n], b.masks[n])
    assert a.threshold == b.threshold


def test_grad_mode_and_autograd_still_work():
    net = make_net()
    prune_global(net, 0.5)
    assert torch.is_grad_enabled()
    net(torch.randn(2, 12)).sum().backward()
    assert net.head.weight.grad is not None


def test_bad_input():
    with pytest.raises(ValueError, match=r"`sparsity` must be .*\[0, 1\); got 1.5"):
        prune_global(make_net(), 1.5)
    with pytest.raises(ValueError, match="`scope` must be one of"):
        prune_global(make_net(), 0.5, scope="neuron")
    with pytest.raises(ValueError, match="`importance` must be one of"):
        prune_global(make_net(), 0.5, importance="hessian")
    with pytest.raises(TypeError, match="`importance`"):
        prune_global(make_net(), 0.5, importance=3)
    with pytest.raises(TypeError, match=r"net.module_"):
        prune_global("not a module", 0.5)
    with pytest.raises(ValueError, match="No prunable parameters"):
        prune_global(nn.Sequential(nn.ReLU(), nn.LayerNorm(3)), 0.5)
    net = make_net()
    with torch.no_grad():
        net.head.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="'head.weight' .* NaN or infinity"):
        prune_global(net, 0.5)
    with torch.no_grad():
        net.head.weight[0, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinity"):
        prune_global(net, 0.5)
    with pytest.raises(KeyError, match="no entry"):
        prune_global(make_net(), 0.5, masks={})
