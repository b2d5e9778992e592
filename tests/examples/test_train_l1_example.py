def test_train_l1_example_runs_quick(run_example):
    out = run_example("train_l1.py")
    rows = [line.split() for line in out.strip().splitlines()[1:]]
    assert [r[0] for r in rows] == ["0e+00", "1e-04", "1e-03"]
