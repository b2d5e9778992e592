import re

import numpy as np
import pytest
import torch
from torch import nn

from sparselimit.utils import (
    apply_masks,
    check_sparsity,
    check_weights_finite,
    check_X_y,
    make_generator,
    resolve_module,
)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_sparsity_out_of_range(bad):
    with pytest.raises(ValueError, match=r"`sparsity` must be .*\[0, 1\)"):
        check_sparsity(bad)


def test_sparsity_wrong_type():
    with pytest.raises(TypeError, match="sparsity"):
        check_sparsity("0.5")
    assert check_sparsity(0) == 0.0


def test_nan_in_X_and_length_mismatch():
    X = np.ones((4, 2))
    X[1, 1] = np.nan
    with pytest.raises(ValueError, match="`X` contains NaN"):
        check_X_y(X, np.zeros(4))
    with pytest.raises(ValueError, match="same number of samples; got 4 and 3"):
        check_X_y(np.ones((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="`y` contains NaN"):
        check_X_y(torch.ones(2, 2), torch.tensor([0.0, float("inf")]))


def test_nonfinite_weights_name_the_parameter():
    lin = nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight[0, 0] = float("inf")
    with pytest.raises(ValueError, match="'weight'.*NaN or infinity"):
        check_weights_finite(dict(lin.named_parameters()))


def test_generator_is_reproducible_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = torch.randn(5, generator=make_generator(3))
    b = torch.randn(5, generator=make_generator(3))
    c = torch.randn(5, generator=make_generator(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(state, torch.get_rng_state())
    g = torch.Generator()
    assert make_generator(g) is g
    with pytest.raises(TypeError, match="random_state"):
        make_generator("seed")


def test_apply_masks_checks_names_shapes_dtypes():
    lin = nn.Linear(2, 3)
    with pytest.raises(KeyError, match="'nope'"):
        apply_masks(lin, {"nope": torch.ones(3, 2, dtype=torch.bool)})
    with pytest.raises(ValueError, match="shape"):
        apply_masks(lin, {"weight": torch.ones(2, 3, dtype=torch.bool)})
    with pytest.raises(TypeError, match="bool"):
        apply_masks(lin, {"weight": torch.ones(3, 2)})
    mask = torch.tensor([[True, False], [False, False], [True, True]])
    apply_masks(lin, {"weight": mask})
    assert torch.equal(lin.weight != 0, mask)


def test_resolve_module_rejects_unknown_and_unfitted():
    from sklearn.exceptions import NotFittedError
    from skorch import NeuralNetClassifier

    with pytest.raises(TypeError, match="nn.Module"):
        resolve_module(42)
    with pytest.raises(NotFittedError, match="initialize"):
        resolve_module(NeuralNetClassifier(nn.Linear(2, 2)))


def _string_label_estimators():
    from skorch import NeuralNetClassifier

    from sparselimit import GlobalOneShotPruner, IterativePruner, PruningLimitEstimator
    from sparselimit.blocks import BlockSparsifier

    def net():
        return NeuralNetClassifier(
            nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)),
            criterion=nn.CrossEntropyLoss,
            max_epochs=1,
            train_split=None,
            verbose=0,
        )

    return {
        "GlobalOneShotPruner": GlobalOneShotPruner(net(), sparsity=0.5),
        "IterativePruner": IterativePruner(net(), n_rounds=1, verbose=0),
        "BlockSparsifier": BlockSparsifier(net(), sparsity=0.5, block_size=4),
        "PruningLimitEstimator": PruningLimitEstimator(net(), n_lanczos_steps=4, verbose=0),
    }


@pytest.mark.parametrize("name", list(_string_label_estimators()))
def test_string_labels_on_a_user_skorch_classifier_fail_clearly(name):
    est = _string_label_estimators()[name]
    X = np.random.RandomState(0).randn(12, 4).astype(np.float32)
    y = np.array(["a", "b", "c"] * 4)
    with pytest.raises(TypeError, match=r"class indices 0\.\.n_classes-1.*LabelEncoder"):
        est.fit(X, y)
    assert not hasattr(est.estimator, "module_")  # failed before any training


def _empty_data_estimators():
    from skorch import NeuralNetClassifier

    from sparselimit import (
        GlobalOneShotPruner,
        HessianSpectrum,
        IterativePruner,
        PruningLimitEstimator,
    )
    from sparselimit.blocks import BlockSparsifier

    net = NeuralNetClassifier(nn.Linear(3, 2), max_epochs=1, train_split=None, verbose=0)
    return [
        GlobalOneShotPruner(net, sparsity=0.5),
        IterativePruner(net, n_rounds=1, verbose=0),
        BlockSparsifier(net),
        HessianSpectrum(net),
        PruningLimitEstimator(net),
    ]


@pytest.mark.parametrize("shape, what", [((0, 3), "0 sample"), ((5, 0), "0 feature")])
def test_empty_X_is_refused_before_training(shape, what):
    # a skorch net "trains" on no samples without a word (no batch, the initial weights):
    # GlobalOneShotPruner then pruned the untrained net; the others failed deep inside
    X, y = np.zeros(shape, dtype=np.float32), np.zeros(shape[0], dtype=np.int64)
    with pytest.raises(
        ValueError, match=re.escape(f"{what}(s) (shape={shape}) while a minimum of 1")
    ):
        check_X_y(X, y)
    for est in _empty_data_estimators():
        with pytest.raises(ValueError, match=rf"{what}\(s\).*minimum of 1 is required"):
            est.fit(X, y)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_a_continuous_target_for_a_classifier_net_is_named_before_training(as_tensor):
    # NLL / cross-entropy refused it deep inside torch: "expected target dtype to be Long"
    from skorch import NeuralNetClassifier

    from sparselimit import IterativePruner, L1RegularizedClassifier

    rng = np.random.RandomState(0)
    X, y = rng.randn(20, 3).astype(np.float32), rng.randn(20)
    y = torch.as_tensor(y) if as_tensor else y
    kw = dict(criterion=nn.CrossEntropyLoss, max_epochs=1, train_split=None, verbose=0)
    for est in (
        L1RegularizedClassifier(nn.Linear(3, 2), **kw),
        IterativePruner(NeuralNetClassifier(nn.Linear(3, 2), **kw), n_rounds=1, verbose=0),
    ):
        with pytest.raises(ValueError, match="Unknown label type: continuous.*regressor net"):
            est.fit(X, y)
    # whole floats are labels, and BCE takes probabilities: both still train
    L1RegularizedClassifier(nn.Linear(3, 2), **kw).fit(X, np.asarray(y > 0, dtype=np.float64))
    bce = dict(kw, criterion=nn.BCEWithLogitsLoss)
    L1RegularizedClassifier(nn.Linear(3, 1), **bce).fit(X, 1 / (1 + np.exp(-np.asarray(y))))


def test_seeded_block_restores_the_generators_of_initialised_cuda_devices(monkeypatch):
    # No GPU here: a fake CUDA with two initialised devices records what the seeded block does
    # to their generators. torch.manual_seed reseeds every CUDA device; the block must put the
    # user's states back, as it does for the CPU generator.
    from sparselimit.utils._validation import _torch_seeded

    states = {0: torch.tensor([1], dtype=torch.uint8), 1: torch.tensor([2], dtype=torch.uint8)}
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: states[device].clone())
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, device: states.update({device: s}))

    def seed_all(seed):
        for d in states:
            states[d] = torch.tensor([seed % 256], dtype=torch.uint8)

    monkeypatch.setattr(torch.cuda, "manual_seed_all", seed_all)
    cpu_before = torch.random.get_rng_state()
    with _torch_seeded(7):
        assert [int(s) for s in states.values()] == [7, 7]  # seeded inside
    assert [int(s) for s in states.values()] == [1, 2]  # the user's streams again
    assert torch.equal(torch.random.get_rng_state(), cpu_before)
    # before CUDA is initialised its generators are not asked for (that would initialise it)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: pytest.fail("CUDA init"))
    with _torch_seeded(7):
        pass


def test_mask_and_weight_checks_name_a_wrong_container():
    """A list of masks or a skorch net / module where a dict or a module is expected failed
    with AttributeError ('list' object has no attribute 'items')."""
    from sparselimit.utils import apply_masks, check_masks

    layer = nn.Linear(3, 2)
    masks = {"weight": torch.ones(2, 3, dtype=torch.bool)}
    for fn in (apply_masks, check_masks):
        with pytest.raises(TypeError, match="`masks` must be a dict .*; got list"):
            fn(layer, [masks["weight"]])
        with pytest.raises(TypeError, match="`module` must be a torch.nn.Module; got dict"):
            fn(masks, masks)
    with pytest.raises(TypeError, match=r"dict\(module.named_parameters\(\)\)\); got Linear"):
        check_weights_finite(layer)
    with pytest.raises(TypeError, match="`params` must be a dict .*; got list"):
        check_weights_finite([layer.weight])
