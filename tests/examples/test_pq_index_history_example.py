import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pq_index_history_example_runs_quick(tmp_path):
    env = dict(os.environ, SPARSELIMIT_QUICK="1", MPLBACKEND="Agg")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "pq_index_history.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    history, pruned = out.split("\n\n")
    assert len(history.strip().splitlines()) == 1 + 3  # header + one row per epoch
    assert [line.split()[0] for line in pruned.strip().splitlines()[1:]] == [
        "0.50",
        "0.80",
        "0.90",
        "0.95",
    ]
    assert (tmp_path / "pq_index_history.png").stat().st_size > 5_000
