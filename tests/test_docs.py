"""The Sphinx site builds with warnings as errors, and every public name is documented."""

import importlib
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
