"""examples/sap_vs_imp.py runs in quick mode and prints its comparison tables."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sap_vs_imp_example_runs_quick():
    env = dict(os.environ, SPARSELIMIT_QUICK="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "sap_vs_imp.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert lines[0].startswith("dense test accuracy")
    start = next(i for i, line in enumerate(lines) if line.startswith("method"))
    table = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        table.append(line.split())
    assert [row[0] for row in table] == ["SAP", "IMP", "DNS"]
    for row in table:
        sparsity, acc, l1_acc = map(float, row[-3:])
        assert 0.0 < sparsity < 1.0 and 0.0 <= acc <= 1.0 and 0.0 <= l1_acc <= 1.0
    assert "largest sparsity" in out and "SAP rounds" in out
