"""The Sphinx site builds with warnings as errors, and every public name is documented."""

import subprocess
import sys
from pathlib import Path

import pytest

import sparselimit

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]


def test_every_public_name_is_in_the_api_page_and_has_an_example():
    api = (ROOT / "docs" / "api.rst").read_text()
    missing = [name for name in sparselimit.__all__ if name not in api]
    assert not missing, f"not in docs/api.rst: {missing}"
    no_example = [
        name
        for name in sparselimit.__all__
        if "Examples\n" not in (getattr(sparselimit, name).__doc__ or "")
    ]
    assert not no_example, f"no Examples section: {no_example}"
