def test_prune_one_shot_example_runs_quick(tmp_path, run_example):
    out = run_example("prune_one_shot.py")
    lines = out.strip().splitlines()
    rows = [line.split() for line in lines[1:6]]
    assert [r[0] for r in rows] == ["0.00", "0.50", "0.80", "0.90", "0.95"]
    assert [r[1] for r in rows] == ["0.000", "0.500", "0.800", "0.900", "0.950"]
    assert "pruned weights still zero: True" in out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (tmp_path / "prune_one_shot.png").stat().st_size > 0
