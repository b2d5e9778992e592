import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_plot_spectrum_example_runs_quick(tmp_path):
    env = dict(os.environ, SPARSELIMIT_QUICK="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "plot_spectrum.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert "top eigenvalue:" in out and "zero-curvature rows:" in out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (tmp_path / "spectrum_density.png").stat().st_size > 0
