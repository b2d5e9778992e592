"""Input checks shared by the estimators: each error names the parameter, what was expected,
what was received, and how to fix it."""

from __future__ import annotations

import contextlib
import numbers
import threading
from collections.abc import Mapping

import numpy as np
import torch

__all__ = [
    "check_sparsity",
    "check_finite",
    "check_X_y",
    "check_weights_finite",
    "make_generator",
]


def check_sparsity(sparsity, name: str = "sparsity") -> float:
    """Validate a pruning fraction in [0, 1).

    Examples
    --------
    >>> from sparselimit.utils import check_sparsity
    >>> check_sparsity(0.9)
    0.9
    >>> check_sparsity(1.0)
    Traceback (most recent call last):
    ...
    ValueError: `sparsity` must be a fraction of weights to remove in [0, 1); got 1.0. ...
    """
    if isinstance(sparsity, bool) or not isinstance(sparsity, numbers.Real):
        raise TypeError(
            f"`{name}` must be a float in [0, 1) (the fraction of prunable weights to remove); "
            f"got {sparsity!r} of type {type(sparsity).__name__}."
        )
    value = float(sparsity)
    if not (0.0 <= value < 1.0) or not np.isfinite(value):
        raise ValueError(
            f"`{name}` must be a fraction of weights to remove in [0, 1); got {sparsity!r}. "
            "Use e.g. 0.9 to remove 90% of the prunable weights (1.0 would remove all of them)."
        )
    return value


#: entries per block of ``_all_finite``
_FINITE_BLOCK = 1 << 20


def _all_finite(t: torch.Tensor) -> bool:
    """Whether every entry of the tensor ``t`` is finite, checked in blocks of
    ``_FINITE_BLOCK`` entries: ``torch.isfinite`` of a whole tensor allocates |t| and three
    bool masks of its size (+210 MiB for 30M float32 weights), a block a few MiB."""
    if not (t.is_floating_point() or t.is_complex()):
        return True
    t = t.detach()
    # a dense tensor in any memory order (channels_last too) is one flat run of storage
    flat = t.reshape(-1) if t.is_contiguous() else t.permute(*_memory_order(t)).reshape(-1)
    return all(
        bool(torch.isfinite(flat[i : i + _FINITE_BLOCK]).all())
        for i in range(0, flat.numel(), _FINITE_BLOCK)
    )


def _memory_order(t: torch.Tensor) -> list[int]:
    """Dimensions of ``t`` from the largest stride to the smallest: permuted to this order, a
    dense tensor (channels_last, a transpose) is contiguous, and reshaping it is a view."""
    return sorted(range(t.dim()), key=lambda d: (-t.stride(d), -t.shape[d]))


def _require_y(X, y, owner: str, why: str) -> None:
    """Refuse ``y=None`` unless ``X`` is a ``Dataset`` (which yields its own targets): skorch's
    Dataset yields the placeholder target 0 for every sample when y is None, so a loss would
    silently be that of labels all 0."""
    if y is None and not isinstance(X, torch.utils.data.Dataset):
        raise ValueError(
            f"{owner} requires y to be passed, but the target y is None: {why}. Pass the "
            "targets the net was trained on (or a Dataset yielding (X, y) as X)."
        )


def _require_y_to_train(net, X, y, owner: str) -> None:
    """Refuse ``y=None`` where the skorch classifier or regressor ``net`` would, before it
    trains: with the default ``iterator_train`` and an ``X`` that is not a ``Dataset``. A
    DataLoader of the user's own may yield the targets, and so may a base ``NeuralNet``'s."""
    from sklearn.base import is_classifier, is_regressor
    from torch.utils.data import DataLoader

    trains_on_y = is_classifier(net) or is_regressor(net)
    if y is None and trains_on_y and getattr(net, "iterator_train", None) is DataLoader:
        _require_y(X, y, owner, f"the {type(net).__name__} is trained on (X, y)")


def check_finite(array, name: str = "X") -> None:
    """Raise ``ValueError`` if ``array`` (NumPy array or tensor) holds NaN or infinity.

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.utils import check_finite
    >>> check_finite(np.array([1.0, np.inf]), "X")
    Traceback (most recent call last):
    ...
    ValueError: `X` contains NaN or infinity; ...
    """
    if isinstance(array, torch.Tensor):
        if array.is_floating_point() and not bool(torch.isfinite(array).all()):
            raise ValueError(
                f"`{name}` contains NaN or infinity; clean or impute it first (e.g. "
                "sklearn.impute.SimpleImputer in a Pipeline)."
            )
        return
    arr = np.asarray(array)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        raise ValueError(
            f"`{name}` contains NaN or infinity; clean or impute it first (e.g. "
            "sklearn.impute.SimpleImputer in a Pipeline)."
        )


def _check_not_empty(X) -> None:
    """Refuse training data with 0 samples, or 2-D with 0 features, in scikit-learn's words: a
    skorch net trains on it without complaint (no batch: the initial weights)."""
    shape = getattr(X, "shape", None)
    shape = tuple(map(int, shape)) if isinstance(shape, tuple) else None
    no_features = shape is not None and len(shape) == 2 and shape[1] == 0
    if _length(X) == 0 or no_features:
        raise ValueError(
            f"Found array with 0 {'feature' if no_features else 'sample'}(s) (shape="
            f"{shape if shape is not None else 'len 0'}) while a minimum of 1 is required. "
            "Pass non-empty training data."
        )


def check_X_y(X, y=None) -> None:
    """Check that X is not empty, the finiteness of X (and y) and that their lengths agree.

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.utils import check_X_y
    >>> check_X_y(np.zeros((3, 2)), np.zeros(2))
    Traceback (most recent call last):
    ...
    ValueError: `X` and `y` must have the same number of samples; got 3 and 2. ...
    >>> check_X_y(np.zeros((0, 2)))
    Traceback (most recent call last):
    ...
    ValueError: Found array with 0 sample(s) (shape=(0, 2)) while a minimum of 1 is required. ...
    """
    _check_not_empty(X)
    if isinstance(X, (np.ndarray, torch.Tensor)):
        check_finite(X, "X")
    if y is not None:
        if isinstance(y, (np.ndarray, torch.Tensor)):
            check_finite(y, "y")
        n_x, n_y = _length(X), _length(y)
        if n_x is not None and n_y is not None and n_x != n_y:
            raise ValueError(
                f"`X` and `y` must have the same number of samples; got {n_x} and {n_y}. "
                "Pass one label (or target row) per sample."
            )


def _as_array(data):
    """Lists, tuples and pandas objects as NumPy arrays, and the scipy.sparse inputs skorch
    cannot take as CSR matrices; anything else unchanged (skorch converts neither lists nor a
    pandas Series, and reads a DataFrame as a dict of columns)."""
    if isinstance(data, (list, tuple)):
        return np.asarray(data)
    if hasattr(data, "tocsr") and hasattr(data, "nnz"):  # scipy.sparse
        from scipy import sparse

        # skorch indexes X by row, which COO, DIA, BSR and DOK do not allow, and densifies a
        # row expecting the (1, n) of a sparse *matrix*: a sparse array's row is 1-D
        if isinstance(data, sparse.spmatrix) and data.format in ("csr", "csc", "lil"):
            return data
        return sparse.csr_matrix(data)
    if hasattr(data, "to_numpy") and not isinstance(data, torch.Tensor):  # pandas
        return data.to_numpy()
    return data


def _dense(data):
    """A scipy.sparse matrix as a dense NumPy array, anything else unchanged: the Hessian and
    the gradient passes take X as one dense tensor (``np.asarray`` of a sparse matrix is a
    0-d object array, and ``len`` of one raises)."""
    if hasattr(data, "toarray") and hasattr(data, "nnz"):  # scipy.sparse, without importing it
        return data.toarray()
    return data


def _torch_ready(data):
    """A NumPy view with negative strides (``X[::-1]``, ``np.flip``) copied, which
    ``torch.as_tensor`` refuses; anything else unchanged (no copy)."""
    if isinstance(data, np.ndarray) and any(s < 0 for s in data.strides):
        return np.ascontiguousarray(data)
    return data


def _class_indices(y):
    """``y`` (a tensor) as the int64 class indices torch's classification losses take, or
    None when it holds something else.

    Integer or bool targets of any shape are indices; whole floats (0., 1., ...) of shape
    ``(n,)`` are too, as scikit-learn takes them. A column ``(n, 1)`` becomes ``(n,)``. Other
    float targets (class probabilities) are not indices.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.utils._validation import _class_indices
    >>> _class_indices(torch.tensor([[1.0], [0.0]]))
    tensor([1, 0])
    >>> _class_indices(torch.tensor([0.3, 0.7])) is None
    True
    """
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.is_floating_point() and (y.ndim != 1 or not bool((y == y.round()).all())):
        return None
    return y if y.dtype == torch.int64 else y.long()


def check_skorch_estimator(estimator, owner: str) -> None:
    """A plain ``torch.nn.Module`` where a skorch net is expected is the likeliest slip of a
    PyTorch user: name the fix before scikit-learn's generic parameter check fires.

    Examples
    --------
    >>> from torch import nn
    >>> from sparselimit.utils._validation import check_skorch_estimator
    >>> check_skorch_estimator(nn.Linear(2, 2), "GlobalOneShotPruner")
    Traceback (most recent call last):
    ...
    TypeError: GlobalOneShotPruner: `estimator` must be a skorch net ...
    """
    if isinstance(estimator, torch.nn.Module):
        raise TypeError(
            f"{owner}: `estimator` must be a skorch net (e.g. "
            "sparselimit.L1RegularizedClassifier or skorch.NeuralNetClassifier); got the "
            f"torch.nn.Module {type(estimator).__name__}. Wrap it: "
            "L1RegularizedClassifier(module, criterion=nn.CrossEntropyLoss, ...); to prune a "
            "trained module directly use sparselimit.pruning.prune_global."
        )


def _unfreeze(estimator):
    """``(net, True)`` for a ``sklearn.frozen.FrozenEstimator`` wrapping ``net``, else
    ``(estimator, False)``.

    The wrapper is scikit-learn's way to keep a fitted net fitted through ``clone`` (so that a
    prefit estimator can go into ``GridSearchCV`` or ``cross_val_score``). It forwards reads
    to the net but keeps attributes set on it, and its ``fit`` does nothing: pruning,
    re-training or swapping the network of the wrapper would miss the net, or reach the
    user's own. The estimators take the net out and work on their copy of it.

    Examples
    --------
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.linear_model import LinearRegression
    >>> from sparselimit.utils._validation import _unfreeze
    >>> lr = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    >>> _unfreeze(FrozenEstimator(lr)) == (lr, True), _unfreeze(lr) == (lr, False)
    (True, True)
    """
    from sklearn.frozen import FrozenEstimator

    if isinstance(estimator, FrozenEstimator):
        return estimator.estimator, True
    return estimator, False


def _inner_sparse_tag(estimator) -> bool:
    """Whether ``estimator`` (a net, or a FrozenEstimator of one) takes scipy.sparse ``X``, by
    its scikit-learn tags: what an estimator passing ``X`` on to it takes (False without
    tags)."""
    from sklearn.utils import get_tags

    try:
        return bool(get_tags(estimator).input_tags.sparse)
    except Exception:  # an object without scikit-learn tags
        return False


def _refuse_frozen(estimator, owner: str) -> None:
    """The estimators that train their net from its initialization cannot take a frozen one."""
    net, frozen = _unfreeze(estimator)
    if frozen:
        raise TypeError(
            f"{owner} trains its net from the initialization, but `estimator` is a "
            f"FrozenEstimator, whose fit does nothing. Pass the unfitted "
            f"{type(net).__name__} itself."
        )


def check_class_codes(net, y) -> None:
    """A skorch classifier trains on class indices ``0..n_classes-1``: string or object labels
    would fail deep inside torch, so say so, with the fix, before any training.

    Nets that are not ``skorch.NeuralNetClassifier`` (regressors, plain modules) pass.

    Examples
    --------
    >>> import numpy as np
    >>> from skorch import NeuralNetClassifier
    >>> from torch import nn
    >>> from sparselimit.utils._validation import check_class_codes
    >>> check_class_codes(NeuralNetClassifier(nn.Linear), np.array(["cat", "dog"]))
    Traceback (most recent call last):
    ...
    TypeError: y of a skorch classifier holds class indices 0..n_classes-1 (integers); ...
    """
    from skorch import NeuralNetClassifier

    if y is None or not isinstance(net, NeuralNetClassifier):
        return
    y = _as_array(y)
    if isinstance(y, np.ndarray) and y.dtype.kind in "OUS" and y.size:
        raise TypeError(
            "y of a skorch classifier holds class indices 0..n_classes-1 (integers); got "
            f"labels of dtype {y.dtype} such as {y.reshape(-1)[0]!r}. Encode them with "
            "sklearn.preprocessing.LabelEncoder (and decode predictions with it)."
        )
    # one float per sample that is not a whole number: a regression target, which NLL and
    # cross-entropy refuse deep inside torch ("expected target dtype to be Long")
    criterion = getattr(net, "criterion_", None) or net.criterion
    criterion = criterion if isinstance(criterion, type) else type(criterion)
    if not issubclass(criterion, (torch.nn.NLLLoss, torch.nn.CrossEntropyLoss)):
        return
    if isinstance(y, torch.Tensor) and y.is_floating_point():
        y = y.detach().to("cpu", torch.float64).numpy()
    if not isinstance(y, np.ndarray) or y.dtype.kind != "f":
        return
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        fractional = y[np.isfinite(y) & (y != np.round(y))]
        if fractional.size:
            raise ValueError(
                "Unknown label type: continuous. y of a skorch classifier holds class indices "
                f"0..n_classes-1; got non-integer values such as {float(fractional[0])!r}. For "
                "a regression target use a regressor net (L1RegularizedRegressor, "
                "NeuralNetRegressor); labels stored as floats must be whole numbers."
            )


def _length(a):
    shape = getattr(a, "shape", None)  # arrays, tensors, DataFrames, scipy.sparse (dok is a dict)
    if isinstance(shape, tuple) and len(shape) >= 1:
        return int(shape[0])
    if isinstance(a, Mapping):  # skorch's dict inputs: one array per forward argument
        return _length(next(iter(a.values()))) if a else None
    try:
        return len(a)
    except TypeError:
        return None


def check_weights_finite(params, where: str = "the network") -> None:
    """Raise ``ValueError`` if any tensor in ``params`` (name -> tensor) is not finite.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.utils import check_weights_finite
    >>> check_weights_finite({"fc.weight": torch.tensor([0.0, float("nan")])})
    Traceback (most recent call last):
    ...
    ValueError: Parameter 'fc.weight' of the network contains NaN or infinity; ...
    """
    if not isinstance(params, Mapping):
        hint = " (for a module pass dict(module.named_parameters()))"
        raise TypeError(
            "`params` must be a dict of parameter name to tensor"
            f"{hint if isinstance(params, torch.nn.Module) else ''}; got {type(params).__name__}."
        )
    for name, p in params.items():
        if not _all_finite(p):
            raise ValueError(
                f"Parameter '{name}' of {where} contains NaN or infinity; the model diverged or "
                "was loaded incorrectly. Retrain it (e.g. with a smaller learning rate) first."
            )


def make_generator(random_state, device="cpu") -> torch.Generator:
    """Turn ``random_state`` (None, int or ``np.random.RandomState``) into a fresh
    ``torch.Generator``, never touching the global RNG; a ``torch.Generator`` is returned as
    it is (draws from it advance it).

    Examples
    --------
    >>> import torch
    >>> from sparselimit.utils import make_generator
    >>> a = torch.rand(3, generator=make_generator(0))
    >>> b = torch.rand(3, generator=make_generator(0))
    >>> bool((a == b).all())
    True
    """
    if isinstance(random_state, torch.Generator):
        return random_state
    gen = torch.Generator(device=device)
    if random_state is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(0, 2**31 - 1))
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(random_state)
    else:
        raise TypeError(
            "`random_state` must be None, an int, a numpy RandomState or a torch.Generator; "
            f"got {random_state!r}."
        )
    gen.manual_seed(seed)
    return gen


#: torch's global RNG is one per process. Concurrent fits in threads (joblib's threading
#: backend, a dask cluster with ``processes=False``) would interleave their draws and restore
#: each other's saved states, so the same ``random_state`` gave different results than
#: ``n_jobs=1``: the sections that seed or save and restore it run one thread at a time.
#: Re-entrant, as a seeded fit calls shielded helpers and nested estimators.
_GLOBAL_RNG_LOCK = threading.RLock()


def _initialized_cuda_devices() -> list[int]:
    """The CUDA devices whose generators a seeded block saves and restores: every one once
    CUDA is initialised (``torch.manual_seed`` reseeds them all), none before -- asking for
    their states would initialise CUDA on any machine with a GPU, even for a CPU net. (A CUDA
    first initialised inside the block starts from the block's seed, so GPU training is
    reproducible too.)"""
    return list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []


@contextlib.contextmanager
def _torch_seeded(seed):
    """Run the block with torch's global RNG seeded to ``seed`` (module initialisation and
    skorch's shuffling draw from it), then restore it -- the CPU generator and those of the
    initialised CUDA devices; ``None`` leaves the RNG as it is. Seeded blocks of different
    threads never overlap (see ``_GLOBAL_RNG_LOCK``)."""
    if seed is None:
        yield
        return
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=_initialized_cuda_devices()):
        torch.manual_seed(int(seed))
        yield


@contextlib.contextmanager
def _rng_shielded():
    """Run the block with torch's global RNG saved and restored afterwards -- skorch's
    DataLoaders draw a seed from it on every pass, even unshuffled ones -- and not while
    another thread's seeded or shielded block runs (see ``_GLOBAL_RNG_LOCK``)."""
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        yield


def _n_columns(X):
    """The number of columns of a 2-D ``X`` -- array, tensor, DataFrame, scipy.sparse matrix or
    a list of rows (lists or tuples), as scikit-learn counts them -- else None (a skorch net
    may also take dicts, Datasets, inputs of other ranks, or a list of arrays, one per input
    of the module, which have no feature count)."""
    shape = getattr(X, "shape", None)
    if shape is None and isinstance(X, (list, tuple)) and X and isinstance(X[0], (list, tuple)):
        try:
            shape = np.shape(X)
        except (ValueError, TypeError, RuntimeError):  # ragged, or rows NumPy cannot read
            return None
    if shape is not None and len(shape) == 2:
        return int(shape[1])
    return None


def _record_n_features(est, X) -> None:
    """Set ``est.n_features_in_`` as scikit-learn does, when ``X`` is 2-D (see
    :func:`_n_columns`); otherwise remove the count an earlier fit left, as scikit-learn's
    ``reset=True`` does."""
    n = _n_columns(X)
    if n is not None:
        est.n_features_in_ = n
    else:
        est.__dict__.pop("n_features_in_", None)
