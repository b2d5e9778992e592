"""Regenerate docs/api.rst from the packages' __all__ (run from the repository root)."""

import importlib

sections = [
    (
        "Top level",
        "sparselimit",
        "The main estimators and functions, importable from ``sparselimit``.",
    ),
    (
        "Training",
        "sparselimit.training",
        "skorch nets with an L1 penalty and pruning-aware callbacks.",
    ),
    ("Pruning", "sparselimit.pruning", "Masks, global one-shot pruning, iterative pruners."),
    ("Pruning limit", "sparselimit.limit", "Predict the pruning limit and measure pruning curves."),
    (
        "Hessian spectrum",
        "sparselimit.spectral",
        "Lanczos, stochastic Lanczos quadrature, traces, eigenvalues.",
    ),
    ("Curvature operators", "sparselimit.curvature", "The matrix-free Hessian operator."),
    ("Metrics", "sparselimit.metrics", "PQ index, sparsity reports, recall distortion."),
    ("Block sparsity", "sparselimit.blocks", "SequentialAttention++ and block magnitude pruning."),
    ("Datasets", "sparselimit.datasets", "Small tasks that need no download."),
    ("Utilities", "sparselimit.utils", "Parameter selection, masks and validation helpers."),
]
out = ["API reference", "=============", ""]
seen = set()
for title, mod, blurb in sections:
    m = importlib.import_module(mod)
    names = [n for n in m.__all__ if id(getattr(m, n)) not in seen]
    seen.update(id(getattr(m, n)) for n in names)
    out += [
        title,
        "-" * len(title),
        "",
        blurb,
        "",
        f".. currentmodule:: {mod}",
        "",
        ".. autosummary::",
        "   :toctree: generated/",
        "",
    ]
    out += [f"   {n}" for n in names] + [""]
open("docs/api.rst", "w").write("\n".join(out))
