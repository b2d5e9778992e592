def test_plot_spectrum_example_runs_quick(tmp_path, run_example):
    out = run_example("plot_spectrum.py", "--out", str(tmp_path))
    assert "top eigenvalue:" in out and "zero-curvature rows:" in out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (tmp_path / "spectrum_density.png").stat().st_size > 0
