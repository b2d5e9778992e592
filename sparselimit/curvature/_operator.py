"""Matrix-free Hessian of the mean data loss of a network with respect to selected parameters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jvp

from ..utils import check_X_y, select_prunable
from ..utils._validation import _dense, _torch_ready
from ._base import LinearOperatorBase

__all__ = ["HessianOperator"]

_HVP_METHODS = ("double_backward", "forward_over_reverse", "reverse_over_forward")
_BLOCK_METHODS = ("reuse_graph", "batched")
# batch_size="auto": graph memory per batch, and the samples it is measured on
_AUTO_BATCH_BYTES = 32 * 2**20
_AUTO_PROBE = 64


class NondeterministicHessianError(RuntimeError):
    """Two Hessian-vector products with the same vector differ: the loss is stochastic.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.curvature import HessianOperator, NondeterministicHessianError
    >>> class Noisy(nn.Linear):
    ...     def forward(self, x):  # samples even in eval mode
    ...         return nn.functional.dropout(super().forward(x), 0.5, training=True)
    >>> try:
    ...     HessianOperator(Noisy(3, 2), nn.CrossEntropyLoss(), torch.randn(8, 3),
    ...                     torch.randint(0, 2, (8,)))
    ... except NondeterministicHessianError:
    ...     print("refused")
    refused
    """


@contextlib.contextmanager
def _eval_mode(module: nn.Module):
    """Put every submodule in eval mode, then restore each one's own flag exactly."""
    flags = [(m, m.training) for m in module.modules()]
    for m, _ in flags:
        m.training = False
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


class _SavedBytes(torch.autograd.graph.saved_tensors_hooks):
    """Count the bytes of the distinct storages autograd saves (the size of a graph), leaving
    out the parameters and the input batch, which exist anyway."""

    def __init__(self, leaves, xb):
        self.nbytes = 0
        self._seen = {t.untyped_storage().data_ptr() for t in (*leaves, xb)}

        def pack(t):
            try:
                st = t.untyped_storage()
                key = st.data_ptr()
                if key not in self._seen:
                    self._seen.add(key)
                    self.nbytes += st.nbytes()
            except (RuntimeError, NotImplementedError):  # e.g. tensors without storage
                pass
            return t

        super().__init__(pack, lambda t: t)


def _select_params(module: nn.Module, params) -> list[str]:
    if params is None or (isinstance(params, str) and params == "prunable"):
        return list(select_prunable(module))
    if isinstance(params, str) and params == "all":
        names = [n for n, p in module.named_parameters() if p.requires_grad]
    elif isinstance(params, Mapping):
        unknown = set(params) - {"include", "exclude"}
        if unknown:
            raise ValueError(
                f"`params` as a dict takes the keys 'include' and 'exclude' (regular expressions "
                f"for select_prunable); got unknown keys {sorted(unknown)}."
            )
        names = list(select_prunable(module, params.get("include"), params.get("exclude")))
    elif isinstance(params, Iterable) and not isinstance(params, str):
        names = list(params)
        known = dict(module.named_parameters())
        missing = [n for n in names if n not in known]
        if missing or not all(isinstance(n, str) for n in names):
            raise ValueError(
                f"`params` lists names that are not parameters of {type(module).__name__}: "
                f"{missing}. Valid names: {list(known)[:10]}{' ...' if len(known) > 10 else ''}."
            )
        if len(set(names)) != len(names):
            raise ValueError(f"`params` lists a parameter twice: {names}.")
    else:
        raise TypeError(
            "`params` must be None (the prunable weights), 'all' (every trainable parameter), a "
            "list of parameter names, or a dict with 'include'/'exclude' regular expressions; "
            f"got {params!r}."
        )
    if not names:
        raise ValueError(f"`params`={params!r} selects no parameter of {type(module).__name__}.")
    return names


def _to_tensor(a, device, dtype):
    if isinstance(a, Mapping):  # skorch's several-inputs form: np.asarray makes an object array
        raise TypeError(
            "The Hessian operator takes X as one array or tensor (the module's single input); "
            f"got a {type(a).__name__} with keys {sorted(map(str, a))[:5]}. A module with "
            "several inputs is not supported: wrap it in one taking a single tensor."
        )
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(_torch_ready(np.asarray(_dense(a))))
    if t.is_floating_point():
        return t.to(device=device, dtype=dtype)
    if t.dtype in (torch.int8, torch.int16, torch.int32, torch.uint8):
        t = t.long()
    return t.to(device=device)


class HessianOperator(LinearOperatorBase):
    r"""Matrix-free Hessian of the mean data loss with respect to selected parameters.

    ``H = ∇²_θ (1/N) Σ_n loss(module(x_n; θ), y_n)`` at the module's current weights, over a
    fixed, unshuffled dataset. ``H @ v`` takes a flat vector of shape ``(D,)`` (parameters
    concatenated in :attr:`param_names` order, each flattened) or a block ``(D, k)``; no ``D x D``
    object is ever formed.

    Parameters
    ----------
    module : torch.nn.Module
        The network. Its weights are copied at construction (the operator is the Hessian at
        those weights); the module itself is never modified, and its train/eval flags are
        restored after every product.
    loss_fn : callable
        ``loss_fn(output, y)`` (or ``loss_fn(output)`` when ``y`` is None) returning the *mean*
        loss of a batch, e.g. ``torch.nn.CrossEntropyLoss()``. Per-batch losses are weighted by
        batch size, so the operator is the Hessian of the mean over all samples -- or by
        ``loss_fn.batch_weight(y_batch)`` where ``loss_fn`` has that attribute and it returns
        a number rather than None (as
        :func:`~sparselimit.spectral.skorch_data_loss` gives a class-weighted cross-entropy,
        whose mean divides by the batch's total class weight).
    X : array-like or tensor, or iterable of batches
        Inputs, or a ``DataLoader`` / list of ``(X, y)`` batches (then ``y`` must be None). A
        ``DataLoader`` must not shuffle (the Hessian is over a fixed dataset); one-shot
        iterators are materialised once.
    y : array-like or tensor, default=None
        Targets. Integer targets become ``int64``, floating ones ``dtype``.
    params : None, 'all', list of str or dict, default=None
        Parameters to differentiate: None -> the prunable weights
        (:func:`sparselimit.utils.select_prunable`); ``'all'`` -> every parameter with
        ``requires_grad``; a list of names; or ``{'include': regex, 'exclude': regex}``. Selected
        parameters are differentiated whether or not they have ``requires_grad`` (a frozen
        weight still has curvature); parameters the loss does not depend on give zero rows.
        Other parameters and the buffers (e.g. BatchNorm statistics) are held fixed.
    batch_size : int or 'auto', default='auto'
        Samples per forward pass when ``X`` is an array (a ``DataLoader`` keeps its own). The
        result does not depend on it (up to rounding); time and memory do. ``'auto'`` measures
        the gradient graph of a first batch of 64 samples and takes as many samples as fit a
        graph of 32 MiB beyond its parameter-sized part (at least 64, at most all): a few
        large batches amortise autograd's per-call overhead, while past tens of MiB per batch
        larger ones only miss the cache.
        Measured on one CPU thread against batches of 128: a 2,368-weight MLP on 1,347 samples
        (one batch) computes a product 2.4x faster, the benchmark MLP (4,096 samples, one
        batch) 1.4x faster, the benchmark CNN (93 samples per batch) about as fast. The chosen
        size is stored in ``batch_size``.
    device : str or torch.device, default=None
        Where products are computed; None follows the module's parameters.
    dtype : torch.dtype, default=None
        Precision of the products; None follows the module (float32 for most nets), except
        that a float16 or bfloat16 module is differentiated in float32 (on a copy of its
        weights), as half-precision second derivatives are mostly rounding error. Use
        ``torch.float64`` for exactness checks.
    hvp_method : str, default='double_backward'
        How one product is computed: ``'double_backward'``, ``'forward_over_reverse'``
        (``torch.func.jvp`` over ``grad``) or ``'reverse_over_forward'`` (``grad`` over
        ``jvp``); see Notes.
    block_method : {'reuse_graph', 'batched'}, default='reuse_graph'
        How a block ``H @ V`` of ``k`` vectors is computed with ``'double_backward'``: one
        gradient graph per batch, differentiated ``k`` times (``'reuse_graph'``), or once with
        ``is_grads_batched`` (``'batched'``, vmap over the second backward).
    graph_cache_mb : float or None, default=1024
        Memory budget (MiB) for keeping each batch's gradient graph between products
        (``hvp_method='double_backward'``). A cached batch costs only the second backward pass
        per product instead of forward + backward + second backward (about half the time).
        The size of one graph is measured on the first batch (bytes autograd saves); batches
        are cached in order while the total fits. ``0`` disables, None means no limit. Free
        it with :meth:`clear_cache`.
    check_determinism : bool, default=True
        At construction, compare two products with the same random vector on the first batch
        and raise if they differ (stochastic layers that ignore eval mode). Costs two
        products on one batch. Also available as :meth:`verify_determinism`.

    Attributes
    ----------
    shape : tuple of int
        ``(D, D)``.
    param_names : list of str
        Differentiated parameters, in flat-vector order.
    param_shapes : list of torch.Size
        Their shapes.
    n_samples : int or None
        Number of samples (known after the first pass for a DataLoader).

    Notes
    -----
    Every product runs with the module in eval mode through
    :func:`torch.func.functional_call`, with copies of the buffers, so BatchNorm uses its
    running statistics and dropout is off; the user's module keeps its mode and buffers.

    Cost measured on CPU (one thread, ``benchmarks/bench_hessian.py``): time of one pass over
    the data divided by one gradient pass, median over interleaved rounds. MLP 784-96-32-10
    (78,656 weights, 4,096 samples, batch 128); CNN 2 conv + BatchNorm + linear (20,432
    weights, 1,024 samples):

    ==============================================  ======  ======
    method                                          MLP     CNN
    ==============================================  ======  ======
    double backward, graph cached (default)         1.05x   1.38x
    double backward, ``graph_cache_mb=0``           2.2x    2.5x
    reverse over forward (``torch.func``)           4.3x    3.1x
    forward over reverse (``torch.func``)           5.0x    4.5x
    block of 8, graph cached, per vector            1.02x   1.42x
    block of 8, ``'reuse_graph'``, no cache         1.16x   1.75x
    block of 8, ``'batched'``, no cache             1.02x   2.8x
    ==============================================  ======  ======

    Double backward is the fastest single product on both; keeping each batch's gradient
    graph between products (the weights and data do not change during a spectrum estimate)
    halves it again, to about one gradient pass. Without the cache, one graph reused for a
    block is close to the batched backward on MLPs and much faster on CNNs (vmap over the
    convolution double-backward is slow on CPU), hence the default ``block_method``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.curvature import HessianOperator
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    >>> X, y = torch.randn(32, 3), torch.randint(0, 2, (32,))
    >>> H = HessianOperator(net, nn.CrossEntropyLoss(), X, y)
    >>> H.shape, H.param_names
    ((20, 20), ['0.weight', '2.weight'])
    >>> (H @ torch.ones(20)).shape
    torch.Size([20])
    """

    def __init__(
        self,
        module: nn.Module,
        loss_fn,
        X,
        y=None,
        *,
        params=None,
        batch_size: int | str = "auto",
        device=None,
        dtype=None,
        hvp_method: str = "double_backward",
        block_method: str = "reuse_graph",
        check_determinism: bool = True,
        graph_cache_mb: float | None = 1024,
    ):
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"`module` must be a torch.nn.Module; got {type(module).__name__}. For a skorch "
                "net pass `net.module_` and `net.criterion_`."
            )
        if not callable(loss_fn):
            raise TypeError(f"`loss_fn` must be callable; got {type(loss_fn).__name__}.")
        if hvp_method not in _HVP_METHODS:
            raise ValueError(f"`hvp_method` must be one of {_HVP_METHODS}; got {hvp_method!r}.")
        if block_method not in _BLOCK_METHODS:
            raise ValueError(
                f"`block_method` must be one of {_BLOCK_METHODS}; got {block_method!r}."
            )
        if batch_size != "auto" and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or (batch_size < 1)
        ):
            raise ValueError(
                f"`batch_size` must be a positive int or 'auto'; got {batch_size!r}. Use e.g. "
                "`batch_size=256`, or 'auto' to size batches from the measured graph memory."
            )
        self.module = module
        self.loss_fn = loss_fn
        self.hvp_method = hvp_method
        self.block_method = block_method
        self.batch_size = batch_size if batch_size == "auto" else int(batch_size)
        if graph_cache_mb is not None and not (
            isinstance(graph_cache_mb, (int, float)) and graph_cache_mb >= 0
        ):
            raise ValueError(
                f"`graph_cache_mb` must be None or a non-negative number; got {graph_cache_mb!r}."
            )
        self.graph_cache_mb = graph_cache_mb
        self._cache_budget = float("inf") if graph_cache_mb is None else graph_cache_mb * 2**20
        self._graphs = {}
        self._graph_bytes = None

        named = dict(module.named_parameters())
        first = next(iter(named.values()), None)
        if device is None:
            device = first.device if first is not None else torch.device("cpu")
        self.device = torch.device(device)
        if dtype is None:
            floats = [p.dtype for p in named.values() if p.is_floating_point()]
            dtype = floats[0] if floats else torch.get_default_dtype()
            # second derivatives in float16 / bfloat16 lose the curvature to rounding (a
            # float16 MLP's trace came out negative): compute on a float32 copy
            if torch.finfo(dtype).bits < 32:
                dtype = torch.float32
        if not dtype.is_floating_point:
            raise ValueError(f"`dtype` must be a floating-point torch dtype; got {dtype}.")
        self.dtype = dtype

        self.param_names = _select_params(module, params)
        selected = set(self.param_names)

        def snap(t):
            t = t.detach()
            if t.is_floating_point():
                return t.to(device=self.device, dtype=dtype, copy=True)
            return t.to(device=self.device, copy=True)

        self._theta = [snap(named[n]) for n in self.param_names]
        self._fixed = {n: snap(p) for n, p in named.items() if n not in selected}
        self._fixed.update({n: snap(b) for n, b in module.named_buffers()})
        self.param_shapes = [t.shape for t in self._theta]
        self._numels = [t.numel() for t in self._theta]
        D = int(sum(self._numels))
        self.shape = (D, D)

        self._setup_data(X, y)
        if check_determinism:
            self.verify_determinism()

    # ------------------------------------------------------------------ data
    def _setup_data(self, X, y):
        from torch.utils.data import DataLoader, RandomSampler

        self._loader = None
        X = _dense(X)
        if isinstance(X, DataLoader) or (
            y is None and not isinstance(X, (np.ndarray, torch.Tensor)) and _is_batch_iter(X)
        ):
            if y is not None:
                raise ValueError("Pass `y=None` when `X` is a DataLoader or iterable of batches.")
            if isinstance(X, DataLoader):
                if isinstance(X.sampler, RandomSampler):
                    raise ValueError(
                        "The DataLoader shuffles (shuffle=True); the Hessian must be taken over "
                        "a fixed dataset. Build it with shuffle=False and no augmentation."
                    )
                self._loader = X
                self.n_samples = None
                return
            batches = list(X)  # one-shot iterators are materialised once
            self._batches = [self._convert_batch(b) for b in batches]
        else:
            check_X_y(X, y)
            Xt = _to_tensor(X, self.device, self.dtype)
            yt = None if y is None else _to_tensor(y, self.device, self.dtype)
            if self.batch_size == "auto":
                self.batch_size = self._auto_batch_size(Xt, yt)
            xs = Xt.split(self.batch_size)
            ys = [None] * len(xs) if yt is None else yt.split(self.batch_size)
            self._batches = list(zip(xs, ys))
        if not self._batches:
            raise ValueError("No data: `X` holds no samples.")
        self.n_samples = int(sum(len(xb) for xb, _ in self._batches))

    def _auto_batch_size(self, Xt, yt):
        """As many samples as fit a gradient graph of ``_AUTO_BATCH_BYTES``, from the graph
        of a first batch of ``_AUTO_PROBE`` samples. The gradients (parameter-sized, the same
        for any batch) are left out of the per-sample share, so a large network with small
        activations still gets large batches."""
        n = len(Xt)
        if n <= _AUTO_PROBE:
            return max(n, 1)
        with _eval_mode(self.module):  # as for every product: BatchNorm must not update
            *_, nbytes = self._build_graph(
                Xt[:_AUTO_PROBE], None if yt is None else yt[:_AUTO_PROBE], 0, measure=True
            )
        fixed = sum(t.numel() * t.element_size() for t in self._theta)
        per_sample = max((nbytes - fixed) / _AUTO_PROBE, 1.0)
        return int(min(n, max(_AUTO_PROBE, _AUTO_BATCH_BYTES // per_sample)))

    def _convert_batch(self, batch):
        if isinstance(batch, (tuple, list)):
            if len(batch) == 2:
                xb, yb = batch
            elif len(batch) == 1:
                xb, yb = batch[0], None
            else:
                raise ValueError(
                    f"Each batch must be (X, y) or (X,); got a sequence of length {len(batch)}."
                )
        else:
            xb, yb = batch, None
        xb = _to_tensor(xb, self.device, self.dtype)
        yb = None if yb is None else _to_tensor(yb, self.device, self.dtype)
        return xb, yb

    def _iter_batches(self):
        if self._loader is None:
            yield from self._batches
            return
        n = 0
        for batch in self._loader:
            xb, yb = self._convert_batch(batch)
            n += len(xb)
            yield xb, yb
        if self.n_samples is None:
            self.n_samples = n

    # --------------------------------------------------------------- products
    def _loss(self, theta, xb, yb):
        tensors = dict(self._fixed)
        tensors.update(zip(self.param_names, theta))
        out = functional_call(self.module, tensors, (xb,))
        loss = self.loss_fn(out) if yb is None else self.loss_fn(out, yb)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError(
                "`loss_fn` must return a scalar tensor (the mean loss of the batch); got "
                f"{type(loss).__name__} of shape {tuple(getattr(loss, 'shape', ()))}. Use "
                "reduction='mean'."
            )
        return loss.reshape(())

    def _check_loss(self, loss, i):
        if not bool(torch.isfinite(loss.detach())):
            raise ValueError(
                f"The loss on batch {i} is not finite ({float(loss.detach())}); the Hessian is "
                "undefined there. Check the data (NaN/inf) and the weights (a diverged model), "
                "or use a numerically stable loss (e.g. CrossEntropyLoss on logits)."
            )

    def _split(self, V):
        """(D, k) flat block -> list of (k, *shape) per parameter."""
        Vt = V.t().contiguous()
        return [
            c.reshape(V.shape[1], *s)
            for c, s in zip(Vt.split(self._numels, dim=1), self.param_shapes)
        ]

    def _gradient_graph(self, xb, yb, i, use_cache):
        """Leaves, indices of parameters with second-order terms, their gradients (with a
        graph), and whether the graph is cached (kept for the next products)."""
        hit = self._graphs.get(i) if use_cache else None
        if hit is not None:
            return (*hit, True)
        measure = use_cache and self._graph_bytes is None and self._cache_budget > 0
        leaves, live, gl, nbytes = self._build_graph(xb, yb, i, measure)
        if measure:  # per-batch graph size decides how many batches' graphs fit the budget
            self._graph_bytes = max(nbytes, 1)
        cache = (
            use_cache
            and self._graph_bytes is not None
            and (len(self._graphs) + 1) * self._graph_bytes <= self._cache_budget
        )
        if cache:
            self._graphs[i] = (leaves, live, gl)
        return leaves, live, gl, cache

    def _build_graph(self, xb, yb, i, measure=False):
        """Leaves, indices of the parameters with second-order terms, their gradients (with a
        graph) and, when ``measure``, the graph's bytes (what autograd saves plus the
        gradients; else 0)."""
        leaves = [t.detach().requires_grad_(True) for t in self._theta]
        counter = _SavedBytes(leaves, xb) if measure else contextlib.nullcontext()
        with torch.enable_grad(), counter:
            loss = self._loss(leaves, xb, yb)
            self._check_loss(loss, i)
            grads = torch.autograd.grad(loss, leaves, create_graph=True, allow_unused=True)
        live = [j for j, g in enumerate(grads) if g is not None and g.requires_grad]
        gl = [grads[j] for j in live]
        nbytes = counter.nbytes + sum(g.numel() * g.element_size() for g in gl) if measure else 0
        return leaves, live, gl, nbytes

    def clear_cache(self) -> None:
        """Free the cached gradient graphs (they are rebuilt on the next product)."""
        self._graphs = {}
        self._graph_bytes = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_graphs"], state["_graph_bytes"] = {}, None  # graphs do not pickle
        return state

    def _views(self, acc):
        """Per-parameter ``(k, *shape)`` views of a ``(k, D)`` accumulator."""
        return [
            c.unflatten(1, s) if len(s) else c[:, 0]
            for c, s in zip(acc.split(self._numels, dim=1), self.param_shapes)
        ]

    def _batch_hvp(self, xb, yb, vs, i, outs, weight, use_cache=True):
        """Add ``weight *`` (Hessian of batch ``i``'s mean loss) ``@`` block ``vs`` to ``outs``
        (per-parameter ``(k, *shape)`` views of the accumulator)."""
        k = vs[0].shape[0]
        if self.hvp_method == "double_backward":
            leaves, live, gl, cached = self._gradient_graph(xb, yb, i, use_cache)
            if not live:
                return
            if self.block_method == "batched" and k > 1:
                res = torch.autograd.grad(
                    gl,
                    leaves,
                    grad_outputs=[vs[j] for j in live],
                    allow_unused=True,
                    is_grads_batched=True,
                    retain_graph=cached,
                )
                for j, r in enumerate(res):
                    if r is not None:
                        outs[j].add_(r, alpha=weight)
                return
            for c in range(k):
                res = torch.autograd.grad(
                    gl,
                    leaves,
                    grad_outputs=[vs[j][c] for j in live],
                    allow_unused=True,
                    retain_graph=cached or c < k - 1,
                )
                for j, r in enumerate(res):
                    if r is not None:
                        outs[j][c].add_(r, alpha=weight)
            return
        theta = tuple(self._theta)

        def f(th):
            return self._loss(th, xb, yb)

        for c in range(k):
            v = tuple(x[c] for x in vs)
            if self.hvp_method == "forward_over_reverse":
                res = jvp(grad(f), (theta,), (v,))[1]
            else:
                res = grad(lambda th, v=v: jvp(f, (th,), (v,))[1])(theta)
            for j, r in enumerate(res):
                outs[j][c].add_(r, alpha=weight)

    def _matmat(self, V):
        vs = self._split(V)
        acc = torch.zeros(V.shape[1], V.shape[0], dtype=self.dtype, device=self.device)
        outs = self._views(acc)
        n = 0
        with _eval_mode(self.module):
            for i, (xb, yb) in enumerate(self._iter_batches()):
                nb = self._batch_weight(xb, yb)
                self._batch_hvp(xb, yb, vs, i, outs, nb)
                n += nb
        if n == 0:
            raise ValueError("The data loader yielded no samples.")
        acc /= n
        if not bool(torch.isfinite(acc).all()):
            raise ValueError(
                "The Hessian-vector product is not finite: the loss or its curvature is NaN or "
                "infinite at these weights (check the data and the weights for NaN/inf, a "
                "diverged model), or overflows the dtype (try dtype=torch.float64)."
            )
        return acc.t()

    # ---------------------------------------------------------------- extras
    def verify_determinism(self, rtol=None) -> None:
        """Raise if two products with the same vector differ on the first batch.

        A stochastic forward pass (a layer that samples even in eval mode, such as
        ``F.dropout(x, training=True)`` or a noise layer) makes the Hessian ill-defined and
        Lanczos meaningless. ``rtol`` defaults to ``sqrt(eps)`` of the dtype (3e-4 in float32),
        loose enough for non-deterministic GPU reductions.

        Raises
        ------
        NondeterministicHessianError
            With the relative difference found.
        """
        gen = torch.Generator().manual_seed(12345)
        V = torch.randn(self.shape[0], 1, generator=gen, dtype=torch.float64)
        vs = self._split(V.to(device=self.device, dtype=self.dtype))
        xb, yb = next(iter(self._iter_batches()))
        a, b = (
            torch.zeros(1, self.shape[0], dtype=self.dtype, device=self.device) for _ in range(2)
        )
        with _eval_mode(self.module):
            self._batch_hvp(xb, yb, vs, 0, self._views(a), 1.0, use_cache=False)
            self._batch_hvp(xb, yb, vs, 0, self._views(b), 1.0, use_cache=False)
        diff = float((a - b).norm())
        scale = float(a.norm())
        rtol = float(torch.finfo(self.dtype).eps) ** 0.5 if rtol is None else rtol
        if diff > rtol * scale:
            raise NondeterministicHessianError(
                f"Two Hessian-vector products with the same vector differ (relative difference "
                f"{diff / max(scale, 1e-300):.3g} > {rtol:.1g}): the loss is stochastic. The "
                "module runs in eval mode, so a layer samples regardless of it (e.g. "
                "F.dropout(..., training=True) or a noise layer). Make the forward pass "
                "deterministic in eval mode before computing curvature."
            )

    def _batch_weight(self, xb, yb) -> float:
        """What a batch's mean loss counts for in the mean over all samples: its size, or what
        ``loss_fn.batch_weight(y)`` says (the total class weight of a class-weighted
        cross-entropy, whose batch mean divides by it), so that batching never changes the
        operator."""
        weigh = getattr(self.loss_fn, "batch_weight", None)
        weight = None if weigh is None else weigh(yb)
        return len(xb) if weight is None else float(weight)

    def _batch_stats(self):
        """Per batch, in data order: mean loss, size and weight (:meth:`_batch_weight`)."""
        losses, sizes, weights = [], [], []
        with _eval_mode(self.module), torch.no_grad():
            for i, (xb, yb) in enumerate(self._iter_batches()):
                loss = self._loss(self._theta, xb, yb)
                self._check_loss(loss, i)
                losses.append(float(loss))
                sizes.append(len(xb))
                weights.append(self._batch_weight(xb, yb))
        return (
            np.asarray(losses, dtype=np.float64),
            np.asarray(sizes, dtype=np.int64),
            np.asarray(weights, dtype=np.float64),
        )

    def batch_losses(self, return_sizes: bool = False):
        """Mean loss of every batch (float64 array), in data order; with ``return_sizes``, also
        the batch sizes. Computed in eval mode without gradients."""
        losses, sizes, _ = self._batch_stats()
        return (losses, sizes) if return_sizes else losses

    def loss(self) -> float:
        """Mean loss over all samples (per-batch means weighted by batch size, or by the
        ``batch_weight`` of ``loss_fn``)."""
        losses, _, weights = self._batch_stats()
        return float(np.dot(losses, weights) / weights.sum())

    def flat_params(self) -> torch.Tensor:
        """The differentiated parameters concatenated into one flat vector (operator order)."""
        return torch.cat([t.reshape(-1) for t in self._theta])


def _is_batch_iter(X) -> bool:
    """A list/tuple of (X, y) batches, or any other iterable that is not array-like."""
    if isinstance(X, (str, bytes, Mapping)):
        return False
    if isinstance(X, (list, tuple)):
        first = X[0] if len(X) else None
        return (
            isinstance(first, (tuple, list))
            and 1 <= len(first) <= 2
            and isinstance(first[0], (torch.Tensor, np.ndarray))
        )
    return isinstance(X, Iterable) and not hasattr(X, "__array__")
