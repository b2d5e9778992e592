"""``n_lanczos_steps="auto"``: when to stop the Lanczos runs of the pruning limit."""

from __future__ import annotations

import math

import numpy as np

from ._solve import solve_pruning_limit
from ._width import GaussianWidth

#: "auto" Lanczos steps: at most this many (the paper's default).
AUTO_MAX_STEPS = 128
#: "auto": never stop before this many steps.
AUTO_MIN_STEPS = 16
#: "auto": Laurie's error estimate of the limit, |rho(G_{m-1}) - rho(A_m)| / 2, must have stayed
#: below ``auto_tol`` for this many consecutive steps. The integrand 1 / (1 + c|lambda|) has a
#: kink and a sharp peak at 0, where L1-trained nets have many eigenvalues, so the Gauss and
#: anti-Gauss limits swing (with a period of ~6 steps) as Ritz values enter the near-zero
#: cluster and can agree by chance at one step; one swing of agreement is needed. Measured on
#: the validation nets (.notes study): 6 steps keep the error of the averaged rule against the
#: converged value below ``auto_tol`` (max 0.0042 at 5e-3, 0.0098 at 1e-2), 3 steps do not.
AUTO_PATIENCE = 6

_SLOPE_STEP = 1e-4  # finite-difference step in rho for the slope of G(R(rho))


class _AutoStop:
    """``stop_when`` for ``n_lanczos_steps="auto"``; its :meth:`evaluate` also gives the
    final-step record of a fixed number of steps.

    The rule: stop at the first step ``s >= AUTO_MIN_STEPS`` where Laurie's error estimate
    ``|rho(G_{m-1}) - rho(A_m)| / 2`` of the limit has been below ``tol`` at each of the steps
    ``s - AUTO_PATIENCE + 1 ... s``. Estimates are NaN at step 1 and 0 once every probe has
    broken down (the quadrature is then exact).

    Evaluating a step costs a few small tridiagonal eigendecompositions and a root solve,
    more than a Hessian product on a small network, so the rule is applied exactly but
    lazily: steps are evaluated every ``AUTO_PATIENCE``-th step, and once one is below
    ``tol`` the preceding ones of its window are evaluated after the fact, backwards until
    one is not (the Lanczos coefficients are kept), and every step after it until one is
    not. Any run of ``AUTO_PATIENCE`` steps contains an evaluated one, so this stops at the
    same step as evaluating all of them. ``history`` / ``errors`` hold NaN at the steps never
    evaluated.

    The two roots are not solved for: they lie within the rules' small gap of the solved root
    ``r``, so to first order ``rho(G) - rho(A) = (G(R(r)) - A(R(r))) / (1 - s)`` with ``s`` the
    slope of ``rho -> G(R(rho))`` at ``r`` (``s <= 0``): four width evaluations instead of
    two more root solves."""

    def __init__(self, radius, eps, negative, tol, rule="averaged"):
        self.radius = radius
        self.eps = eps
        self.negative = negative
        self.tol = tol
        self.rule = rule
        self.history = []
        self.errors = []
        self._dense = False  # evaluating every step (inside a run of small errors)

    def _width(self, sd):
        return GaussianWidth(sd.nodes, sd.weights, sd.zero_row_fraction, self.negative)

    def evaluate(self, partial, step=None):
        """Limit and error estimate after ``step`` steps (default: all) of ``partial``."""
        steps = np.asarray(partial.n_steps)
        if step is not None:
            steps = np.minimum(steps, step)
        broke = np.array([partial.betas[i, k - 1] == 0.0 for i, k in enumerate(steps)], dtype=bool)
        if steps.min() < 2 or broke.all():
            width = self._width(partial.with_rule(self.rule, steps))
            rho = solve_pruning_limit(self.radius, width, self.eps, tol=1e-7)
            # every probe's Krylov space invariant: the quadrature is exact
            return rho, (0.0 if broke.all() else math.nan)
        gauss = self._width(partial.with_rule("gauss", np.where(broke, steps, steps - 1)))
        anti = self._width(partial.with_rule("anti_gauss", steps))
        if self.rule == "averaged":  # the average of exactly these two rules: no third build

            def width(R, eps):
                return 0.5 * (gauss(R, eps) + anti(R, eps))

        else:
            width = self._width(partial.with_rule(self.rule, steps))
        rho = solve_pruning_limit(self.radius, width, self.eps, tol=1e-7)
        h = _SLOPE_STEP
        lo, hi = max(rho - h, 0.0), min(rho + h, 1.0)
        g_lo, g_hi = width(self.radius(np.array([lo, hi])), self.eps)
        slope = min((g_hi - g_lo) / (hi - lo), 0.0)
        R = self.radius(rho)
        gap = float(gauss(R, self.eps) - anti(R, self.eps))
        return rho, 0.5 * abs(gap) / (1.0 - slope)

    def record(self, partial, step):
        """Evaluate ``step`` (1-based) and store it."""
        while len(self.history) < step:
            self.history.append(math.nan)
            self.errors.append(math.nan)
        rho, err = self.evaluate(partial, step)
        self.history[step - 1], self.errors[step - 1] = rho, err
        return err

    def __call__(self, partial) -> bool:
        step = len(self.history) + 1
        self.history.append(math.nan)
        self.errors.append(math.nan)
        first = AUTO_MIN_STEPS - AUTO_PATIENCE + 1  # earlier steps cannot end a stopping run
        if step < first or not (self._dense or step % AUTO_PATIENCE == 0):
            return False
        err = self.record(partial, step)
        if not err < self.tol:
            self._dense = False
            return False
        if not self._dense:  # fill in the window behind this step, back to its first failure
            for back in range(step - 1, max(first, step - AUTO_PATIENCE + 1) - 1, -1):
                err_back = self.errors[back - 1]
                if math.isnan(err_back):
                    err_back = self.record(partial, back)
                if not err_back < self.tol:
                    break
            self._dense = True
        if step < AUTO_MIN_STEPS:
            return False
        recent = np.asarray(self.errors[-AUTO_PATIENCE:])
        return bool((recent < self.tol).all())
