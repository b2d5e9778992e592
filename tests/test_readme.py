"""The README's quickstart runs as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_readme_quickstart_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1]
    code = re.search(r"```python\n(.*?)```", quickstart, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md quickstart", "exec"), namespace)
    limit, pruner, pipe = namespace["limit"], namespace["pruner"], namespace["pipe"]
    assert 0 < limit.pruning_limit_ < 1
    assert pruner.sparsity_ == pytest.approx(limit.pruning_limit_, abs=1e-3)
    assert 0 < pipe[-1].sparsity_ < 1
    assert len(capsys.readouterr().out.splitlines()) == 3
