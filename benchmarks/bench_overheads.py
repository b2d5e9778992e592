"""Benchmark: time and peak-memory overhead of sparselimit's callbacks and estimators.

Each case runs in a *fresh subprocess* (so peak RSS is per case): it builds a ~5.3M-weight MLP
(512-2048-2048-10), or with ``--cnn`` a small CNN whose cost is compute rather than weights
(conv 3-32-64-64 with 3x3 kernels on 32x32 images, 57K weights), and a small random data set,
runs the case once on a tiny model to page in the code, resets the kernel's peak-RSS counter
(``echo 5 > /proc/self/clear_refs``), and times the call with ``time.perf_counter``. Peak extra
RSS = ``VmHWM`` after minus ``VmRSS`` before.
The plain-skorch baseline is the same net trained the same number of epochs without the
library; the overhead of a callback is ``(case - plain) / epochs``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_overheads.py           # all cases
    OMP_NUM_THREADS=1 python benchmarks/bench_overheads.py plain dns # some cases
    OMP_NUM_THREADS=1 python benchmarks/bench_overheads.py --cnn     # the small CNN
    python benchmarks/bench_overheads.py --quick                     # tiny model smoke test
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import torch
from _peak_memory import reset_peak, status_kib  # benchmarks/, this script's folder
from skorch import NeuralNetClassifier
from torch import nn

EPOCHS = 3
CASES = [
    "plain", "mask", "pq", "pq_neuron", "sparsity", "dns", "l1", "sapp",
    "iterative", "oneshot", "curve", "curve_ft", "report", "pq_score_neuron",
]  # fmt: skip


def _data(n_in, n=512):
    """n_in > 0: n_in features for the MLP; n_in < 0: images of side -n_in for the CNN."""
    rs = np.random.RandomState(0)
    shape = (n, n_in) if n_in > 0 else (n, 3, -n_in, -n_in)
    X = rs.randn(*shape).astype(np.float32)
    y = rs.randint(0, 10, n).astype(np.int64)
    return X, y


def _module(n_in, h):
    """MLP n_in-h-h-10, or (n_in < 0) a CNN with h channels in the last conv; the last layer is
    always module index 4 (the one SequentialAttention++ leaves dense)."""
    if n_in > 0:
        return nn.Sequential(
            nn.Linear(n_in, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 10)
        )
    convs = nn.Sequential(
        nn.Conv2d(3, h // 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(h // 2, h, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(h, h, 3, padding=1), nn.ReLU(),
    )  # fmt: skip
    return nn.Sequential(
        convs, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Identity(), nn.Linear(h, 10)
    )


def _net(n_in, h, cls=NeuralNetClassifier, epochs=EPOCHS, **kw):
    return cls(
        _module,
        module__n_in=n_in,
        module__h=h,
        criterion=nn.CrossEntropyLoss,
        max_epochs=epochs,
        batch_size=128,
        train_split=None,
        verbose=0,
        **kw,
    )


def _case(name, n_in, h):
    """Return a zero-argument callable running the case (setup done outside)."""
    from sparselimit import (
        GlobalOneShotPruner,
        IterativePruner,
        L1RegularizedClassifier,
        MaskEnforcer,
        PQIndex,
        measure_pruning_curve,
    )
    from sparselimit.blocks import SequentialAttentionPP
    from sparselimit.metrics import sparsity_report
    from sparselimit.pruning import prune_global
    from sparselimit.training import DynamicNetworkSurgery, PQIndexScoring, SparsityScoring

    X, y = _data(n_in)
    torch.manual_seed(0)
    if name == "plain":
        net = _net(n_in, h)
        return lambda: net.fit(X, y)
    if name == "mask":
        trained = _net(n_in, h, epochs=1).fit(X, y)
        masks = prune_global(trained.module_, 0.9).masks
        net = _net(n_in, h, callbacks=[MaskEnforcer(masks)])
        return lambda: net.fit(X, y)
    if name in ("pq", "pq_neuron", "sparsity"):
        cb = {
            "pq": PQIndexScoring,
            "pq_neuron": lambda: PQIndexScoring(scope="neuron"),
            "sparsity": SparsityScoring,
        }[name]()
        net = _net(n_in, h, callbacks=[cb])
        return lambda: net.fit(X, y)
    if name == "dns":
        net = _net(n_in, h, callbacks=[DynamicNetworkSurgery(random_state=0)])
        return lambda: net.fit(X, y)
    if name == "l1":
        net = _net(n_in, h, cls=L1RegularizedClassifier)
        return lambda: net.fit(X, y)
    if name == "sapp":
        cb = SequentialAttentionPP(
            0.9,
            8,
            dense_epochs=0,
            sparsify_epochs=EPOCHS,
            sparse_epochs=0,
            finetune_epochs=0,
            min_blocks=1,
            # the last layer stays dense; so does the CNN's first conv (3*3*3 = 27 inputs)
            exclude=["4.weight"] if n_in > 0 else ["4.weight", "0.0.weight"],
        )
        net = _net(n_in, h, callbacks=[cb])
        return lambda: net.fit(X, y)
    if name == "iterative":
        # 1 dense epoch + (EPOCHS - 1) rounds of 1 epoch: as many epochs as "plain"
        pr = IterativePruner(
            _net(n_in, h, epochs=1), schedule="fixed", n_rounds=EPOCHS - 1, verbose=0
        )
        return lambda: pr.fit(X, y)
    if name == "oneshot":
        trained = _net(n_in, h, epochs=1).fit(X, y)
        pr = GlobalOneShotPruner(trained, sparsity=0.9, prefit=True, fine_tune_epochs=EPOCHS)
        return lambda: pr.fit(X, y)
    if name in ("curve", "curve_ft"):
        trained = _net(n_in, h, epochs=1).fit(X, y)
        ft = 1 if name == "curve_ft" else 0
        sp = np.linspace(0.1, 0.9, EPOCHS if ft else 9)
        kw = dict(fine_tune_epochs=ft, X_fine_tune=X, y_fine_tune=y) if ft else {}
        return lambda: measure_pruning_curve(trained, X, y, sp, **kw)
    if name == "report":
        trained = _net(n_in, h, epochs=1).fit(X, y)
        return lambda: sparsity_report(trained)
    if name == "pq_score_neuron":
        trained = _net(n_in, h, epochs=1).fit(X, y)
        return lambda: PQIndex(scope="neuron").score(trained)
    raise ValueError(name)


def _child(name, n_in, h, repeats):
    _case(name, 8 if n_in > 0 else -8, 16)()  # warm up: page in the code paths
    times = []
    peak = 0
    for _ in range(repeats):
        fn = _case(name, n_in, h)
        reset_peak()
        before = status_kib("VmRSS") * 1024
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        peak = max(peak, status_kib("VmHWM") * 1024 - before)
    print(json.dumps({"case": name, "seconds": min(times), "peak_extra_mb": peak / 2**20}))


def main(argv):
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("--")] or CASES
    repeats = 1 if quick else 3
    if "--cnn" in argv:
        n_in, h = (-8, 16) if quick else (-32, 64)
        n_w = sum(p.numel() for n, p in _module(n_in, h).named_parameters() if "weight" in n)
        net = f"CNN 3-{h // 2}-{h}-{h} (3x3) on {-n_in}x{-n_in} images ({n_w / 1e3:.0f}K weights)"
    else:
        n_in, h = (16, 32) if quick else (512, 2048)
        n_w = n_in * h + h * h + h * 10
        net = f"MLP {n_in}-{h}-{h}-10 ({n_w / 1e6:.2f}M weights)"
    print(f"{net}, 512 samples, batch 128 (4 batches/epoch), {EPOCHS} epochs; best of {repeats}")
    results = {}
    for name in names:
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, str(n_in), str(h), str(repeats)],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            print(f"{name:>16}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results[name] = r
        base = results.get("plain", {}).get("seconds")
        extra = (
            "" if base is None or name == "plain" else f"  ({r['seconds'] - base:+.3f} s vs plain)"
        )
        print(f"{name:>16}: {r['seconds']:.3f} s, peak +{r['peak_extra_mb']:.0f} MB{extra}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        main(sys.argv[1:])
