"""examples/dynamic_network_surgery.py runs in quick mode and prints one row per c."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dynamic_network_surgery_example_runs_quick():
    env = dict(os.environ, SPARSELIMIT_QUICK="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "dynamic_network_surgery.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    ).stdout
    lines = out.strip().splitlines()
    assert lines[0].startswith("dense test accuracy")
    rows = [line.split() for line in lines[2:]]
    assert [r[0] for r in rows] == ["0", "1"]
    sparsities = [float(r[1]) for r in rows]
    assert 0.0 < sparsities[0] < sparsities[1] < 1.0  # larger c prunes more
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows)
