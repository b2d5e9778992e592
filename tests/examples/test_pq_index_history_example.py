def test_pq_index_history_example_runs_quick(tmp_path, run_example):
    out = run_example("pq_index_history.py", "--out", str(tmp_path))
    history, pruned = out.split("\n\n")
    assert len(history.strip().splitlines()) == 1 + 3  # header + one row per epoch
    assert [line.split()[0] for line in pruned.strip().splitlines()[1:]] == [
        "0.50",
        "0.80",
        "0.90",
        "0.95",
    ]
    assert (tmp_path / "pq_index_history.png").stat().st_size > 5_000
