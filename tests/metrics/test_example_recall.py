import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_recall_distortion_example_runs_quick(tmp_path):
    env = dict(os.environ, SPARSELIMIT_QUICK="1", MPLBACKEND="Agg")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "recall_distortion.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
        cwd=tmp_path,
    ).stdout
    lines = out.strip().splitlines()
    header = lines.index(next(line for line in lines if line.split()[:1] == ["sparsity"]))
    rows = [line.split() for line in lines[header + 1 : header + 3]]
    assert [r[0] for r in rows] == ["0.50", "0.90"]
    assert all(len(r) == 5 for r in rows)
    assert (tmp_path / "recall_distortion.png").stat().st_size > 0
