import copy
import io
import pickle

import pytest
import torch
from torch import nn

from sparselimit.blocks import (
    BSRLinear,
    attach_block_attention,
    block_attention,
    block_magnitude_masks,
    export_block_sparse,
    fold_block_attention,
    sparsity_ramp,
    to_bsr_inference,
    zero_block_mask,
)
from sparselimit.blocks._grid import (
    block_norms,
    select_block_layers,
)


@pytest.mark.parametrize(
    "layer, x",
    [
        (nn.Linear(32, 16), torch.randn(5, 32)),
        (nn.Conv2d(4, 8, 3), torch.randn(2, 4, 7, 7)),  # weight viewed as (8, 36)
    ],
)
def test_zero_logits_leave_output_unchanged(layer, x):
    torch.manual_seed(0)
    before = layer(x).detach()
    par = attach_block_attention(layer, (4, 4))
    assert torch.equal(par.logits, torch.zeros_like(par.logits))
    torch.testing.assert_close(layer(x).detach(), before, rtol=1e-6, atol=1e-6)
    fold_block_attention(layer)
    torch.testing.assert_close(layer(x).detach(), before, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n_blocks", [41, 47, 110, 1000])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equal_logits_give_attention_exactly_one(n_blocks, dtype):
    # N_B * softmax(0) is 1 - 1 ulp for these block counts; A must be exactly 1 at any
    # constant L, so that attaching the attention does not perturb the layer at all
    for value in (0.0, 3.7):
        a = block_attention(torch.full((n_blocks,), value, dtype=dtype))
        assert torch.equal(a, torch.ones(n_blocks, dtype=dtype))


def test_zero_logits_leave_output_bit_identical():
    torch.manual_seed(0)
    layer, x = nn.Linear(22, 20), torch.randn(5, 22)  # (2, 2) blocks: a 10 x 11 grid
    before = layer(x).detach()
    attach_block_attention(layer, (2, 2))
    assert torch.equal(layer(x).detach(), before)
    fold_block_attention(layer)
    assert torch.equal(layer(x).detach(), before)


def test_attention_matches_softmax_and_its_gradient():
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(6, 7, generator=g, dtype=torch.float64) * 3).requires_grad_(True)
    w = torch.randn(6, 7, generator=g, dtype=torch.float64)
    ref = torch.softmax(logits.reshape(-1), dim=0).reshape(6, 7) * 42
    a = block_attention(logits)
    torch.testing.assert_close(a, ref, rtol=1e-12, atol=1e-12)
    (grad,) = torch.autograd.grad((a * w).sum(), logits)
    (grad_ref,) = torch.autograd.grad((ref * w).sum(), logits)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-12, atol=1e-12)


def test_attention_has_mean_one():
    g = torch.Generator().manual_seed(0)
    for shape in [(1, 7), (16, 8), (3, 33)]:
        a = block_attention(torch.randn(shape, generator=g) * 3)
        assert a.shape == shape
        assert float(a.mean()) == pytest.approx(1.0, abs=1e-6)
        assert bool((a > 0).all())


def test_attention_is_trainable_and_scales_blocks():
    layer = nn.Linear(4, 4, bias=False)
    par = attach_block_attention(layer, 2)
    with torch.no_grad():
        par.logits.copy_(torch.tensor([[0.0, 1.0], [0.0, -1.0]]))
    w = layer.parametrizations.weight.original.detach()
    a = block_attention(par.logits.detach())
    expected = w * a.repeat_interleave(2, 0).repeat_interleave(2, 1)
    torch.testing.assert_close(layer.weight.detach(), expected)
    layer.weight.sum().backward()
    assert par.logits.grad is not None and par.logits.grad.abs().sum() > 0


def test_conv_block_pattern_after_fold():
    conv = nn.Conv2d(4, 8, 3)
    par = attach_block_attention(conv, (4, 4))
    assert par.grid_shape == (2, 9)
    par.mask.zero_()
    par.mask[1, 3] = True
    masks = export_block_sparse(conv).masks
    assert type(conv) is nn.Conv2d and not hasattr(conv, "parametrizations")
    mat = conv.weight.detach().reshape(8, 36)
    assert int((mat != 0).sum()) == 16
    assert bool((mat[4:8, 12:16] != 0).all())
    assert masks["weight"].shape == conv.weight.shape


def test_export_gives_plain_module_that_round_trips():
    net = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
    par = attach_block_attention(net[0], 4)
    with torch.no_grad():
        par.logits.normal_()
    par.mask[0, :] = False
    out = export_block_sparse(net, copy=True)
    assert type(net[0]).__name__ == "ParametrizedLinear"  # copy=True left the input alone
    plain = out.module
    assert type(plain[0]) is nn.Linear
    assert set(plain.state_dict()) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert not plain[0]._forward_pre_hooks and not plain[0]._forward_hooks
    fresh = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
    fresh.load_state_dict(plain.state_dict())
    buf = io.BytesIO()
    torch.save(plain.state_dict(), buf)
    buf.seek(0)
    torch.load(buf, weights_only=True)
    pickle.loads(pickle.dumps(plain))
    copy.deepcopy(plain)
    assert bool((plain[0].weight[:4] == 0).all())
    assert out.block_masks["0.weight"].tolist()[0] == [False] * 4
    assert torch.equal(zero_block_mask(plain[0].weight, 4), out.block_masks["0.weight"])


def test_block_magnitude_keeps_exactly_k_largest_blocks():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    masks = block_magnitude_masks(net, 0.75, 4)
    assert list(masks) == ["0.weight"]  # 10x128 has 80 < 100 blocks: left dense
    grid = masks["0.weight"].reshape(32, 4, 16, 4)[:, 0, :, 0]
    assert int(grid.sum()) == 512 - 384
    norms = block_norms(net[0].weight.detach(), (4, 4))
    assert float(norms[grid].min()) >= float(norms[~grid].max())
    # every block is all-kept or all-pruned
    full = masks["0.weight"].reshape(32, 4, 16, 4)
    assert bool((full.all(dim=(1, 3)) | (~full).all(dim=(1, 3))).all())


def test_bad_block_size_and_sparsity():
    net = nn.Sequential(nn.Linear(60, 200))
    with pytest.raises(ValueError, match="does not divide"):
        block_magnitude_masks(net, 0.5, 8)
    with pytest.raises(ValueError, match="block_size"):
        block_magnitude_masks(net, 0.5, 0)
    with pytest.raises(ValueError, match="block_size"):
        block_magnitude_masks(net, 0.5, (2, 3, 4))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        block_magnitude_masks(net, 1.0, 4)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        block_magnitude_masks(net, -0.1, 4)
    with pytest.raises(ValueError, match="at least 100 blocks"):
        select_block_layers(nn.Linear(8, 8), 4)


def test_sparsity_ramp_shape():
    vals = [sparsity_ramp(t / 10, 0.9) for t in range(11)]
    assert vals[0] == 0.0 and vals[-1] == pytest.approx(0.9)
    assert all(b > a for a, b in zip(vals, vals[1:]))
    assert vals[5] > 0.45  # front-loaded: more than half the blocks go in the first half


def test_bsr_inference_matches_dense():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    masks = block_magnitude_masks(net, 0.9, 8)
    with torch.no_grad():
        net[0].weight.mul_(masks["0.weight"])
    sparse = to_bsr_inference(net, 8)
    assert isinstance(sparse[0], BSRLinear) and type(sparse[2]) is nn.Linear  # 10 % 8 != 0
    assert sparse[0].nnz_blocks == 128 - int(0.9 * 128)
    x = torch.randn(7, 64)
    torch.testing.assert_close(sparse(x), net(x), rtol=1e-5, atol=1e-5)
    assert type(to_bsr_inference(net, 8, max_density=0.05)[0]) is nn.Linear


class _BiasFirst(nn.Module):
    """A layer that defines its bias before its weight (as some third-party layers do)."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(4))
        self.weight = nn.Parameter(torch.randn(4, 4))
        self.scale = nn.Parameter(torch.ones(4))

    def forward(self, x):
        return x @ self.weight.T * self.scale + self.bias


@pytest.mark.parametrize(
    "make",
    [lambda: nn.Linear(8, 4), lambda: nn.Conv2d(2, 4, 2), _BiasFirst],
    ids=["linear", "conv", "bias_first"],
)
def test_fold_keeps_the_parameter_order_and_objects(make):
    layer = make()
    before = list(layer.named_parameters())
    keys = list(layer.state_dict())
    attach_block_attention(layer, 2)
    fold_block_attention(layer)
    after = list(layer.named_parameters())
    assert [n for n, _ in after] == [n for n, _ in before]
    assert all(p is q for (_, p), (_, q) in zip(after, before))  # same objects, same order
    assert list(layer.state_dict()) == keys
