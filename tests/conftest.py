import os

# Subprocesses (example scripts) inherit this: on two shared cores, one BLAS/OpenMP thread per
# process is several times faster than oversubscription.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

# Two cores are shared by everything on CI; one thread per process keeps xdist workers from
# oversubscribing and makes timings of the suite predictable.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("SPARSELIMIT_QUICK", "1")


@pytest.fixture
def run_example(tmp_path):
    """Run ``examples/<script>`` in quick mode in a subprocess (cwd: the test's tmp_path) and
    return its stdout; a failure shows the script's stderr."""
    import subprocess
    import sys
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples"

    def run(script, *args, timeout=300):
        env = dict(os.environ, SPARSELIMIT_QUICK="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
        proc = subprocess.run(
            [sys.executable, str(examples / script), *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, f"{script} failed:\n{proc.stderr[-4000:]}"
        return proc.stdout

    return run


@pytest.fixture
def digits_small():
    """A small, standardised slice of scikit-learn's bundled digits data (float32 / int64)."""
    import numpy as np
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X[:400] / 16.0).astype(np.float32)
    return X, y[:400].astype(np.int64)


@pytest.fixture
def tiny_npz(tmp_path):
    """A .npz data set for the command line: 120 samples, 5 features, labels 3, 7 and 9."""
    import numpy as np
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=120,
        n_features=5,
        n_informative=3,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    np.savez(tmp_path / "tiny.npz", X=X, y=np.array([3, 7, 9])[y])
    return tmp_path / "tiny.npz"


@pytest.fixture
def run_console(tmp_path):
    """Run ``python -m sparselimit *args`` in a subprocess (cwd: the test's tmp_path) and return
    the completed process, output captured as text."""
    import subprocess
    import sys

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "sparselimit", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env=dict(os.environ, OMP_NUM_THREADS="1"),
        )

    return run
