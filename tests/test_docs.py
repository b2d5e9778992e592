"""The Sphinx site builds with warnings as errors, and every public name is documented."""

import importlib
import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(ROOT / "docs"),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]


PACKAGES = [
    "sparselimit",
    "sparselimit.training",
    "sparselimit.pruning",
    "sparselimit.limit",
    "sparselimit.spectral",
    "sparselimit.curvature",
    "sparselimit.metrics",
    "sparselimit.blocks",
    "sparselimit.datasets",
    "sparselimit.utils",
]


def _public():
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield package, name, obj


def test_every_public_name_is_in_the_api_page_and_has_an_example():
    api = (ROOT / "docs" / "api.rst").read_text()
    missing = [f"{pkg}.{name}" for pkg, name, _ in _public() if f"   {name}\n" not in api]
    assert not missing, f"not in docs/api.rst: {missing}"
    no_example = [
        f"{pkg}.{name}" for pkg, name, obj in _public() if "Examples\n" not in (obj.__doc__ or "")
    ]
    assert not no_example, f"no Examples section: {no_example}"


def _conf():
    spec = importlib.util.spec_from_file_location("_sparselimit_docs_conf", ROOT / "docs/conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


def test_references_by_any_import_path_link_to_the_documented_object():
    # api.rst documents PruningLimitEstimator once, as sparselimit.PruningLimitEstimator; the
    # guide writes sparselimit.limit.PruningLimitEstimator and docstrings write bare names
    # their module sees. Each must link to the documented page (Sphinx renders a missing
    # target as plain text, without a warning unless nitpicky).
    conf = _conf()
    names = [
        "sparselimit.PruningLimitEstimator",
        "sparselimit.PQIndex.score",
        "sparselimit.prune_global",
        "sparselimit.MaskEnforcer",
        "sparselimit.pruning.compute_masks",
        "sparselimit.limit.batch_loss_std",
        "sparselimit.HessianSpectrum.density",
        "sparselimit.limit.PruningLimitDisplay.from_estimator",
    ]
    documented = {id(conf._import_name(n)): n for n in names}

    def resolve(target, **context):
        return conf._documented_name(target, documented, **context)

    assert resolve("sparselimit.limit.PruningLimitEstimator") == names[0]
    assert resolve("sparselimit.metrics.PQIndex.score") == names[1]
    assert resolve("sparselimit.training.MaskEnforcer") == names[3]
    assert resolve("sparselimit.pruning.compute_masks") == names[4]  # documented as written
    assert resolve("prune_global", module="sparselimit.pruning") == names[2]
    assert resolve("HessianSpectrum.density", module="sparselimit.spectral") == names[6]
    assert resolve("from_estimator", module="sparselimit", cls="PruningLimitDisplay") == names[7]
    # a bare name in the docstring of sparselimit.PruningLimitEstimator (module
    # sparselimit.limit._estimator) means sparselimit.limit.batch_loss_std
    page = "generated/sparselimit.PruningLimitEstimator"
    assert resolve("batch_loss_std", module="sparselimit", page=page) == names[5]
    # private, foreign and unknown names stay unresolved
    assert resolve("sparselimit.training._l1._L1Mixin") is None
    assert resolve("numpy.ndarray") is None
    assert resolve("sparselimit.limit.no_such_thing") is None
    assert resolve("select_block_layers", module="sparselimit.blocks") is None
