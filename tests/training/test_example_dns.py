"""examples/dynamic_network_surgery.py runs in quick mode and prints one row per c."""


def test_dynamic_network_surgery_example_runs_quick(run_example):
    out = run_example("dynamic_network_surgery.py")
    lines = out.strip().splitlines()
    assert lines[0].startswith("dense test accuracy")
    rows = [line.split() for line in lines[2:]]
    assert [r[0] for r in rows] == ["0", "1"]
    sparsities = [float(r[1]) for r in rows]
    assert 0.0 < sparsities[0] < sparsities[1] < 1.0  # larger c prunes more
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows)
