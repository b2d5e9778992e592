"""compute_masks: exact counts, stable ties, existing masks, scopes, bad input."""

import numpy as np
import pytest
import torch

from sparselimit.pruning import compute_masks


def reference(scores, k, masks=None):
    """Brute force: stable argsort of the kept scores in (dict order, row-major) order."""
    flat = np.concatenate([s.reshape(-1).double().numpy() for s in scores.values()])
    kept = (
        np.concatenate([m.reshape(-1).numpy() for m in masks.values()])
        if masks is not None
        else np.ones(flat.size, bool)
    )
    idx = np.flatnonzero(kept)
    order = idx[np.argsort(flat[idx], kind="stable")]
    new = kept.copy()
    new[order[:k]] = False
    out, off = {}, 0
    for name, s in scores.items():
        out[name] = torch.from_numpy(new[off : off + s.numel()].reshape(tuple(s.shape)))
        off += s.numel()
    threshold = float(flat[order[k - 1]]) if k else float("-inf")
    return out, threshold


def assert_same(a, b):
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == torch.bool
        assert torch.equal(a[name], b[name]), name


def random_scores(seed, shapes=((7, 5), (13,), (3, 4, 2)), n_levels=None):
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for i, shape in enumerate(shapes):
        if n_levels:  # many ties
            out[f"p{i}"] = torch.randint(0, n_levels, shape, generator=gen).float() / n_levels
        else:
            out[f"p{i}"] = torch.rand(shape, generator=gen)
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_levels", [None, 3, 1])
@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.73, 0.99])
def test_global_matches_stable_reference(seed, n_levels, sparsity):
    scores = random_scores(seed, n_levels=n_levels)
    D = sum(s.numel() for s in scores.values())
    k = round(sparsity * D)
    masks, t = compute_masks(scores, sparsity)
    ref, t_ref = reference(scores, k)
    assert_same(masks, ref)
    assert t == pytest.approx(t_ref)
    assert sum(int((~m).sum()) for m in masks.values()) == k


def test_all_equal_scores_remove_earliest():
    scores = {"a": torch.zeros(2, 3), "b": torch.zeros(4)}
    masks, t = compute_masks(scores, 0.5)  # 5 of 10
    assert masks["a"].tolist() == [[False] * 3, [False, False, True]]
    assert masks["b"].tolist() == [True] * 4
    assert t == 0.0


def test_threshold_semantics():
    scores = {"w": torch.tensor([0.4, 0.1, 0.3, 0.2])}
    masks, t = compute_masks(scores, 0.5)
    assert masks["w"].tolist() == [True, False, True, False]
    assert t == pytest.approx(0.2)
    masks, t = compute_masks(scores, 0.0)
    assert masks["w"].all() and t == float("-inf")


def test_rounding_is_python_round():
    scores = {"w": torch.arange(10.0)}
    for s in [0.05, 0.15, 0.25, 0.35, 0.45]:
        masks, _ = compute_masks(scores, s)
        assert int((~masks["w"]).sum()) == round(s * 10)


def test_a_sparsity_below_one_never_removes_everything():
    scores = {"a": torch.arange(6.0), "b": torch.arange(4.0), "one": torch.tensor([5.0])}
    masks, _ = compute_masks(scores, 0.97)  # round(0.97 * 11) = 11
    assert sum(int(m.sum()) for m in masks.values()) == 1
    assert bool(masks["one"][0])  # the largest score stays
    layer, _ = compute_masks(scores, 0.97, scope="layer")
    assert [int(m.sum()) for m in layer.values()] == [1, 1, 1]  # round(0.97) = 1 of "one" too


@pytest.mark.parametrize("n_levels", [None, 2])
def test_existing_masks_sparsity_is_overall_target(n_levels):
    scores = random_scores(1, n_levels=n_levels)
    first, _ = compute_masks(scores, 0.3)
    D = sum(s.numel() for s in scores.values())
    second, _ = compute_masks(scores, 0.6, masks=first)
    assert sum(int((~m).sum()) for m in second.values()) == round(0.6 * D)
    for name in scores:  # removed stay removed
        assert not (second[name] & ~first[name]).any()
    # same as the reference removing the extra ones among the kept
    ref, _ = reference(scores, round(0.6 * D) - round(0.3 * D), masks=first)
    assert_same(second, ref)


def test_existing_masks_are_respected_even_if_scores_are_large():
    scores = {"w": torch.tensor([0.0, 5.0, 1.0, 2.0])}
    old = {"w": torch.tensor([True, False, True, True])}  # 5.0 already removed
    masks, t = compute_masks(scores, n_remove=1, masks=old)
    assert masks["w"].tolist() == [False, False, True, True]
    assert t == 0.0
    # sparsity target below what is already removed: nothing more, a warning
    with pytest.warns(UserWarning, match="already remove"):
        masks, t = compute_masks(scores, 0.1, masks=old)
    assert masks["w"].tolist() == old["w"].tolist() and t == float("-inf")
    assert masks["w"] is not old["w"]


@pytest.mark.parametrize("n_levels", [None, 2])
def test_n_remove_among_kept(n_levels):
    scores = random_scores(2, n_levels=n_levels)
    masks = None
    removed = 0
    for c in [5, 0, 9, 17]:
        masks, _ = compute_masks(scores, n_remove=c, masks=masks)
        removed += c
        assert sum(int((~m).sum()) for m in masks.values()) == removed


def test_layer_scope():
    scores = random_scores(3, n_levels=4)
    masks, t = compute_masks(scores, 0.5, scope="layer")
    ts = []
    for name, s in scores.items():
        ref, t_ref = reference({name: s}, round(0.5 * s.numel()))
        assert torch.equal(masks[name], ref[name])
        ts.append(t_ref)
    assert t == pytest.approx(max(ts))
    m2, _ = compute_masks(scores, n_remove={"p0": 3}, scope="layer", masks=masks)
    assert int((~m2["p0"]).sum()) == int((~masks["p0"]).sum()) + 3
    assert torch.equal(m2["p1"], masks["p1"])
    m3, _ = compute_masks(scores, n_remove=1, scope="layer")
    assert all(int((~m).sum()) == 1 for m in m3.values())


def test_dtypes_and_chunking(monkeypatch):
    import sparselimit.pruning._masks as mod

    monkeypatch.setattr(mod, "_CHUNK", 7)  # force many chunks, ties across chunk borders
    scores = random_scores(5, shapes=((9, 11), (30,)), n_levels=3)
    for dtype in (torch.float16, torch.float64, torch.int64):
        cast = {n: (s * 3).to(dtype) for n, s in scores.items()}
        masks, _ = compute_masks(cast, 0.55)
        ref, _ = reference({n: s.double() for n, s in cast.items()}, round(0.55 * 129))
        assert_same(masks, ref)
        masks2, _ = compute_masks(cast, n_remove=10, masks=masks)
        ref2, _ = reference({n: s.double() for n, s in cast.items()}, 10, masks=ref)
        assert_same(masks2, ref2)


def test_negative_and_infinite_scores_are_ranked():
    scores = {"w": torch.tensor([float("inf"), -1.0, 0.0, float("-inf")])}
    masks, t = compute_masks(scores, 0.5)
    assert masks["w"].tolist() == [True, False, True, False]
    assert t == -1.0


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"sparsity": 1.0}, ValueError, r"`sparsity` must be .* \[0, 1\); got 1.0"),
        ({"sparsity": -0.1}, ValueError, "sparsity"),
        ({"sparsity": "0.5"}, TypeError, "sparsity"),
        ({}, ValueError, "exactly one of `sparsity`"),
        ({"sparsity": 0.5, "n_remove": 1}, ValueError, "exactly one"),
        ({"n_remove": 11}, ValueError, r"`n_remove` must be .* \(10 in total\); got 11"),
        ({"n_remove": -1}, ValueError, "n_remove"),
        ({"n_remove": 1.5}, ValueError, "n_remove"),
        ({"sparsity": 0.5, "scope": "neuron"}, ValueError, r"`scope` must be one of"),
        ({"n_remove": {"w": 1}}, TypeError, "scope='global'"),
    ],
)
def test_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        compute_masks({"w": torch.rand(10)}, **kwargs)


def test_bad_scores_and_masks():
    with pytest.raises(ValueError, match="non-empty dict"):
        compute_masks({}, 0.5)
    with pytest.raises(TypeError, match="torch.Tensor"):
        compute_masks({"w": np.ones(3)}, 0.5)
    with pytest.raises(ValueError, match="NaN"):
        compute_masks({"w": torch.tensor([1.0, float("nan")])}, 0.5)
    with pytest.raises(KeyError, match="no entry"):
        compute_masks({"w": torch.rand(3)}, 0.5, masks={})
    with pytest.raises(TypeError, match="bool tensor"):
        compute_masks({"w": torch.rand(3)}, 0.5, masks={"w": torch.ones(3)})
    with pytest.raises(ValueError, match="shape"):
        compute_masks({"w": torch.rand(3)}, 0.5, masks={"w": torch.ones(4, dtype=torch.bool)})
