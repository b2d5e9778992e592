"""prune_global edge cases: a Linear weight tied to another module's (listed once, under its first
name), a module on the meta device, a missing sparsity."""

import torch
from torch import nn

from sparselimit import prune_global
from sparselimit.utils import select_prunable


class TiedLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.hidden = nn.Linear(16, 16)
        self.dec = nn.Linear(16, 50, bias=False)
        self.dec.weight = self.emb.weight  # the decoder shares the embedding's table

    def forward(self, x):
        return self.dec(torch.relu(self.hidden(self.emb(x))))


def test_tied_decoder_weight_is_selected_once_and_pruned():
    torch.manual_seed(0)
    m = TiedLM()
    chosen = select_prunable(m)
    assert list(chosen) == ["emb.weight", "hidden.weight"]  # named_parameters' names and order
    assert chosen["emb.weight"] is m.dec.weight
    result = prune_global(m, 0.9, copy=True)
    D = 50 * 16 + 16 * 16
    n_zero = int((result.module.dec.weight == 0).sum() + (result.module.hidden.weight == 0).sum())
    assert n_zero == round(0.9 * D)
    assert result.module.emb.weight is result.module.dec.weight  # still tied in the copy


def test_untied_modules_keep_their_names():
    m = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 3))
    assert list(select_prunable(m)) == ["1.weight"]


def test_meta_module_and_missing_sparsity_are_named():
    import pytest

    with torch.device("meta"):
        m = nn.Linear(4, 4)
    with pytest.raises(ValueError, match="'meta' device.*to_empty"):
        prune_global(m, 0.5)
    with pytest.raises(ValueError, match="`sparsity` must be a float.*got None"):
        prune_global(nn.Linear(3, 3), None)


def test_module_with_prune_hooks_is_pruned_around_the_hooked_layer():
    import warnings

    import pytest
    import torch.nn.utils.prune as torch_prune

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    torch_prune.l1_unstructured(net[0], "weight", amount=0.5)
    # torch cannot deep-copy the hook's computed `weight`: say which layer, and what to do
    with pytest.raises(ValueError, match=r"layers \['0'\].*prune\.remove\(layer, 'weight'\)"):
        prune_global(net, 0.5, copy=True)
    with pytest.warns(UserWarning, match=r"\['0'\] compute their weight"):
        result = prune_global(net, 0.5)
    assert list(result.masks) == ["2.weight"]
    assert int((net[2].weight == 0).sum()) == 4
    # the hooked layer keeps torch's own mask, untouched
    torch_prune.remove(net[0], "weight")
    assert int((net[0].weight == 0).sum()) == 8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = prune_global(net, 0.5, copy=True)  # plain again: copied and pruned
    assert sorted(plain.masks) == ["0.weight", "2.weight"]


def test_patterns_naming_the_tied_decoder_reach_the_shared_weight():
    torch.manual_seed(0)
    m = TiedLM()
    # "do not prune the decoder": its weight is the embedding's, listed as 'emb.weight'
    result = prune_global(m, 0.5, copy=True, exclude=r"^dec\.")
    assert list(result.masks) == ["hidden.weight"]
    assert int((result.module.dec.weight == 0).sum()) == 0
    assert int((result.module.hidden.weight == 0).sum()) == 128
    # and "prune only the decoder" selects it, under its first name
    assert list(select_prunable(m, include=r"^dec\.")) == ["emb.weight"]


def test_mask_keyed_by_the_tied_second_name_says_which_name_to_use():
    import pytest

    from sparselimit.utils import apply_masks

    m = TiedLM()
    masks = {"dec.weight": torch.ones(50, 16, dtype=torch.bool)}  # a state_dict key
    with pytest.raises(KeyError, match="shared with \\(tied to\\) 'emb.weight'"):
        apply_masks(m, masks)
