"""Hessian spectrum of a small network trained on scikit-learn's digits.

Trains an MLP with skorch, estimates the spectral density of the Hessian of its data loss with
stochastic Lanczos quadrature (``HessianSpectrum``), prints the sharpness summary (trace, top
eigenvalue, fraction of zero-curvature weights) and plots the density.

Usage::

    python examples/plot_spectrum.py [--quick] [--out DIR]

``--quick`` (or ``SPARSELIMIT_QUICK=1``) runs a few-second version; ``--out DIR`` writes the
figure to ``DIR/spectrum_density.png`` (default: the current directory).
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit.spectral import HessianSpectrum, HessianSpectrumDisplay


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second run")
    parser.add_argument("--out", default=".", help="folder for spectrum_density.png")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("SPARSELIMIT_QUICK", "") not in ("", "0")

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    y = y.astype(np.int64)
    if quick:
        X, y = X[:400], y[:400]

    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-2,
        max_epochs=5 if quick else 40,
        batch_size=64,
        train_split=None,
        verbose=0,
    )
    start = time.perf_counter()
    spectrum = HessianSpectrum(
        net,
        n_probes=2 if quick else 4,
        n_lanczos_steps=24 if quick else 128,
        n_top_eigenvalues=1,
        random_state=0,
        verbose=0 if quick else 1,
    ).fit(X, y)
    elapsed = time.perf_counter() - start

    sd = spectrum.spectrum_
    print(f"parameters (prunable weights): {spectrum.n_params_}")
    print(
        f"samples: {spectrum.n_samples_}, probes: {sd.n_probes}, "
        f"Lanczos steps: {sd.n_steps.tolist()}"
    )
    mean_curvature = spectrum.trace_ / spectrum.n_params_
    print(f"trace estimate: {spectrum.trace_:.4f}  (mean curvature {mean_curvature:.3g})")
    print(f"top eigenvalue: {spectrum.top_eigenvalues_[0]:.4f}")
    print(f"largest Ritz value: {sd.nodes.max():.4f}")
    print(f"zero-curvature rows: {spectrum.zero_row_fraction_:.2%}")
    print(f"fit + spectrum in {elapsed:.1f} s")

    try:
        import matplotlib

        matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed; no figure written")
        return spectrum
    fig, ax = plt.subplots(figsize=(6, 4))
    HessianSpectrumDisplay.from_estimator(spectrum, ax=ax)
    ax.set_title("Hessian spectral density (digits MLP)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / "spectrum_density.png", dpi=120)
    plt.close(fig)
    print(f"wrote {out / 'spectrum_density.png'}")
    return spectrum


if __name__ == "__main__":
    main()
