"""The SequentialAttention++ phase schedule and the exponential sparsification ramp."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

__all__ = ["sparsity_ramp", "PhaseSchedule"]

PHASES = ("dense", "sparsify", "sparse", "finetune")


def sparsity_ramp(tau, sparsity: float, c: float = 4.0) -> float:
    """Sparsity reached after a fraction ``tau`` of the sparsification phase.

    ``s(tau) = s * (1 - exp(-c * tau)) / (1 - exp(-c))``: most blocks go early, the last ones
    slowly. ``c -> 0`` gives a linear ramp.

    Examples
    --------
    >>> from sparselimit.blocks import sparsity_ramp
    >>> sparsity_ramp(0.0, 0.9), sparsity_ramp(1.0, 0.9)
    (0.0, 0.9)
    >>> round(sparsity_ramp(0.5, 0.9), 4)
    0.7927
    """
    tau = min(max(float(tau), 0.0), 1.0)
    if c <= 0:
        return sparsity * tau
    return sparsity * (1.0 - math.exp(-c * tau)) / (1.0 - math.exp(-c))


def _check_epochs(value, name, minimum=0):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}; got {value!r}.")
    return int(value)


@dataclass(frozen=True)
class PhaseSchedule:
    """Epochs per phase: ``n_cycles`` x (dense, sparsify, sparse), then a sparse fine-tune.

    Parameters
    ----------
    dense_epochs, sparsify_epochs, sparse_epochs : int
        Lengths of the three phases of one cycle (ACDC-style repeats); ``sparsify_epochs`` >= 1.
    n_cycles : int
        Number of cycles (>= 1).
    finetune_epochs : int
        Final sparse fine-tune, attention logits frozen.

    Examples
    --------
    >>> from sparselimit.blocks import PhaseSchedule
    >>> sched = PhaseSchedule(1, 2, 1, n_cycles=2, finetune_epochs=1)
    >>> sched.total_epochs
    9
    >>> [sched.phase_at(e)[0] for e in range(9)]  # doctest: +NORMALIZE_WHITESPACE
    ['dense', 'sparsify', 'sparsify', 'sparse',
     'dense', 'sparsify', 'sparsify', 'sparse', 'finetune']
    """

    dense_epochs: int = 2
    sparsify_epochs: int = 2
    sparse_epochs: int = 2
    n_cycles: int = 1
    finetune_epochs: int = 2

    def __post_init__(self):
        _check_epochs(self.dense_epochs, "dense_epochs")
        _check_epochs(self.sparsify_epochs, "sparsify_epochs", 1)
        _check_epochs(self.sparse_epochs, "sparse_epochs")
        _check_epochs(self.n_cycles, "n_cycles", 1)
        _check_epochs(self.finetune_epochs, "finetune_epochs")

    @property
    def cycle_epochs(self) -> int:
        return self.dense_epochs + self.sparsify_epochs + self.sparse_epochs

    @property
    def total_epochs(self) -> int:
        return self.n_cycles * self.cycle_epochs + self.finetune_epochs

    def phase_at(self, epoch: int) -> tuple[str, int, int, int]:
        """``(phase, cycle, epoch_in_phase, phase_length)`` of a 0-based epoch.

        Epochs past the schedule count as fine-tuning.
        """
        cycle, rest = divmod(epoch, self.cycle_epochs)
        if cycle >= self.n_cycles:
            return (
                "finetune",
                self.n_cycles - 1,
                epoch - self.n_cycles * self.cycle_epochs,
                max(self.finetune_epochs, 1),
            )
        for name, length in (
            ("dense", self.dense_epochs),
            ("sparsify", self.sparsify_epochs),
            ("sparse", self.sparse_epochs),
        ):
            if rest < length:
                return name, cycle, rest, length
            rest -= length
        raise AssertionError("unreachable")  # pragma: no cover
