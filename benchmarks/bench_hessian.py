"""Cost of the Hessian spectrum engine on CPU.

Measures, on an MLP (784-96-32-10, 78,656 prunable weights) and a small CNN (2 conv +
BatchNorm + linear, 20,432 prunable weights):

(a) one Hessian-vector-product pass over the data / one gradient pass, for each HVP method,
    and per vector for blocks of 8 (``block_method='reuse_graph'`` and ``'batched'``);
(b) SLQ with m Lanczos steps / (m single HVP passes), and the time spent outside the products
    (bookkeeping and full reorthogonalisation); lockstep probes vs one after the other;
(c) SLQ vs a PyHessian-style baseline written here (per-batch double backward over lists of
    tensors, one probe at a time, Python Gram-Schmidt over lists), same m and probes.

Timings interleave the candidates round by round and report the median of per-round ratios,
which is robust to other load on shared machines.

Usage::

    python benchmarks/bench_hessian.py [--quick] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
import warnings

import numpy as np
import torch
from torch import nn

from sparselimit.curvature import HessianOperator
from sparselimit.curvature._operator import _eval_mode
from sparselimit.spectral import slq_spectrum


# --------------------------------------------------------------------------- models and data
def make_mlp(n):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(784, 96), nn.ReLU(), nn.Linear(96, 32), nn.ReLU(), nn.Linear(32, 10)
    )
    g = torch.Generator().manual_seed(1)
    return net, torch.randn(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g)


def make_cnn(n):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )
    g = torch.Generator().manual_seed(1)
    return net, torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


# ------------------------------------------------------------------------------- references
def gradient_pass(op):
    """One gradient pass of the mean loss over the same batches and code path as the HVPs."""
    acc = [torch.zeros_like(t) for t in op._theta]
    with _eval_mode(op.module):
        for xb, yb in op._iter_batches():
            leaves = [t.detach().requires_grad_(True) for t in op._theta]
            with torch.enable_grad():
                grads = torch.autograd.grad(op._loss(leaves, xb, yb), leaves)
            for a, g in zip(acc, grads):
                a.add_(g, alpha=len(xb))
    return acc


class PyHessianStyle:
    """The algorithm of PyHessian's ``hessian.density`` (Yao et al. 2020), rewritten here:
    per-batch double backward over lists of tensors, one probe at a time, Python Gram-Schmidt
    over the list of all previous Lanczos vectors, float32 lists."""

    def __init__(self, module, criterion, batches, names):
        self.model = copy.deepcopy(module).eval()
        for name, p in self.model.named_parameters():  # differentiate the same weights
            p.requires_grad_(name in names)
        self.criterion = criterion
        self.batches = batches
        self.params = [p for p in self.model.parameters() if p.requires_grad]

    @staticmethod
    def group_product(xs, ys):
        return sum(torch.sum(x * y) for x, y in zip(xs, ys))

    @staticmethod
    def group_add(params, update, alpha=1.0):
        return [p + u * alpha for p, u in zip(params, update)]

    def normalization(self, v):
        s = torch.sqrt(self.group_product(v, v)).item()
        return [vi / (s + 1e-6) for vi in v]

    def orthnormal(self, w, v_list):
        for v in v_list:
            w = self.group_add(w, v, alpha=-self.group_product(w, v))
        return self.normalization(w)

    def dataloader_hv_product(self, v):
        num_data = 0
        THv = [torch.zeros_like(p) for p in self.params]
        for inputs, targets in self.batches:
            self.model.zero_grad()
            tmp = inputs.size(0)
            loss = self.criterion(self.model(inputs), targets)
            loss.backward(create_graph=True)
            gradsH = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
            self.model.zero_grad()
            Hv = torch.autograd.grad(
                gradsH, self.params, grad_outputs=v, only_inputs=True, retain_graph=False
            )
            THv = [a + b * float(tmp) + 0.0 for a, b in zip(THv, Hv)]
            num_data += float(tmp)
        THv = [a / float(num_data) for a in THv]
        return self.group_product(THv, v).item(), THv

    def density(self, iters, n_v, seed=0):
        gen = torch.Generator().manual_seed(seed)
        eigen_list_full, weight_list_full = [], []
        for _ in range(n_v):
            v = [torch.randint(0, 2, p.shape, generator=gen).float() * 2 - 1 for p in self.params]
            v = self.normalization(v)
            v_list, alpha_list, beta_list = [v], [], []
            for i in range(iters):
                if i == 0:
                    _, w_prime = self.dataloader_hv_product(v)
                    alpha = self.group_product(w_prime, v)
                    alpha_list.append(alpha.item())
                    w = self.group_add(w_prime, v, alpha=-alpha)
                else:
                    beta = torch.sqrt(self.group_product(w, w))
                    beta_list.append(beta.item())
                    v = self.orthnormal(w, v_list)
                    v_list.append(v)
                    _, w_prime = self.dataloader_hv_product(v)
                    alpha = self.group_product(w_prime, v)
                    alpha_list.append(alpha.item())
                    w_tmp = self.group_add(w_prime, v, alpha=-alpha)
                    w = self.group_add(w_tmp, v_list[-2], alpha=-beta)
            T = torch.diag(torch.tensor(alpha_list))
            if beta_list:
                b = torch.tensor(beta_list)
                T += torch.diag(b, 1) + torch.diag(b, -1)
            eig, vec = torch.linalg.eigh(T)
            eigen_list_full.append(eig.tolist())
            weight_list_full.append((vec[0, :] ** 2).tolist())
        return eigen_list_full, weight_list_full


# ---------------------------------------------------------------------------------- timing
def interleaved(fns, rounds):
    """Run each callable once per round, in turn; return {name: [seconds per round]}."""
    times = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def ratio(times, name, ref, per=1):
    r = [t / per / g for t, g in zip(times[name], times[ref])]
    return {"median": round(statistics.median(r), 3), "min": round(min(r), 3)}


def bench_model(label, make, n, steps, probes, rounds, baseline_steps):
    net, X, y = make(n)
    loss = nn.CrossEntropyLoss()
    ops = {
        m: HessianOperator(net, loss, X, y, batch_size=128, hvp_method=m)
        for m in ("double_backward", "forward_over_reverse", "reverse_over_forward")
    }
    ops["double_backward_no_graph_cache"] = HessianOperator(
        net, loss, X, y, batch_size=128, graph_cache_mb=0
    )
    batched = HessianOperator(
        net, loss, X, y, batch_size=128, block_method="batched", graph_cache_mb=0
    )
    nocache = ops["double_backward_no_graph_cache"]
    op = ops["double_backward"]
    D = op.shape[0]
    g = torch.Generator().manual_seed(0)
    v = torch.randn(D, generator=g)
    V8 = torch.randn(D, 8, generator=g)
    out = {"model": label, "n_params": D, "n_samples": n, "batch_size": 128}

    # (a) HVP pass / gradient pass
    fns = {"gradient": lambda: gradient_pass(op)}
    for m, o in ops.items():
        fns[m] = lambda o=o: o @ v
    fns["block8_reuse_graph"] = lambda: nocache @ V8
    fns["block8_batched"] = lambda: batched @ V8
    fns["block8_graph_cache"] = lambda: op @ V8
    t = interleaved(fns, rounds)
    out["gradient_pass_s"] = round(statistics.median(t["gradient"]), 4)
    out["hvp_over_grad"] = {
        name: ratio(t, name, "gradient", per=8 if name.startswith("block8") else 1)
        for name in fns
        if name != "gradient"
    }

    # (b) SLQ overhead: total time vs time inside the products, and vs m single HVP passes
    hvp_time = [0.0]
    inner = op._matmat

    def timed(V):
        t0 = time.perf_counter()
        r = inner(V)
        hvp_time[0] += time.perf_counter() - t0
        return r

    op._matmat = timed
    res = {}
    for p in sorted({1, probes}):
        for lockstep in (True, False) if p > 1 else (True,):
            hvp_time[0] = 0.0
            t_single = statistics.median(interleaved({"h": lambda: inner(v[:, None])}, 5)["h"])
            t0 = time.perf_counter()
            slq_spectrum(op, p, steps, random_state=0, lockstep=lockstep)
            total = time.perf_counter() - t0
            res[f"probes={p},{'lockstep' if lockstep else 'sequential'}"] = {
                "seconds": round(total, 3),
                "over_m_single_hvp_passes_per_probe": round(total / (steps * p * t_single), 3),
                "bookkeeping_fraction": round(1 - hvp_time[0] / total, 4),
            }
    op._matmat = inner
    out["slq_steps"] = steps
    out["slq"] = res

    # (c) vs the PyHessian-style baseline, same m and probes, interleaved
    base = PyHessianStyle(net, loss, op._batches, op.param_names)
    vs = {}
    for p in sorted({1, probes}):
        t = interleaved(
            {
                "ours": lambda p=p: slq_spectrum(op, p, baseline_steps, random_state=0),
                "pyhessian_style": lambda p=p: base.density(baseline_steps, p),
            },
            max(1, rounds // 3),
        )
        vs[f"probes={p}"] = {
            "ours_s": round(statistics.median(t["ours"]), 3),
            "baseline_s": round(statistics.median(t["pyhessian_style"]), 3),
            "speedup": ratio(t, "pyhessian_style", "ours"),
            "baseline_step_over_grad": round(
                statistics.median(t["pyhessian_style"])
                / (baseline_steps * p)
                / out["gradient_pass_s"],
                2,
            ),
        }
    out["baseline_steps"] = baseline_steps
    out["vs_pyhessian_style"] = vs
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")
    if args.quick:
        configs = [("mlp", make_mlp, 1024, 16, 2, 2, 8), ("cnn", make_cnn, 256, 8, 2, 2, 4)]
    else:
        configs = [("mlp", make_mlp, 4096, 128, 4, 7, 24), ("cnn", make_cnn, 1024, 24, 4, 5, 8)]
    results = {"torch": torch.__version__, "threads": args.threads, "models": []}
    for cfg in configs:
        r = bench_model(*cfg)
        results["models"].append(r)
        print(json.dumps(r, indent=1), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return results


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
