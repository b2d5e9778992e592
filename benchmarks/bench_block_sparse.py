"""CPU inference speed of block-sparse Linear layers: torch BSR layout vs dense.

For each weight shape, block size and block sparsity, a random weight is pruned to exactly that
block sparsity (block magnitude pruning) and ``F.linear(x, W)`` is timed with ``W`` dense and
with ``W.to_sparse_bsr(block)``, both as ``F.linear(x, W_bsr)`` and as ``(W_bsr @ x.T).T`` (what
:class:`sparselimit.blocks.BSRLinear` runs).
Speed ratio = dense time / BSR time (> 1: BSR is faster). Also times the digits MLP
(64-256-256-10) end to end after 8x8 block magnitude pruning of its hidden layers.

Run: ``python benchmarks/bench_block_sparse.py [--threads N] [--json out.json]``;
``SPARSELIMIT_QUICK=1`` for a short run.
"""

import argparse
import copy
import json
import os
import platform
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import benchmark

from sparselimit.blocks import block_magnitude_masks, to_bsr_inference

QUICK = os.environ.get("SPARSELIMIT_QUICK") == "1"
SHAPES = [(1024, 1024)] if QUICK else [(256, 256), (1024, 1024), (4096, 4096)]
BLOCKS = [16] if QUICK else [8, 16, 32]
SPARSITIES = [0.9] if QUICK else [0.5, 0.8, 0.9, 0.95]
BATCHES = [64] if QUICK else [1, 64, 256]
MIN_RUN = 0.05 if QUICK else 0.3


def _time(fn, threads):
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
    return timer.blocked_autorange(min_run_time=MIN_RUN).median


def bench_layers(threads):
    rows = []
    g = torch.Generator().manual_seed(0)
    for out_f, in_f in SHAPES:
        for block in BLOCKS:
            for s in SPARSITIES:
                layer = nn.Linear(in_f, out_f, bias=False)
                with torch.no_grad():
                    layer.weight.copy_(torch.randn(out_f, in_f, generator=g))
                    mask = block_magnitude_masks(layer, s, block, min_blocks=1)["weight"]
                    layer.weight.mul_(mask)
                w = layer.weight.detach()
                w_bsr = w.to_sparse_bsr((block, block))
                for batch in BATCHES:
                    x = torch.randn(batch, in_f, generator=g)
                    torch.testing.assert_close(
                        F.linear(x, w_bsr), F.linear(x, w), rtol=1e-3, atol=1e-3
                    )
                    t_dense = _time(lambda x=x, w=w: F.linear(x, w), threads)
                    t_lin = _time(lambda x=x, w=w_bsr: F.linear(x, w), threads)
                    t_bsr = _time(lambda x=x, w=w_bsr: (w @ x.T).T, threads)
                    rows.append(
                        dict(
                            shape=f"{out_f}x{in_f}",
                            block=block,
                            sparsity=s,
                            batch=batch,
                            dense_us=t_dense * 1e6,
                            bsr_us=t_bsr * 1e6,
                            bsr_linear_us=t_lin * 1e6,
                            speedup=t_dense / t_bsr,
                            speedup_linear=t_dense / t_lin,
                        )
                    )
                    print(
                        f"{rows[-1]['shape']:>10} {block:>5} {s:>8.2f} {batch:>5} "
                        f"{t_dense * 1e6:>10.1f} {t_bsr * 1e6:>10.1f} {t_dense / t_bsr:>8.2f} "
                        f"{t_dense / t_lin:>8.2f}",
                        flush=True,
                    )
    return rows


def bench_mlp(threads):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    ).eval()
    rows = []
    for s in [0.9] if QUICK else [0.75, 0.9, 0.95]:
        pruned = copy.deepcopy(net)
        masks = block_magnitude_masks(pruned, s, 8)
        with torch.no_grad():
            for name, m in masks.items():
                dict(pruned.named_parameters())[name].mul_(m)
        sparse = to_bsr_inference(pruned, 8, max_density=0.5)
        for batch in [1, 256]:
            x = torch.randn(batch, 64)
            with torch.no_grad():
                t_dense = _time(lambda x=x, m=pruned: m(x), threads)
                t_bsr = _time(lambda x=x, m=sparse: m(x), threads)
            rows.append(
                dict(
                    model="digits MLP 64-256-256-10",
                    block=8,
                    sparsity=s,
                    batch=batch,
                    dense_us=t_dense * 1e6,
                    bsr_us=t_bsr * 1e6,
                    speedup=t_dense / t_bsr,
                )
            )
            print(
                f"{'MLP':>10} {8:>5} {s:>8.2f} {batch:>5} {t_dense * 1e6:>10.1f} "
                f"{t_bsr * 1e6:>10.1f} {t_dense / t_bsr:>8.2f} {'':>8}",
                flush=True,
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*Sparse BSR tensor support is in beta.*")
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{args.threads} thread(s); speedup = dense time / BSR time (W_bsr @ x.T); "
        "F.linear = the same for F.linear(x, W_bsr)"
    )
    print(
        f"{'shape':>10} {'block':>5} {'sparsity':>8} {'batch':>5} {'dense us':>10} "
        f"{'BSR us':>10} {'speedup':>8} {'F.linear':>8}"
    )
    rows = bench_layers(args.threads) + bench_mlp(args.threads)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(torch=torch.__version__, threads=args.threads, rows=rows), fh, indent=1)


if __name__ == "__main__":
    main()
