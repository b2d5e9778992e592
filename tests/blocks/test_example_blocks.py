import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_block_sparsity_example_runs_quick(tmp_path):
    env = dict(os.environ, SPARSELIMIT_QUICK="1", MPLBACKEND="Agg")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "block_sparsity.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
        cwd=tmp_path,
    ).stdout
    lines = out.strip().splitlines()
    assert lines[1].split() == ["sparsity", "dense", "mag", "1-shot", "mag+ft", "SA++"]
    row = lines[2].split()
    assert row[0] == "0.90"
    assert all(0.0 <= float(v) <= 1.0 for v in row[1:])
