import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from torch import nn

from sparselimit.metrics import PQIndex, pq_index

# ALGORITHMS.md section 3 reference values
REFERENCE = [
    ([1, 0, 0, 0], 0.5, 1.0, 0.75),
    ([1, 1, 1, 1], 0.5, 1.0, 0.0),
    ([3, 1], 1.0, 2.0, 0.105573),
    ([1, 2, 3, 4], 0.5, 1.0, 0.055586),
    ([1, 2, 3, 4], 1.0, 2.0, 0.087129),
    ([5] + [0] * 9, 1.0, 2.0, 0.683772),
    (list(range(1, 101)), 0.5, 1.0, 0.107203),  # the SAP example w = 1..100
    (list(range(1, 101)), 1.0, 2.0, 0.131823),
]


def naive_pq(w, p, q):
    a = np.abs(np.asarray(w, dtype=np.float64)).ravel()
    d = a.size
    return 1 - d ** (1 / q - 1 / p) * np.sum(a**p) ** (1 / p) / np.sum(a**q) ** (1 / q)


@pytest.mark.parametrize("w, p, q, expected", REFERENCE)
def test_reference_values(w, p, q, expected):
    assert pq_index(w, p, q) == pytest.approx(expected, abs=1e-6)
    assert pq_index(np.array(w, dtype=np.float32), p, q) == pytest.approx(expected, abs=1e-6)
    assert pq_index(torch.tensor(w, dtype=torch.float32), p, q) == pytest.approx(expected, abs=1e-6)


def test_any_shape_is_flattened_and_matches_the_definition():
    w = np.random.RandomState(0).randn(3, 4, 5)
    assert pq_index(w) == pytest.approx(naive_pq(w, 0.5, 1.0), rel=1e-12)
    assert pq_index(w, 1.0, 2.0) == pytest.approx(naive_pq(w, 1.0, 2.0), rel=1e-12)
    assert pq_index(torch.from_numpy(w)) == pq_index(w.ravel().tolist())


def test_float32_input_is_computed_in_float64():
    w32 = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    assert pq_index(w32) == pytest.approx(naive_pq(w32.double().numpy(), 0.5, 1.0), rel=1e-13)


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1e150, 1e300])
def test_stable_for_extreme_magnitudes(scale):
    w = np.array([1.0, 2.0, 3.0, 4.0])
    # naively, (1e300)^2 overflows and (1e-300)^2 underflows
    assert pq_index(w * scale, 1.0, 2.0) == pytest.approx(0.087129, abs=1e-6)
    assert pq_index(w * scale, 0.5, 1.0) == pytest.approx(0.055586, abs=1e-6)


def test_widely_spread_magnitudes_match_exact_arithmetic():
    from fractions import Fraction

    w = [1e-12, 1.0, 3.0]  # p=1, q=2: exact value via rationals
    s1 = sum(Fraction(x) for x in w)
    s2 = sum(Fraction(x) ** 2 for x in w)
    expected = 1 - math.sqrt(3) ** -1 * float(s1) / math.sqrt(float(s2))
    assert pq_index(w, 1.0, 2.0) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("p, q", [(0.5, 1.0), (1.0, 2.0), (0.3, 3.0)])
def test_invariances_and_bounds(seed, p, q):
    rng = np.random.RandomState(seed)
    w = rng.randn(37) * rng.binomial(1, 0.6, size=37)
    w[0] = 1.5  # not all zero
    value = pq_index(w, p, q)
    assert pq_index(w * 123.4, p, q) == pytest.approx(value, rel=1e-12)  # scaling
    assert pq_index(w * -1e-3, p, q) == pytest.approx(value, rel=1e-12)
    assert pq_index(np.abs(w), p, q) == pytest.approx(value, rel=1e-12)  # sign
    signs = rng.choice([-1.0, 1.0], size=w.size)
    assert pq_index(w * signs, p, q) == pytest.approx(value, rel=1e-12)
    assert pq_index(rng.permutation(w), p, q) == pytest.approx(value, rel=1e-12)  # permutation
    assert pq_index(np.concatenate([w, w]), p, q) == pytest.approx(value, rel=1e-12)  # cloning
    assert pq_index(np.tile(w, 3), p, q) == pytest.approx(value, rel=1e-12)
    d = w.size
    assert 0.0 <= value <= 1 - d ** (1 / q - 1 / p) + 1e-12
    assert value > 0  # magnitudes differ


@pytest.mark.parametrize("d", [1, 2, 7, 100])
def test_zero_iff_equal_magnitudes_and_upper_bound_attained_by_one_hot(d):
    equal = np.full(d, 2.5) * np.where(np.arange(d) % 2, 1, -1)
    assert pq_index(equal) == 0.0
    one_hot = np.zeros(d)
    one_hot[d // 2] = -3.0
    for p, q in [(0.5, 1.0), (1.0, 2.0)]:
        assert pq_index(one_hot, p, q) == pytest.approx(1 - d ** (1 / q - 1 / p), abs=1e-15)
    if d > 1:
        nearly_equal = equal.copy()
        nearly_equal[0] *= 1.01
        assert pq_index(nearly_equal) > 0


def test_never_negative_from_rounding():
    one_ulp_more = np.nextafter(1.0, 2.0)  # unclipped, M_p / M_q rounds to 1 + 2.2e-16 here
    for p, q in [(0.5, 1.0), (1.0, 2.0)]:
        assert pq_index([1.0, 1.0, one_ulp_more], p, q) >= 0.0
        assert pq_index([one_ulp_more, 1.0, 1.0, 1.0, 1.0], p, q) >= 0.0


def test_sparser_is_higher():
    w = np.arange(1.0, 11.0)
    sparser = w.copy()
    sparser[:5] = 0.0
    assert pq_index(sparser) > pq_index(w)


def test_mask_restricts_to_kept_entries():
    w = np.array([[1.0, 0.0], [3.0, 4.0]])
    mask = np.array([[True, True], [False, True]])
    assert pq_index(w, mask=mask) == pytest.approx(pq_index([1.0, 0.0, 4.0]), abs=1e-15)
    assert pq_index(torch.tensor(w), mask=torch.tensor(mask)) == pq_index(w, mask=mask)
    with pytest.raises(ValueError, match="one entry per weight"):
        pq_index(w, mask=[True, False])
    with pytest.raises(ValueError, match="empty"):
        pq_index(w, mask=np.zeros((2, 2), dtype=bool))


@pytest.mark.parametrize(
    "p, q, match",
    [
        (1.0, 1.0, r"p < q; got p=1.0 and q=1.0"),
        (2.0, 1.0, r"p < q; got p=2.0 and q=1.0"),
        (0.0, 1.0, r"`p` must be > 0 .*got p=0.0, q=1.0"),
        (-0.5, 1.0, r"`p` must be > 0 .*got p=-0.5"),
        (0.5, math.inf, r"`q` must be a finite"),
        (math.nan, 1.0, r"`p` must be a finite"),
    ],
)
def test_bad_exponents(p, q, match):
    with pytest.raises(ValueError, match=match):
        pq_index([1.0, 2.0], p, q)


@pytest.mark.parametrize("p", ["0.5", None, True])
def test_exponent_types(p):
    with pytest.raises(TypeError, match="`p` must be a positive real number"):
        pq_index([1.0, 2.0], p, 1.0)


def test_bad_weights():
    with pytest.raises(ValueError, match="PQ index is undefined for an all-zero weight vector"):
        pq_index([0.0, 0.0, -0.0])
    with pytest.raises(ValueError, match="all-zero"):
        pq_index(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="empty"):
        pq_index([])
    with pytest.raises(ValueError, match="empty"):
        pq_index(torch.empty(0, 4))
    with pytest.raises(ValueError, match="NaN or infinity"):
        pq_index([1.0, np.nan])
    with pytest.raises(ValueError, match="NaN or infinity"):
        pq_index(torch.tensor([1.0, float("inf")]))
    with pytest.raises(TypeError, match="numeric array-like"):
        pq_index(["a", "b"])


# --------------------------------------------------------------------------- PQIndex


def set_weights(net, *weights):
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for layer, w in zip(linears, weights, strict=True):
            layer.weight.copy_(torch.as_tensor(w, dtype=torch.float32))
    return net


def two_layer(w0, w1):
    net = nn.Sequential(nn.Linear(len(w0[0]), len(w0)), nn.ReLU(), nn.Linear(len(w1[0]), len(w1)))
    return set_weights(net, w0, w1)


W0 = [[1.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]]
W1 = [[3.0, 1.0, 0.0]]


class FakePruner(BaseEstimator):
    """The shape of a fitted sparselimit meta-estimator: estimator / estimator_ / masks_."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X=None, y=None):
        return self


def test_global_scope_pools_all_prunable_weights_but_not_biases():
    net = two_layer(W0, W1)
    with torch.no_grad():
        net[0].bias.fill_(100.0)
    expected = pq_index(np.concatenate([np.ravel(W0), np.ravel(W1)]))
    assert PQIndex().score(net) == pytest.approx(expected, abs=1e-15)
    assert PQIndex(1.0, 2.0).score(net) == pytest.approx(
        pq_index(np.concatenate([np.ravel(W0), np.ravel(W1)]), 1.0, 2.0), abs=1e-15
    )
    assert PQIndex().score_units(net) == {"global": pytest.approx(expected, abs=1e-15)}


def test_layer_scope():
    net = two_layer(W0, W1)
    units = PQIndex(p=1.0, q=2.0, scope="layer").score_units(net)
    assert list(units) == ["0.weight", "2.weight"]
    assert units["0.weight"] == pytest.approx(pq_index(W0, 1.0, 2.0), abs=1e-15)
    assert units["2.weight"] == pytest.approx(pq_index([3.0, 1.0, 0.0], 1.0, 2.0), abs=1e-15)
    mean = (pq_index(W0, 1.0, 2.0) + pq_index(W1, 1.0, 2.0)) / 2
    assert PQIndex(p=1.0, q=2.0, scope="layer").score(net) == pytest.approx(mean, abs=1e-15)


def test_neuron_scope_skips_all_zero_rows():
    net = two_layer(W0, W1)
    units = PQIndex(scope="neuron").score_units(net)
    np.testing.assert_allclose(units["0.weight"], [0.75, 0.055586, np.nan], atol=1e-6)
    np.testing.assert_allclose(units["2.weight"], [pq_index([3.0, 1.0, 0.0])], atol=1e-15)
    expected = np.mean([0.75, pq_index([1, 2, 3, 4]), pq_index([3.0, 1.0, 0.0])])
    assert PQIndex(scope="neuron").score(net) == pytest.approx(expected, abs=1e-15)


def test_neuron_scope_treats_conv_filters_as_neurons():
    conv = nn.Conv2d(2, 3, kernel_size=2, bias=False)
    w = torch.randn(3, 2, 2, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        conv.weight.copy_(w)
    units = PQIndex(scope="neuron").score_units(conv)["weight"]
    assert units.shape == (3,)
    np.testing.assert_allclose(units, [pq_index(w[i]) for i in range(3)], rtol=1e-12)


def test_masks_from_meta_estimator_and_pipeline():
    net = two_layer(W0, W1)
    masks = {
        "0.weight": torch.tensor(
            [[True, True, False, False], [False, False, True, True], [True] * 4]
        ),
    }
    pruner = FakePruner(net)
    pruner.estimator_ = net
    pruner.masks_ = masks
    # the pruner pruned only 0.weight (its masks' keys): that is what is measured ...
    kept0 = np.asarray(W0)[masks["0.weight"].numpy()]
    assert PQIndex().score(pruner) == pytest.approx(pq_index(kept0), abs=1e-15)
    # ... unless the caller selects other weights; unmasked selected weights are fully kept
    kept = np.concatenate([kept0, np.ravel(W1)])
    assert PQIndex(include=r"weight$").score(pruner) == pytest.approx(pq_index(kept), abs=1e-15)
    assert PQIndex(include=r"weight$").score(pruner) != pytest.approx(PQIndex().score(net))
    pipe = Pipeline([("id", FunctionTransformer()), ("prune", pruner)])
    assert PQIndex().score(pipe) == PQIndex().score(pruner)
    # explicit masks win; a fully masked row is skipped in the neuron scope
    explicit = {"2.weight": torch.tensor([[False, True, True]])}
    assert PQIndex().score(net, masks=explicit) == pytest.approx(
        pq_index(np.concatenate([np.ravel(W0), [1.0, 0.0]])), abs=1e-15
    )
    units = PQIndex(scope="neuron").score_units(net, masks={"2.weight": torch.zeros(1, 3) > 0})
    assert np.isnan(units["2.weight"][0])


def test_bad_masks():
    net = two_layer(W0, W1)
    with pytest.raises(ValueError, match="has shape"):
        PQIndex().score(net, masks={"0.weight": torch.ones(2, 2, dtype=torch.bool)})
    with pytest.raises(KeyError, match="does not match any parameter"):
        PQIndex().score(net, masks={"nope": torch.ones(1, dtype=torch.bool)})


def test_include_exclude():
    net = two_layer(W0, W1)
    assert PQIndex(exclude=r"^2\.").score(net) == pytest.approx(pq_index(W0), abs=1e-15)
    with torch.no_grad():
        net[2].bias.fill_(1.0)
    assert PQIndex(include=r"^2\.").score(net) == pytest.approx(
        pq_index(np.r_[np.ravel(W1), 1.0]), abs=1e-15
    )


def test_array_input_ignores_scope():
    assert PQIndex(scope="neuron").score(np.array([1.0, 0, 0, 0])) == 0.75
    assert PQIndex(p=1.0, q=2.0).score(torch.tensor([3.0, 1.0])) == pytest.approx(
        0.105573, abs=1e-6
    )


def test_array_input_refuses_masks_it_cannot_apply():
    # masks are keyed by parameter names; on a bare array they were ignored silently (0.0556,
    # the index of all four entries, instead of the kept two's 0.0286)
    keep = torch.tensor([True, True, False, False])
    with pytest.raises(TypeError, match=r"pq_index\(w, p, q, mask=keep\)"):
        PQIndex().score(np.array([1.0, 2.0, 3.0, 4.0]), masks={"weight": keep})
    assert pq_index([1.0, 2.0, 3.0, 4.0], mask=keep) == pytest.approx(
        naive_pq([1.0, 2.0], 0.5, 1.0)
    )


def test_complex_arrays_use_the_magnitudes():
    # |w| of [1j, 1] is [1, 1]: index 0, as for the tensor (the real parts gave 0.5)
    w = np.array([1j, 1.0, 0.0, 3 - 4j])
    assert pq_index(w) == pytest.approx(naive_pq(np.abs(w), 0.5, 1.0), abs=1e-12)
    assert pq_index([1j, 1.0]) == 0.0
    assert pq_index(w) == pytest.approx(pq_index(torch.from_numpy(w)), abs=1e-12)


def test_all_zero_and_nan_networks_raise():
    net = two_layer([[0.0, 0.0]], [[0.0]])
    for scope in ("global", "layer", "neuron"):
        with pytest.raises(ValueError, match="all-zero weight vector"):
            PQIndex(scope=scope).score(net)
    net = two_layer([[1.0, float("nan")]], [[1.0]])
    with pytest.raises(ValueError, match=r"'0.weight'.*NaN or infinity"):
        PQIndex().score(net)


def test_parameters_are_validated_when_used_not_at_init():
    for kwargs, exc, match in [
        (dict(scope="row"), ValueError, "scope"),
        (dict(p=-1.0), ValueError, "'p' parameter"),
        (dict(p=2.0, q=1.0), ValueError, r"p < q; got p=2.0 and q=1.0"),
        (dict(include=3), ValueError, "include"),
    ]:
        scorer = PQIndex(**kwargs)  # no error yet
        with pytest.raises(exc, match=match):
            scorer.score(nn.Linear(2, 2))


def test_sklearn_contract():
    scorer = PQIndex(p=1.0, q=2.0, scope="layer")
    assert scorer.get_params() == {
        "p": 1.0,
        "q": 2.0,
        "scope": "layer",
        "include": None,
        "exclude": None,
    }
    cloned = clone(scorer)
    assert cloned is not scorer and cloned.get_params() == scorer.get_params()
    net = two_layer(W0, W1)
    restored = pickle.loads(pickle.dumps(scorer))
    assert restored.score(net) == scorer.score(net)
    assert scorer(net, None, None) == scorer.score(net)
    assert scorer(net, np.zeros((2, 4)), np.zeros(2), sample_weight=None) == scorer.score(net)
    assert "PQIndex(p=1.0, q=2.0, scope='layer')" == repr(scorer)


def test_unfitted_objects_raise_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PQIndex().score(FakePruner(nn.Linear(2, 2)))
    with pytest.raises(TypeError, match="Expected a torch.nn.Module"):
        PQIndex().score({"weight": 1})


def test_does_not_modify_the_network():
    net = two_layer(W0, W1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    PQIndex(scope="neuron").score(net, masks={"0.weight": torch.zeros(3, 4, dtype=torch.bool)})
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])


@pytest.mark.parametrize("block", [1, 7, 64])
def test_blockwise_power_sums_match_the_definition(monkeypatch, block):
    # the power sums are taken over column blocks of _BLOCK entries; tiny blocks split every
    # row (and, for one-row tensors, every entry) into many blocks, with and without a mask
    from sparselimit.metrics import _pq

    monkeypatch.setattr(_pq, "_BLOCK", block)
    rng = np.random.RandomState(1)
    w = rng.randn(6, 50).astype(np.float32)
    w[2] = 0.0  # an all-zero row: undefined, NaN
    w[4, 1:] = 0.0  # one non-zero, in the first block only
    keep = rng.rand(6, 50) > 0.4
    assert pq_index(w) == pytest.approx(naive_pq(w, 0.5, 1.0), rel=1e-12)
    assert pq_index(w, mask=keep) == pytest.approx(naive_pq(w[keep], 0.5, 1.0), rel=1e-12)
    net = nn.Linear(50, 6, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.from_numpy(w))
    rows = PQIndex(1.0, 2.0, scope="neuron").score_units(net)["weight"]
    expected = [naive_pq(r, 1.0, 2.0) if r.any() else np.nan for r in w]
    np.testing.assert_allclose(rows, expected, rtol=1e-12)


@pytest.mark.parametrize("p, q", [(0.5, 1.0), (1.0, 2.0), (0.3, 0.7)])
def test_masked_index_equals_index_of_the_kept_entries_exactly(p, q):
    # pruned entries are zeroed by a multiply and counted with count_nonzero; over several
    # conversion blocks, so a leaked pruned magnitude or a miscounted d would show
    from sparselimit.metrics import _pq

    rs = np.random.RandomState(0)
    w = rs.standard_cauchy(_pq._BLOCK * 2 + 7).astype(np.float32)
    mask = rs.rand(w.size) < 0.3
    w[np.flatnonzero(~mask)[::2]] = 1e6  # large pruned weights would dominate if they leaked
    ref = np.abs(w[mask].astype(np.float64))
    ref_value = 1 - np.mean((ref / ref.max()) ** p) ** (1 / p) / np.mean(
        (ref / ref.max()) ** q
    ) ** (1 / q)
    assert pq_index(w, p, q, mask=mask) == pytest.approx(ref_value, rel=1e-9)
    # the same up to summation order (the blocks of the full and the compacted vector differ)
    masked = pq_index(torch.from_numpy(w), p, q, mask=torch.from_numpy(mask))
    assert masked == pytest.approx(pq_index(w[mask], p, q), rel=1e-12)
