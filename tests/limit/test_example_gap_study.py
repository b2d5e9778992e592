"""The gap-study example runs in quick mode and writes a row per step of its ladder."""

import json


def test_limit_gap_study_quick(tmp_path, run_example):
    run_example("limit_gap_study.py", "--out", str(tmp_path))
    (row,) = json.loads((tmp_path / "gap.json").read_text())
    assert row["task"] == "digits" and row["n_params"] == 64 * 8 + 8 * 10
    steps = ("exact", "random_refit", "magnitude_refit", "gradient_refit", "true_refit")
    steps += ("quadratic_one_shot", "true_one_shot")
    for step in steps:
        assert 0.0 <= row[step] <= 0.99
    # refitting the kept weights can only lower the loss rise at every sparsity, so the first
    # crossing of eps comes no earlier than without a refit (in the model and in the real net)
    assert row["quadratic_one_shot"] <= row["magnitude_refit"]
    assert row["true_one_shot"] <= row["true_refit"]
    assert "| digits |" in (tmp_path / "gap.md").read_text()
