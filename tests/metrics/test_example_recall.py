def test_recall_distortion_example_runs_quick(tmp_path, run_example):
    out = run_example("recall_distortion.py")
    lines = out.strip().splitlines()
    header = lines.index(next(line for line in lines if line.split()[:1] == ["sparsity"]))
    rows = [line.split() for line in lines[header + 1 : header + 3]]
    assert [r[0] for r in rows] == ["0.50", "0.90"]
    assert all(len(r) == 5 for r in rows)
    assert (tmp_path / "recall_distortion.png").stat().st_size > 0
