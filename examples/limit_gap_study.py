"""Where the gap between the predicted and the measured pruning limit comes from.

The prediction answers one question in one model: does a random subspace of the kept
dimension, through the pruned point, meet the ellipsoid ``1/2 dw^T |H| dw <= eps`` around
``w*``? The measured limits answer other questions about the real network. This study takes
the validation networks (same tasks, L1 strengths and training as
``examples/validation_study.py``), builds their exact Hessian (float64, ``D`` Hessian-vector
products) and measures, on the training loss, the largest sparsity still within ``eps`` of
``L(w*)`` along a ladder of steps from the prediction's model to the real network:

1. ``exact``: the same formula on the exact eigenvalues (is SLQ the gap?).
2. ``random_refit``: the exact quadratic-model answer for a random subspace through the
   pruned point, orthogonal to ``w^k - w*``: the question the kinematic formula approximates.
3. ``magnitude_refit``: the same for the kept coordinates of magnitude pruning (the
   subspace pruning really uses), ``min over the kept weights of 1/2 dw^T |H| dw``.
4. ``gradient_refit``: as 3 with the data-loss gradient ``g`` at ``w*`` (nonzero after L1
   training: ``w*`` minimises ``L + alpha |w|_1``, not ``L``): ``g^T dw + 1/2 dw^T |H| dw``.
5. ``true_refit``: the real loss, the kept weights refitted by full-batch L-BFGS.
6. ``quadratic_one_shot`` and ``true_one_shot``: no refit, ``1/2 d^T |H| d`` and the real loss.

Each is a "first crossing" on a grid of step 0.01: the largest sparsity before the loss rise
first exceeds ``eps``. Run ``python examples/limit_gap_study.py --out DIR`` (about 5 minutes
on 2 cores); ``SPARSELIMIT_QUICK=1`` runs one row on a narrower net (8 hidden units) in
about 15 s (30 s on a loaded machine). Writes ``DIR/gap.json`` and
``DIR/gap.md``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.func import functional_call

# the validation study's networks and training, so that the rows line up with its table
from validation_study import ALPHAS, QUICK, TASKS, make_net  # examples/, same folder

from sparselimit.curvature import HessianOperator
from sparselimit.datasets import load_task
from sparselimit.limit import LimitRegimeWarning, PruningLimitEstimator
from sparselimit.limit._exact import dense_hessian
from sparselimit.utils import select_prunable

COARSE = 0.05  # first pass of each first-crossing search
FINE = 0.01  # resolution of every reported limit
LBFGS_ITERS = 8 if QUICK else 400


class QuadraticModel:
    """The exact second-order model of a net's training loss around ``w*`` (prunable weights,
    float64), and the real loss as a function of the flat prunable weights."""

    def __init__(self, net, X, y):
        module = copy.deepcopy(net.module_).double().eval()
        names = list(select_prunable(module))
        params = dict(module.named_parameters())
        self.shapes = [params[n].shape for n in names]
        self.names = names
        self.fixed = {n: p.detach() for n, p in params.items() if n not in names}
        self.module = module
        self.criterion = net.criterion_
        self.X = torch.as_tensor(np.asarray(X), dtype=torch.float64)
        self.y = torch.as_tensor(np.asarray(y))
        self.w = torch.cat([params[n].detach().reshape(-1) for n in names])
        self.D = self.w.numel()

        def loss_fn(y_pred, y_true):
            return net.get_loss(y_pred, y_true, training=False)

        op = HessianOperator(
            net.module_, loss_fn, self.X, self.y, params=names, dtype=torch.float64
        )
        lam, V = np.linalg.eigh(dense_hessian(op))  # D products, symmetrised
        self.eigenvalues = lam
        self.abs_H = (V * np.abs(lam)) @ V.T  # |H|, the curvature the theory uses
        # a ridge far below any curvature that matters, so that the flat directions of |H|
        # (dead units, zero rows) do not make the kept-block solves singular
        self.ridge = 1e-10 * max(float(np.abs(lam).max()), 1e-300)
        w = self.w.clone().requires_grad_(True)
        loss = self.loss(w)
        self.L0 = float(loss.detach())
        self.g = torch.autograd.grad(loss, w)[0].numpy()
        self.order = np.argsort(np.abs(self.w.numpy()), kind="stable")

    def loss(self, flat):
        parts = dict(self.fixed)
        for n, c, s in zip(
            self.names, flat.split([int(np.prod(s)) for s in self.shapes]), self.shapes
        ):
            parts[n] = c.reshape(s)
        return self.criterion(functional_call(self.module, parts, (self.X,)), self.y)

    def pruned(self, rho):
        """Pruned and kept indices, and the move ``d = w^k - w*`` on the pruned ones."""
        k = int(round(rho * self.D))
        P, K = self.order[:k], self.order[k:]
        return P, K, -self.w.numpy()[P]

    def _refit(self, P, K, dP, g=None):
        """``min over dK of g^T dw + 1/2 dw^T |H| dw`` with ``dw_P = dP``."""
        A = self.abs_H
        b = A[np.ix_(K, P)] @ dP
        if g is not None:
            b = b + g[K]
        AKK = A[np.ix_(K, K)] + self.ridge * np.eye(len(K))
        x = np.linalg.solve(AKK, -b)
        value = 0.5 * dP @ A[np.ix_(P, P)] @ dP + 0.5 * b @ x
        return value + (g[P] @ dP if g is not None else 0.0)

    # --- the loss rise at sparsity rho under each step of the ladder ------------------------
    def magnitude_refit(self, rho):
        P, K, dP = self.pruned(rho)
        return self._refit(P, K, dP) if len(P) else 0.0

    def gradient_refit(self, rho):
        P, K, dP = self.pruned(rho)
        return self._refit(P, K, dP, self.g) if len(P) else 0.0

    def random_refit(self, rho, rng):
        """The quadratic-model minimum over a random kept-dimensional subspace through the
        pruned point, orthogonal to ``d`` (as the coordinate subspace is)."""
        P, K, dP = self.pruned(rho)
        if not len(P):
            return 0.0
        d = np.zeros(self.D)
        d[P] = dP
        u = d / np.linalg.norm(d)
        B = rng.standard_normal((self.D, len(K)))
        B -= np.outer(u, u @ B)
        U, _ = np.linalg.qr(B)
        AU = self.abs_H @ U
        M = U.T @ AU + self.ridge * np.eye(len(K))
        b = AU.T @ d
        return 0.5 * (d @ self.abs_H @ d - b @ np.linalg.solve(M, b))

    def quadratic_one_shot(self, rho):
        P, _, dP = self.pruned(rho)
        return 0.5 * dP @ self.abs_H[np.ix_(P, P)] @ dP

    def true_one_shot(self, rho):
        P, _, _ = self.pruned(rho)
        w = self.w.clone()
        w[torch.as_tensor(P, dtype=torch.long)] = 0.0
        with torch.no_grad():
            return float(self.loss(w)) - self.L0

    def true_refit(self, rho):
        P, K, _ = self.pruned(rho)
        keep = torch.as_tensor(K, dtype=torch.long)
        base = self.w.clone()
        base[torch.as_tensor(P, dtype=torch.long)] = 0.0
        x = base[keep].clone().requires_grad_(True)
        opt = torch.optim.LBFGS(
            [x],
            max_iter=LBFGS_ITERS,
            history_size=50,
            tolerance_grad=1e-10,
            tolerance_change=1e-14,
            line_search_fn="strong_wolfe",
        )

        def closure():
            opt.zero_grad()
            loss = self.loss(base.index_put((keep,), x))
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            return float(self.loss(base.index_put((keep,), x))) - self.L0


def first_crossing(rise, eps, hi=0.99):
    """The largest sparsity on the 0.01 grid before ``rise(rho)`` first exceeds ``eps``: a
    0.05 grid finds the first coarse crossing, then the 0.01 grid inside it."""
    coarse = np.round(np.arange(0.0, hi + 1e-9, COARSE), 2)
    prev = 0.0
    for rho in coarse[1:]:
        if rise(rho) > eps:
            for fine in np.round(np.arange(prev + FINE, rho + 1e-9, FINE), 2):
                if rise(fine) > eps:
                    return float(round(fine - FINE, 2))
            return float(round(rho - FINE, 2))
        prev = rho
    return float(hi)


def run_row(task, l1_alpha, seed=0):
    net = make_net(task, l1_alpha)
    if QUICK:  # a narrower net: the dense Hessian and the subspace solves scale as D^3
        net.set_params(module__hidden=(8,))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net.fit(task.X_train, task.y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)
        slq = PruningLimitEstimator(net, prefit=True, random_state=seed).fit(
            task.X_train, task.y_train
        )
        exact = PruningLimitEstimator(net, prefit=True, spectrum="exact").fit(
            task.X_train, task.y_train
        )
    eps = slq.epsilon_
    model = QuadraticModel(net, task.X_train, task.y_train)
    rng = np.random.default_rng(seed)
    limits = {
        "random_refit": first_crossing(lambda r: model.random_refit(r, rng), eps),
        "magnitude_refit": first_crossing(model.magnitude_refit, eps),
        "gradient_refit": first_crossing(model.gradient_refit, eps),
        "true_refit": first_crossing(model.true_refit, eps),
        "quadratic_one_shot": first_crossing(model.quadratic_one_shot, eps),
        "true_one_shot": first_crossing(model.true_one_shot, eps),
    }
    return {
        "task": task.name,
        "l1_alpha": l1_alpha,
        "n_params": model.D,
        "epsilon": eps,
        "loss": model.L0,
        "predicted": slq.pruning_limit_,
        "exact": exact.pruning_limit_,
        **limits,
    }


COLUMNS = (
    "exact",
    "random_refit",
    "magnitude_refit",
    "gradient_refit",
    "true_refit",
    "quadratic_one_shot",
    "true_one_shot",
)


def table(rows):
    head = "| task | l1_alpha | predicted | " + " | ".join(COLUMNS) + " |\n"
    head += "|---" * (3 + len(COLUMNS)) + "|\n"
    lines = []
    for r in rows:
        p = r["predicted"]
        cells = [f"{r[c]:.2f} ({p - r[c]:+.2f})" for c in COLUMNS]
        lines.append(f"| {r['task']} | {r['l1_alpha']:g} | {p:.3f} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gap_study", help="output folder")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    rows = []
    for name in TASKS:
        task = load_task(name, random_state=0)
        for alpha in ALPHAS:
            t = time.perf_counter()
            rows.append(run_row(task, alpha))
            rows[-1]["seconds"] = time.perf_counter() - t
            print(
                f"{name} l1_alpha={alpha:g}: predicted {rows[-1]['predicted']:.3f}, "
                + ", ".join(f"{c} {rows[-1][c]:.2f}" for c in COLUMNS)
                + f" ({rows[-1]['seconds']:.0f} s)",
                flush=True,
            )
    (out / "gap.json").write_text(json.dumps(rows, indent=2))
    (out / "gap.md").write_text(table(rows))
    print(table(rows))


if __name__ == "__main__":
    main()
