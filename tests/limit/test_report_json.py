"""limit_report is strict JSON: NaN/infinity (e.g. Lanczos steps the "auto" rule skipped) are
null, so that JavaScript's JSON.parse and other strict parsers read the CLI's report.json."""

import json
import math

import numpy as np
import pytest
from torch import nn

from sparselimit import L1RegularizedClassifier
from sparselimit.limit import LimitRegimeWarning, PruningLimitEstimator, limit_report
from sparselimit.limit._report import _plain


def strict_loads(text):
    """json.loads that fails on the non-standard NaN / Infinity / -Infinity tokens."""
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))


def test_plain_turns_every_non_finite_float_into_none():
    value = {
        1: np.array([[1.5, np.nan], [np.inf, -np.inf]]),
        "t": (np.float32("nan"), [float("inf"), {"x": -math.inf}]),
        "kept": [np.int64(3), np.float64(0.25), np.bool_(True), "NaN", None, 0.0],
    }
    assert _plain(value) == {
        "1": [[1.5, None], [None, None]],
        "t": [None, [None, {"x": None}]],
        "kept": [3, 0.25, True, "NaN", None, 0.0],
    }
    assert type(_plain(value)["kept"][0]) is int  # numpy scalars become Python ones


@pytest.mark.filterwarnings("ignore", category=LimitRegimeWarning)
def test_limit_report_nulls_the_steps_auto_did_not_evaluate():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 6).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    net = L1RegularizedClassifier(
        nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2)),
        criterion=nn.CrossEntropyLoss,
        lr=0.1,
        max_epochs=10,
        train_split=None,
        verbose=0,
    )
    est = PruningLimitEstimator(net, n_lanczos_steps="auto", n_probes=1, random_state=0)
    est.fit(X, y)
    report = strict_loads(json.dumps(limit_report(est), allow_nan=False))
    for key in ("limit_by_step", "lanczos_error_by_step"):
        raw = est.diagnostics_[key]
        skipped = [math.isnan(v) for v in raw]
        assert any(skipped) and not all(skipped)  # the case of the bug: some steps skipped
        got = report["diagnostics"][key]
        assert [v is None for v in got] == skipped
        assert [v for v in got if v is not None] == [v for v in raw if not math.isnan(v)]
    assert report["predicted"]["pruning_limit"] == est.pruning_limit_
