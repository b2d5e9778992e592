"""Matrix-free symmetric linear operators on flat vectors: a small common base, restriction to a
coordinate subset, and an adapter for dense / SciPy operators (used by the spectral routines)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["LinearOperatorBase", "RestrictedOperator", "as_operator"]


class LinearOperatorBase:
    """A symmetric ``D x D`` operator applied to flat vectors.

    Subclasses set ``shape``, ``dtype`` (the torch dtype products are computed in) and ``device``
    and implement ``_matmat(V)`` for ``V`` of shape ``(D, k)`` already in that dtype and device.
    Everything else (``@``, ``matvec``, ``restrict``, ``to_scipy``) is shared.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.curvature import LinearOperatorBase
    >>> class Scaled(LinearOperatorBase):
    ...     shape, dtype, device = (3, 3), torch.float64, torch.device("cpu")
    ...     def _matmat(self, V):
    ...         return 2.0 * V
    >>> Scaled() @ torch.ones(3, dtype=torch.float64)
    tensor([2., 2., 2.], dtype=torch.float64)
    """

    shape: tuple[int, int]
    dtype: torch.dtype
    device: torch.device

    def _matmat(self, V: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def n_params(self) -> int:
        """Number of coordinates ``D``."""
        return int(self.shape[0])

    def matmat(self, V):
        """Return ``H @ V`` for ``V`` of shape ``(D,)`` or ``(D, k)`` (tensor or array).

        Tensors come back as tensors in the operator's dtype and device, NumPy arrays as NumPy
        arrays.
        """
        is_numpy = not isinstance(V, torch.Tensor)
        T = torch.as_tensor(np.asarray(V) if is_numpy else V)
        if T.dim() not in (1, 2) or T.shape[0] != self.shape[0]:
            raise ValueError(
                f"Expected a vector of shape ({self.shape[0]},) or a block of shape "
                f"({self.shape[0]}, k); got shape {tuple(T.shape)}."
            )
        one = T.dim() == 1
        T = T.to(device=self.device, dtype=self.dtype)
        out = self._matmat(T[:, None] if one else T)
        out = out[:, 0] if one else out
        return out.cpu().numpy() if is_numpy else out

    matvec = matmat

    def __matmul__(self, V):
        return self.matmat(V)

    def _matmat_f64(self, V: torch.Tensor) -> torch.Tensor:
        """float64 in, float64 out (the Lanczos bookkeeping precision)."""
        return self._matmat(V.to(device=self.device, dtype=self.dtype)).to(torch.float64)

    def restrict(self, mask) -> RestrictedOperator:
        """Restrict the operator to the coordinates where ``mask`` is True.

        Returns the principal submatrix ``H[mask][:, mask]`` as an operator of size
        ``mask.sum()``. Products embed the vector with zeros elsewhere, apply the full operator
        and keep the selected coordinates. Used to deflate zero-curvature coordinates.
        """
        return RestrictedOperator(self, mask)

    def to_scipy(self):
        """A :class:`scipy.sparse.linalg.LinearOperator` (float64 in and out) for SciPy solvers
        such as ``eigsh``."""
        from scipy.sparse.linalg import LinearOperator

        def mv(v):
            V = torch.as_tensor(np.ascontiguousarray(v, dtype=np.float64))
            return self._matmat_f64(V.reshape(self.shape[0], -1)).cpu().numpy().reshape(v.shape)

        return LinearOperator(
            self.shape, matvec=mv, rmatvec=mv, matmat=mv, rmatmat=mv, dtype=np.float64
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} shape={self.shape} dtype={self.dtype} device={self.device}>"


class RestrictedOperator(LinearOperatorBase):
    """Principal submatrix ``H[mask][:, mask]`` of a parent operator (see
    :meth:`LinearOperatorBase.restrict`).

    Examples
    --------
    >>> import torch
    >>> from sparselimit.curvature import as_operator
    >>> H = as_operator(torch.diag(torch.tensor([1.0, 0.0, 3.0])))
    >>> sub = H.restrict(torch.tensor([True, False, True]))
    >>> sub.shape
    (2, 2)
    >>> sub @ torch.ones(2)
    tensor([1., 3.])
    """

    def __init__(self, parent: LinearOperatorBase, mask):
        mask = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
        if mask.dtype != torch.bool or mask.shape != (parent.shape[0],):
            raise ValueError(
                f"`mask` must be a boolean vector of length {parent.shape[0]} (one entry per "
                f"coordinate of the operator); got dtype {mask.dtype} and shape "
                f"{tuple(mask.shape)}."
            )
        self.parent = parent
        self.mask = mask.cpu()
        self.index = torch.nonzero(self.mask).flatten().to(parent.device)
        d = int(self.index.numel())
        self.shape = (d, d)
        self.dtype = parent.dtype
        self.device = parent.device

    def _matmat(self, V):
        full = torch.zeros(self.parent.shape[0], V.shape[1], dtype=V.dtype, device=V.device)
        full[self.index] = V
        return self.parent._matmat(full)[self.index]


class _TensorOperator(LinearOperatorBase):
    def __init__(self, A: torch.Tensor):
        self.A = A
        self.shape = (int(A.shape[0]), int(A.shape[1]))
        self.dtype = A.dtype
        self.device = A.device

    def _matmat(self, V):
        return self.A @ V


class _ScipyOperator(LinearOperatorBase):
    def __init__(self, A):
        self.A = A
        self.shape = (int(A.shape[0]), int(A.shape[1]))
        self.dtype = torch.float64 if np.dtype(A.dtype) != np.float32 else torch.float32
        self.device = torch.device("cpu")

    def _matmat(self, V):
        out = self.A @ V.cpu().numpy()
        return torch.as_tensor(np.asarray(out), dtype=self.dtype).reshape(V.shape)


def as_operator(A) -> LinearOperatorBase:
    """Wrap ``A`` as a :class:`LinearOperatorBase`.

    Accepts an operator already (returned as is), a square torch tensor, a NumPy array, a SciPy
    sparse matrix or a SciPy ``LinearOperator``. ``A`` must be symmetric; this is not checked.

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.curvature import as_operator
    >>> op = as_operator(np.diag([1.0, 2.0]))
    >>> op.shape, op @ np.ones(2)
    ((2, 2), array([1., 2.]))
    """
    if isinstance(A, LinearOperatorBase):
        return A
    if isinstance(A, torch.Tensor):
        if A.dim() != 2 or A.shape[0] != A.shape[1] or not A.is_floating_point():
            raise ValueError(f"Expected a square floating-point matrix; got {tuple(A.shape)}.")
        return _TensorOperator(A)
    if isinstance(A, np.ndarray):
        return as_operator(
            torch.from_numpy(
                np.ascontiguousarray(A, dtype=np.float64)
                if A.dtype.kind != "f"
                else np.ascontiguousarray(A)
            )
        )
    shape = getattr(A, "shape", None)
    if shape is not None and (hasattr(A, "matvec") or hasattr(A, "tocsr")):
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"Expected a square operator; got shape {shape}.")
        return _ScipyOperator(A)
    raise TypeError(
        "Expected a HessianOperator, a square torch tensor or NumPy array, or a SciPy "
        f"LinearOperator; got {type(A).__name__}."
    )
