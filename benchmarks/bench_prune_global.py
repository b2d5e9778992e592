"""Benchmark: sparselimit.pruning.prune_global vs torch.nn.utils.prune.global_unstructured.

Global L1 (magnitude) pruning of a >= 30M-weight MLP to 90% sparsity, both methods measured in
the same run on fresh copies of the same model:

- time: ``time.perf_counter`` around the pruning call only (the fresh deep copy of the model is
  made outside the timed region), ``--repeats`` alternating runs per method, median reported;
- peak extra memory: each method runs once in a *fresh subprocess* that builds the model, resets
  the kernel's peak-RSS counter (``echo 5 > /proc/self/clear_refs``, Linux >= 4.0), records the
  current RSS, prunes, and reads the new peak ``VmHWM`` from ``/proc/self/status``. The
  difference is the peak extra resident memory of the call, allocator and temporaries included
  (the child first runs the method once on a tiny model, so that paging in library code on first
  use is not counted)
  (tracemalloc does not see torch's allocations; sampling RSS misses short peaks). Where
  ``clear_refs`` is not writable it falls back to ``ru_maxrss`` minus the RSS before the call,
  which is exact as long as the call sets a new high-water mark (reported). The torch baseline's
  figure includes the ``weight_orig``/``weight_mask`` copies its re-parametrisation keeps.
- correctness: both must remove the same number of weights (and here, with untied random
  weights, the very same ones).

Usage::

    python benchmarks/bench_prune_global.py              # timing + memory, 33.6M weights
    python benchmarks/bench_prune_global.py --selection  # also compare k-th value selections
    python benchmarks/bench_prune_global.py --quick      # small model, for a smoke test
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from _peak_memory import reset_peak, status_kib  # benchmarks/, this script's folder
from torch import nn
from torch.nn.utils import prune as torch_prune

from sparselimit.pruning import prune_global

SPARSITY = 0.9


def build_model(width: int, seed: int = 0) -> nn.Module:
    """2048-4096-4096-2048 for width=4096: 8.4M + 16.8M + 8.4M = 33.6M prunable weights."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(width // 2, width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, width // 2),
    )
    torch.random.set_rng_state(gen_state)
    return model


def linear_layers(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def run_sparselimit(model):
    return prune_global(model, SPARSITY).masks


def run_torch(model):
    params = [(m, "weight") for m in linear_layers(model)]
    torch_prune.global_unstructured(
        params, pruning_method=torch_prune.L1Unstructured, amount=SPARSITY
    )
    return {f"{i}": m.weight_mask for i, m in enumerate(linear_layers(model))}


METHODS = {"sparselimit.prune_global": run_sparselimit, "torch global_unstructured": run_torch}


def memory_child(method: str, width: int) -> None:
    """Run one method once in this (fresh) process and print its peak extra memory as JSON."""
    METHODS[method](build_model(64))  # warm-up: page in the code paths, first-use allocations
    model = build_model(width)
    weight_bytes = sum(m.weight.numel() * m.weight.element_size() for m in linear_layers(model))
    gc.collect()
    if reset_peak():
        how = "VmHWM after clear_refs"
        maxrss_before = None
    else:
        how = "ru_maxrss"
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_before = status_kib("VmRSS")
    METHODS[method](model)
    if how == "ru_maxrss":
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        how += " (exact)" if peak > maxrss_before else " (UNRELIABLE: no new high-water mark)"
    else:
        peak = status_kib("VmHWM")
    rss_after = status_kib("VmRSS")
    print(
        json.dumps(
            {
                "method": method,
                "weight_bytes": weight_bytes,
                "peak_extra_bytes": (peak - rss_before) * 1024,
                "retained_extra_bytes": (rss_after - rss_before) * 1024,
                "how": how,
            }
        )
    )


def measure_memory(method: str, width: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--memory-child",
            method,
            "--width",
            str(width),
            "--threads",
            str(torch.get_num_threads()),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure_time(base: nn.Module, repeats: int) -> tuple[dict, dict]:
    times = {m: [] for m in METHODS}
    removed = {}
    same_masks = None
    for _ in range(repeats):
        masks = {}
        for method, fn in METHODS.items():  # alternate, so drifts in machine load hit both
            model = copy.deepcopy(base)
            gc.collect()
            t0 = time.perf_counter()
            out = fn(model)
            times[method].append(time.perf_counter() - t0)
            masks[method] = [m.bool() for m in out.values()]
            removed[method] = sum(int((~m).sum()) for m in masks[method])
            del model, out
        a, b = masks.values()
        same_masks = all(torch.equal(x, y) for x, y in zip(a, b))
    return times, {"removed": removed, "same_masks": same_masks}


def measure_selection(n: int, repeats: int) -> dict:
    """Time the k-th smallest value of n float32 values (k = 0.9 n) with each primitive."""
    gen = torch.Generator().manual_seed(0)
    data = torch.randn(n, generator=gen).abs_()
    k = round(SPARSITY * n)
    res = {}

    def np_partition():
        arr = buf.numpy()
        arr.partition(k - 1)
        return float(arr[k - 1])

    candidates = {
        "numpy ndarray.partition (in place)": np_partition,
        "torch.kthvalue (copies)": lambda: float(torch.kthvalue(buf, k).values),
        "torch.topk(k, largest=False)": lambda: float(
            torch.topk(buf, k, largest=False).values.max()
        ),
        "torch.sort": lambda: float(torch.sort(buf).values[k - 1]),
    }
    expected = float(torch.sort(data).values[k - 1])
    for name, fn in candidates.items():
        ts = []
        for _ in range(repeats):
            buf = data.clone()
            t0 = time.perf_counter()
            value = fn()
            ts.append(time.perf_counter() - t0)
            assert value == expected, (name, value, expected)
        res[name] = statistics.median(ts)
    try:
        torch.quantile(data, SPARSITY)
        res["torch.quantile"] = "ok"
    except RuntimeError as exc:
        res["torch.quantile"] = f"fails: {str(exc)[:60]}"
    return res


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="width 512, 2 repeats")
    parser.add_argument("--selection", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for both methods (default 1: the CI box has 2 "
        "shared cores; numpy's partition is single-threaded anyway)",
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.width, args.repeats = 512, 2
    if args.memory_child:
        memory_child(args.memory_child, args.width)
        return None

    base = build_model(args.width)
    n_weights = sum(m.weight.numel() for m in linear_layers(base))
    print(
        f"MLP {args.width // 2}-{args.width}-{args.width}-{args.width // 2}: "
        f"{n_weights / 1e6:.1f}M prunable weights ({n_weights * 4 / 2**20:.0f} MiB), "
        f"sparsity {SPARSITY}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"numpy {np.__version__}, {os.cpu_count()} CPUs"
    )

    times, check = measure_time(base, args.repeats)
    del base
    gc.collect()
    mem = {m: measure_memory(m, args.width) for m in METHODS}

    print(
        f"\n{'method':<28}{'median s':>10}{'min s':>9}{'peak extra':>12}{'x weights':>11}"
        f"{'retained':>10}"
    )
    for m in METHODS:
        wb = mem[m]["weight_bytes"]
        print(
            f"{m:<28}{statistics.median(times[m]):>10.3f}{min(times[m]):>9.3f}"
            f"{mem[m]['peak_extra_bytes'] / 2**20:>9.0f} MiB"
            f"{mem[m]['peak_extra_bytes'] / wb:>10.2f}x"
            f"{mem[m]['retained_extra_bytes'] / wb:>9.2f}x"
        )
    ours, theirs = METHODS
    speedup = statistics.median(times[theirs]) / statistics.median(times[ours])
    mem_ratio = mem[theirs]["peak_extra_bytes"] / max(mem[ours]["peak_extra_bytes"], 1)
    ours_x = mem[ours]["peak_extra_bytes"] / mem[ours]["weight_bytes"]
    print(
        f"\nspeed-up {speedup:.1f}x (target >= 5x); peak extra memory of prune_global "
        f"{ours_x:.2f}x the weights (target <= 1.5x), {mem_ratio:.1f}x less than torch's"
    )
    print(
        f"weights removed: {check['removed']} -> equal: "
        f"{len(set(check['removed'].values())) == 1}; identical masks: {check['same_masks']}"
    )
    print(f"memory measured with: {mem[ours]['how']}")
    assert len(set(check["removed"].values())) == 1, "the methods removed different counts"

    result = {
        "n_weights": n_weights,
        "times_s": times,
        "memory": mem,
        "speedup": speedup,
        "peak_extra_over_weights": ours_x,
        "memory_ratio_vs_torch": mem_ratio,
        **check,
    }
    if args.selection:
        sel = measure_selection(n_weights, max(2, args.repeats // 2))
        print(f"\nk-th value selection over {n_weights / 1e6:.1f}M float32 (median s):")
        for name, v in sel.items():
            print(f"  {name:<38}{v if isinstance(v, str) else f'{v:.3f}'}")
        result["selection_s"] = sel
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
