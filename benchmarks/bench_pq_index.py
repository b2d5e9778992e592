"""Benchmark: time and peak extra memory of ``pq_index`` on a large weight vector.

``pq_index`` takes its float64 power sums block by block (``metrics._pq._BLOCK`` entries at a
time) and checks finiteness blockwise, so its scratch memory does not grow with the vector.
The baseline is the textbook one-liner on a full-size float64 copy,
``1 - mean(|w|^p)^(1/p) / mean(|w|^q)^(1/q)``, which needs several copies of the vector.

Each method runs once in a fresh subprocess that first allocates the weights, then resets the
kernel's resident-memory high-water mark (``echo 5 > /proc/self/clear_refs``, Linux) and reads
``VmHWM`` after the call: its difference to the ``VmRSS`` before is the call's peak extra memory
(``ru_maxrss`` would not do: a child inherits its parent's across ``fork``/``exec``). Time is
the median of ``--repeats`` calls in this process.

Usage::

    python benchmarks/bench_pq_index.py           # 30M float32 weights
    python benchmarks/bench_pq_index.py --quick   # 1M weights, a smoke test
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
from _peak_memory import reset_peak, status_kib  # benchmarks/, this script's folder

from sparselimit.metrics import pq_index

P, Q = 0.5, 1.0


def dense_float64(w: torch.Tensor) -> float:
    a = w.abs().double()
    return float(1 - a.pow(P).mean().pow(1 / P) / a.pow(Q).mean().pow(1 / Q))


METHODS = {"pq_index (blockwise)": lambda w: pq_index(w, P, Q), "dense float64": dense_float64}


def weights(n: int) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(0))


def memory_child(method: str, n: int) -> None:
    METHODS[method](weights(1000))  # page in the code paths first
    w = weights(n)
    if not reset_peak():
        raise RuntimeError("/proc/self/clear_refs is not writable: no peak to measure")
    before = status_kib("VmRSS")
    METHODS[method](w)
    print(json.dumps({"peak_extra_mib": (status_kib("VmHWM") - before) / 1024}))


def measure_memory(method: str, n: int) -> float:
    cmd = [sys.executable, __file__, "--memory-child", method, "--n", str(n)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_extra_mib"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=30_000_000, help="number of float32 weights")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1M weights, 1 repeat")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeats = 1_000_000, 1
    if args.memory_child:
        memory_child(args.memory_child, args.n)
        return None
    w = weights(args.n)
    print(f"{args.n / 1e6:.0f}M float32 weights ({w.numel() * 4 / 2**20:.0f} MiB), p={P}, q={Q}")
    print(f"{'method':<24}{'value':>12}{'median s':>10}{'peak extra':>14}")
    results = {}
    for method, fn in METHODS.items():
        times, value = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            value = fn(w)
            times.append(time.perf_counter() - t0)
        mib = measure_memory(method, args.n)
        results[method] = {"value": value, "seconds": statistics.median(times), "peak_mib": mib}
        print(f"{method:<24}{value:>12.8f}{statistics.median(times):>10.3f}{mib:>10.0f} MiB")
    return results


if __name__ == "__main__":
    main()
