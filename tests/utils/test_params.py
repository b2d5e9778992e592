import warnings

import pytest
import torch
from torch import nn

from sparselimit.utils import select_prunable


class Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.fc = nn.Linear(8, 3)
        self.scale = nn.Parameter(torch.ones(3))
        self.fc.weight.requires_grad_(True)


def test_default_selects_linear_and_conv_weights_in_registration_order():
    assert list(select_prunable(Odd())) == ["conv.weight", "fc.weight"]


def test_include_and_exclude_patterns():
    m = Odd()
    # named_parameters order: a module's own parameters come before its children's
    assert list(select_prunable(m, include=[r"\.weight$", r"^scale$"])) == [
        "scale",
        "conv.weight",
        "bn.weight",
        "fc.weight",
    ]
    assert list(select_prunable(m, exclude="conv")) == ["fc.weight"]


def test_shared_parameters_appear_once():
    lin = nn.Linear(3, 3)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert list(select_prunable(m)) == ["0.weight"]


def test_frozen_parameters_are_not_included_by_pattern():
    m = Odd()
    m.scale.requires_grad_(False)
    assert "scale" not in select_prunable(m, include="scale", require=False)


def test_no_prunable_parameters_raises_with_fix():
    with pytest.raises(ValueError, match="No prunable parameters.*include"):
        select_prunable(nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3)))


def test_bad_pattern_and_bad_module():
    with pytest.raises(ValueError, match="include"):
        select_prunable(Odd(), include="(")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        select_prunable("not a module")


def test_parametrized_weights_are_named_not_silently_skipped():
    from torch.nn.utils.parametrizations import weight_norm

    net = nn.Sequential(weight_norm(nn.Linear(4, 3)), nn.ReLU(), nn.Linear(3, 2))
    with pytest.warns(UserWarning, match=r"\['0'\] have a parametrized weight"):
        chosen = select_prunable(net)
    assert list(chosen) == ["2.weight"]


def test_parametrized_effective_lists_the_computed_weight_in_order():
    from torch.nn.utils.parametrizations import weight_norm

    net = nn.Sequential(weight_norm(nn.Linear(4, 3)), nn.ReLU(), nn.Linear(3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "not prunable" warning in this mode
        chosen = select_prunable(net, parametrized="effective")
    assert list(chosen) == ["0.weight", "2.weight"]
    g = net[0].parametrizations.weight.original0.detach()
    v = net[0].parametrizations.weight.original1.detach()
    expected = g * v / v.norm(dim=1, keepdim=True)  # weight norm, recomputed by hand
    torch.testing.assert_close(chosen["0.weight"], expected)
    assert not chosen["0.weight"].requires_grad
    assert chosen["2.weight"] is net[2].weight
    with pytest.raises(ValueError, match="`parametrized` must be 'skip' or 'effective'"):
        select_prunable(net, parametrized="yes")


def _l1_pruned(layer, amount=0.5):
    import torch.nn.utils.prune as torch_prune

    torch_prune.l1_unstructured(layer, "weight", amount=amount)
    return layer


def test_weight_computed_by_a_prune_hook_is_named_not_silently_skipped():
    # torch.nn.utils.prune moves the data to `weight_orig`; `weight` is recomputed before every
    # forward, so zeroing it would not last: the layer is left out, with a warning naming it
    torch.manual_seed(0)
    net = nn.Sequential(_l1_pruned(nn.Linear(4, 4)), nn.ReLU(), nn.Linear(4, 2))
    with pytest.warns(UserWarning, match=r"\['0'\] compute their weight in a forward pre-hook"):
        chosen = select_prunable(net)
    assert list(chosen) == ["2.weight"]


def test_weight_computed_by_deprecated_weight_norm_is_named():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.nn.utils.weight_norm
        net = nn.Sequential(nn.Linear(4, 4), nn.utils.weight_norm(nn.Linear(4, 2)))
    with pytest.warns(UserWarning, match=r"\['1'\] compute their weight in a forward pre-hook"):
        assert list(select_prunable(net)) == ["0.weight"]


def test_prune_hook_effective_lists_the_masked_weight_in_order():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), _l1_pruned(nn.Linear(4, 4)), nn.Linear(4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chosen = select_prunable(net, parametrized="effective")
    assert list(chosen) == ["0.weight", "1.weight", "2.weight"]
    expected = net[1].weight_orig.detach() * net[1].weight_mask  # torch's rule, by hand
    torch.testing.assert_close(chosen["1.weight"], expected)
    assert int((chosen["1.weight"] == 0).sum()) == 8


def _hook_pruned_net():
    from torch.nn.utils import prune

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    prune.l1_unstructured(net[0], "weight", amount=0.5)
    with torch.no_grad():  # trained further: net[0].weight is stale until the next forward
        net[0].weight_orig.mul_(-2.0)
    return net


def test_torch_pruned_effective_lists_orig_times_mask():
    net = _hook_pruned_net()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chosen = select_prunable(net, parametrized="effective")
    assert list(chosen) == ["0.weight", "2.weight"]
    expected = net[0].weight_orig.detach() * net[0].weight_mask
    torch.testing.assert_close(chosen["0.weight"], expected)
    assert int((chosen["0.weight"] == 0).sum()) == 8
    assert chosen["2.weight"] is net[2].weight
