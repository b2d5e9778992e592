"""skorch nets trained with an L1 penalty on their prunable weights."""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.utils import to_tensor

from ..utils import select_prunable
from ..utils._validation import _as_array, _check_not_empty, _class_indices, check_class_codes

__all__ = ["L1RegularizedClassifier", "L1RegularizedRegressor", "l1_penalty"]


def l1_penalty(params) -> torch.Tensor:
    """Sum of absolute values over an iterable of tensors (the un-averaged L1 norm).

    Examples
    --------
    >>> import torch
    >>> from sparselimit.training import l1_penalty
    >>> l1_penalty([torch.tensor([1.0, -2.0]), torch.tensor([[0.5]])])
    tensor(3.5000)
    """
    params = list(params)
    if not params:
        raise ValueError("l1_penalty needs at least one tensor.")
    return torch.stack([p.abs().sum() for p in params]).sum()


def _integer_dtype(x):
    """The dtype of the first integer tensor in ``x`` (a tensor or a dict of them), else None."""
    tensors = x.values() if isinstance(x, Mapping) else [x]
    for t in tensors:
        if isinstance(t, torch.Tensor) and not t.is_floating_point() and not t.is_complex():
            return t.dtype
    return None


class _L1Mixin:
    """Adds ``l1_alpha * sum|w|`` over the prunable weights to the training loss.

    The penalty enters only when ``training=True``, so the validation loss skorch records
    (``valid_loss``) stays the plain data loss, comparable across ``l1_alpha`` values.
    """

    def _check_l1_params(self):
        alpha = self.l1_alpha
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not alpha >= 0:
            raise ValueError(
                "`l1_alpha` must be a non-negative float (the weight of the summed L1 penalty; "
                f"typical values 1e-5 to 1e-3); got {alpha!r}."
            )

    def initialize(self):
        self._check_l1_params()
        return super().initialize()

    def prunable_parameters(self) -> dict:
        """The prunable parameters of ``module_`` (name -> Parameter) the penalty applies to."""
        module = self.module_
        # the trailing underscore keeps the cache out of skorch's get_params (and so out of
        # clone, repr and error messages): skorch treats every other attribute as a parameter
        cached = getattr(self, "_prunable_cache_", None)
        key = (id(module), self.prunable_include, self.prunable_exclude)
        if cached is None or cached[0] != key:
            params = select_prunable(
                module, self.prunable_include, self.prunable_exclude, require=False
            )
            if not params:  # name the net's own options: they are what selects here
                raise ValueError(
                    f"{type(self).__name__} found no prunable parameters in "
                    f"{type(module).__name__} (prunable_include={self.prunable_include!r}, "
                    f"prunable_exclude={self.prunable_exclude!r}): the L1 penalty and pruning "
                    "act on the weights of Linear and Conv layers by default. Pass "
                    "`prunable_include` with a regular expression matching the parameter names "
                    "to penalise, e.g. prunable_include=r'weight$'."
                )
            cached = (key, list(params.values()))
            self._prunable_cache_ = cached
        return cached[1]

    def _module_dtype(self):
        for p in self.module_.parameters():
            if p.is_floating_point():
                return p.dtype
        return None

    def _cast_floats(self, data, dtype):
        if isinstance(data, torch.Tensor):
            return data.to(dtype) if data.is_floating_point() and data.dtype != dtype else data
        if isinstance(data, Mapping):
            return {k: self._cast_floats(v, dtype) for k, v in data.items()}
        return data

    def infer(self, x, **fit_params):
        # scikit-learn transformers hand out float64; the module is float32 (usually): cast
        # floating inputs to the module's dtype so Pipeline([StandardScaler(), net]) just works
        dtype = self._module_dtype()
        if dtype is not None:
            x = self._cast_floats(to_tensor(x, device=self.device), dtype)
        try:
            return super().infer(x, **fit_params)
        except RuntimeError as exc:
            # integer inputs are passed on unchanged (they may be indices, for nn.Embedding);
            # uint8 images into a float layer fail in torch with no word on the fix
            integer = _integer_dtype(x)
            if dtype is None or integer is None or "type" not in str(exc):
                raise
            raise TypeError(
                f"X holds integers ({integer}) but {type(self.module_).__name__} computes in "
                f"{dtype} and failed on them ({exc}). Integer inputs are passed on unchanged "
                "(they may be indices, e.g. for nn.Embedding); cast features to floats first, "
                "e.g. X.astype('float32') (images: X.astype('float32') / 255)."
            ) from exc

    def _get_predict_nonlinearity(self):
        nonlin = super()._get_predict_nonlinearity()

        def numpy_safe(y_pred):
            # NumPy has no bfloat16: skorch's to_numpy failed on a bfloat16 module's output
            # ("Got unsupported ScalarType BFloat16"), so predict / predict_proba did too
            out = nonlin(y_pred)
            if isinstance(out, torch.Tensor) and out.dtype == torch.bfloat16:
                return out.float()
            return out

        return numpy_safe

    def get_dataset(self, X, y=None):
        # lists and pandas objects as scikit-learn takes them: skorch would read a DataFrame
        # as a dict of columns (keyword arguments of forward) and cannot convert lists
        return super().get_dataset(_as_array(X), _as_array(y))

    def check_data(self, X, y=None):
        # runs before get_dataset: the classifier's np.unique(to_numpy(y)) fails on a list
        return super().check_data(_as_array(X), _as_array(y))

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        # (fit ends here too) skorch trains on an empty X without a word, or fails in a
        # callback's on_train_begin with an IndexError. skorch's signature, `classes`
        # included: scikit-learn's metadata routing reads it
        _check_not_empty(_as_array(X))
        return super().partial_fit(X, y, classes=classes, **fit_params)

    def _match_target(self, y_pred, y_true):
        return y_true

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if isinstance(y_pred, torch.Tensor) and y_pred.is_floating_point():
            # float64 regression targets against float32 outputs: match the output's dtype
            y_true = self._cast_floats(to_tensor(y_true, device=y_pred.device), y_pred.dtype)
            y_true = self._match_target(y_pred, y_true)
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training and self.l1_alpha:
            loss = loss + self.l1_alpha * l1_penalty(self.prunable_parameters())
        return loss

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_prunable_cache_", None)  # holds ids that mean nothing after unpickling
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # every scipy.sparse format, see get_dataset
        return tags


_PARAMS_DOC = """
    l1_alpha : float, default=1e-4
        Weight of the L1 penalty ``l1_alpha * sum_i |w_i|`` over the prunable weights, summed,
        not averaged (the limit paper uses 2e-5 to 1e-4). It is added to the training loss in
        ``get_loss`` only; ``valid_loss`` in ``history`` stays the data loss.
    prunable_include, prunable_exclude : str or list of str, default=None
        Which parameters are prunable (and penalised), see
        :func:`sparselimit.utils.select_prunable`. Default: the weights of Linear and Conv layers.
    *args, **kwargs
        Passed to the skorch base class (``module``, ``criterion``, ``optimizer``, ``lr``,
        ``max_epochs``, ``callbacks``, ``module__*`` ...).

    Notes
    -----
    Floating-point inputs (and regression targets) are cast to the module's dtype, so the
    float64 arrays scikit-learn's transformers return can be passed as they are (plain skorch
    nets raise a dtype error on them). Integer inputs are passed on unchanged (indices for
    ``nn.Embedding``); integer features (uint8 images) reaching a float layer are a
    ``TypeError`` that names the cast. A bfloat16 module's predictions are returned as
    float32 (NumPy has no bfloat16). Inputs may also be lists, pandas objects or scipy.sparse
    matrices and arrays of any format (all but CSR, CSC and LIL matrices are converted to a
    CSR matrix, which skorch takes); class labels
    may be any integer dtype of shape (n_samples,) or (n_samples, 1) (they index the network's
    outputs, 0 to n_classes - 1); a one-output regressor takes a 1-D target.
"""


class L1RegularizedClassifier(_L1Mixin, NeuralNetClassifier):
    __doc__ = (
        """skorch ``NeuralNetClassifier`` trained with an L1 penalty on its prunable weights.

    The penalty pushes most weights towards zero, so that magnitude pruning afterwards removes
    weights that carry little of the function (the "L" of LOMP, L1 one-shot magnitude pruning).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network; its forward returns class scores (use ``criterion=nn.CrossEntropyLoss``
        for logits, or the skorch default NLLLoss with a softmax output). With
        ``nn.BCEWithLogitsLoss`` (or ``nn.BCELoss``) it returns one logit per sample,
        ``(n,)`` or ``(n, 1)``, or one per label (multilabel); the 0/1 targets, integer or
        float, are then cast to the output's dtype and shape rather than read as class
        indices."""
        + _PARAMS_DOC
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from sparselimit import L1RegularizedClassifier
    >>> X = np.random.RandomState(0).randn(64, 4).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> net = L1RegularizedClassifier(
    ...     nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)),
    ...     criterion=nn.CrossEntropyLoss, l1_alpha=1e-3, max_epochs=2, verbose=0,
    ...     train_split=None,
    ... )
    >>> net = net.fit(X, y)
    >>> net.predict(X).shape
    (64,)
    """
    )

    def __init__(
        self, module, *args, l1_alpha=1e-4, prunable_include=None, prunable_exclude=None, **kwargs
    ):
        super().__init__(module, *args, **kwargs)
        self.l1_alpha = l1_alpha
        self.prunable_include = prunable_include
        self.prunable_exclude = prunable_exclude

    def get_dataset(self, X, y=None):
        labels = _as_array(y)
        check_class_codes(self, labels)
        return super().get_dataset(X, labels)

    def _match_target(self, y_pred, y_true):
        # class indices as scikit-learn accepts them: any integer or bool dtype, or whole
        # floats (0., 1., ...), of shape (n,) or (n, 1); the losses want int64 of shape (n,).
        # Other float targets (class probabilities) go to the loss unchanged.
        if not isinstance(y_true, torch.Tensor):
            return y_true
        criterion = getattr(self, "criterion_", None)
        if isinstance(criterion, (torch.nn.BCEWithLogitsLoss, torch.nn.BCELoss)):
            # BCE takes 0/1 targets of the output's shape, not class indices: one logit per
            # sample ((n,) or (n, 1)) or one per label (multilabel)
            y_true = y_true.to(y_pred.dtype)
            if y_true.ndim == 1 and y_pred.shape == (len(y_true), 1):
                return y_true.unsqueeze(1)
            if y_true.shape == (len(y_pred), 1) and y_pred.ndim == 1:
                return y_true.reshape(-1)
            return y_true
        if y_true.is_floating_point() and y_pred.ndim != 2:
            return y_true
        indices = _class_indices(y_true)
        if indices is None:
            return y_true
        if y_pred.ndim == 2 and indices.ndim == 1:
            self._check_class_range(indices, y_pred.shape[1])
        return indices

    def _check_class_range(self, y_true, n_outputs):
        """Labels outside ``0..n_outputs-1`` fail inside torch (``IndexError: Target 2 is out
        of bounds``) with no hint that they need encoding."""
        valid = (y_true >= 0) & (y_true < n_outputs)
        ignore = getattr(getattr(self, "criterion_", None), "ignore_index", None)
        if ignore is not None:  # CrossEntropyLoss's "no label" marker (-100) is fine
            valid |= y_true == ignore
        if not bool(valid.all()):
            bad = int(y_true[~valid][0])
            raise ValueError(
                "y of a skorch classifier holds class indices 0..n_classes-1, one output of "
                f"the network per class; got the label {bad} for a network with {n_outputs} "
                "outputs. Encode the labels with sklearn.preprocessing.LabelEncoder (e.g. "
                "{1, 2} -> {0, 1}), or give the network one output per class."
            )


class L1RegularizedRegressor(_L1Mixin, NeuralNetRegressor):
    __doc__ = (
        """skorch ``NeuralNetRegressor`` trained with an L1 penalty on its prunable weights.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network; targets of shape (n_samples, n_outputs), or (n_samples,) for a
        one-output network."""
        + _PARAMS_DOC
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from sparselimit import L1RegularizedRegressor
    >>> X = np.random.RandomState(0).randn(64, 3).astype(np.float32)
    >>> y = X.sum(axis=1, keepdims=True)
    >>> reg = L1RegularizedRegressor(nn.Linear(3, 1), l1_alpha=1e-3, max_epochs=2, verbose=0,
    ...                              train_split=None).fit(X, y)
    >>> reg.predict(X).shape
    (64, 1)
    """
    )

    def __init__(
        self, module, *args, l1_alpha=1e-4, prunable_include=None, prunable_exclude=None, **kwargs
    ):
        super().__init__(module, *args, **kwargs)
        self.l1_alpha = l1_alpha
        self.prunable_include = prunable_include
        self.prunable_exclude = prunable_exclude

    def _match_target(self, y_pred, y_true):
        # a 1-D target for a one-output net, the scikit-learn convention: MSELoss would
        # broadcast (n, 1) against (n,) to (n, n) and train on nonsense
        if (
            isinstance(y_true, torch.Tensor)
            and y_true.ndim == 1
            and y_pred.shape
            == (
                len(y_true),
                1,
            )
        ):
            y_true = y_true.unsqueeze(1)
        return y_true
