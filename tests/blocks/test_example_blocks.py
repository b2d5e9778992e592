def test_block_sparsity_example_runs_quick(tmp_path, run_example):
    out = run_example("block_sparsity.py")
    lines = out.strip().splitlines()
    assert lines[1].split() == ["sparsity", "dense", "mag", "1-shot", "mag+ft", "SA++"]
    row = lines[2].split()
    assert row[0] == "0.90"
    assert all(0.0 <= float(v) <= 1.0 for v in row[1:])
