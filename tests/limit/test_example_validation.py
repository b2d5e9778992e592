"""The validation study example runs in quick mode and writes its table and figures."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_validation_study_quick(tmp_path):
    env = dict(os.environ, SPARSELIMIT_QUICK="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "validation_study.py"), "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("limit_width.png", "limit_accuracy.png", "validation.md", "validation.json"):
        assert (tmp_path / name).stat().st_size > 0
    result = json.loads((tmp_path / "validation.json").read_text())
    assert result["quick"] is True
    row = result["rows"][0]
    assert 0 <= row["predicted"] < 1
    assert set(row["one_shot"]) == {"last_above", "first_drop"}
    table = (tmp_path / "validation.md").read_text()
    assert "| digits |" in table
    # the table names the step count the auto rule is compared with: 32 in quick mode, not 128
    steps = result["summary"]["auto_vs_fixed"]["fixed_steps"]
    head, _, cells = [line.split(" | ") for line in table.strip().splitlines()]
    column = head.index(f"abs(auto - {steps})")
    assert steps == 32 and float(cells[column]) == round(
        abs(row["auto_predicted"] - row["predicted"]), 4
    )
