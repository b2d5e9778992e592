"""examples/sap_vs_imp.py runs in quick mode, prints its comparison tables and saves its figure."""

import pytest


def test_sap_vs_imp_example_runs_quick(run_example, tmp_path):
    pytest.importorskip("matplotlib")
    out = run_example("sap_vs_imp.py", "--out", tmp_path / "figs")
    assert (tmp_path / "figs" / "sap_vs_imp.png").stat().st_size > 0
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
