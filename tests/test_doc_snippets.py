"""Every Python snippet of the documentation pages runs as written.

The ``.. code-block:: python`` (and ``pycon``) blocks of each page under ``docs/`` are executed in
order in one namespace per page, so a snippet may use the names an earlier snippet on the same
page defined. Blocks made of ``>>>`` prompts are run as doctests (their output is checked); the
others are executed as plain code, compiled against the ``.rst`` file so that a traceback points
at the page and line. A snippet that cannot run here on purpose (a GPU, a cluster, a user file) is
marked in the page by an rst comment right before it::

    .. skip-snippet: needs a dask cluster

and is reported as a skipped test with that reason. Snippets run with the test's ``tmp_path`` as
the working directory, so files they write land there.
"""

import doctest
import io
import re
import sys
import textwrap
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Generated API stubs hold no snippets of their own (docstring examples run under
# --doctest-modules); build output is not documentation source.
EXCLUDED_DIRS = {"generated", "_build", "_templates"}
LANGUAGES = {"python", "python3", "py", "pycon", "ipython"}
DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. (?:code-block|code|sourcecode)::\s*(?P<lang>\S*)\s*$")
SKIP_MARK = re.compile(r"^\s*\.\. skip-snippet:\s*(?P<reason>.+?)\s*$")
DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass
class Snippet:
    page: str  # path relative to the repository root
    line: int  # line of the ``.. code-block::`` directive (1-based)
    first_line: int  # line of the snippet's first line of code (1-based)
    code: str  # dedented source
    skip_reason: str | None

    @property
    def is_doctest(self):
        return self.code.lstrip().startswith(">>>")


def _snippets(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(ROOT).as_posix()
    found = []
    i = 0
    while i < len(lines):
        match = DIRECTIVE.match(lines[i])
        if not match or match["lang"].lower() not in LANGUAGES:
            i += 1
            continue
        directive_line, indent = i + 1, len(match["indent"])
        # The skip marker is the nearest non-blank line above the directive.
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        skip = SKIP_MARK.match(lines[j]) if j >= 0 else None
        # Directive options (``:linenos:``...) come before the blank line that opens the body.
        i += 1
        while i < len(lines) and lines[i].strip().startswith(":") and lines[i].strip():
            i += 1
        body_start = None
        body = []
        while i < len(lines):
            text = lines[i]
            if text.strip() and len(text) - len(text.lstrip()) <= indent:
                break
            if body_start is None and text.strip():
                body_start = i + 1
            if body_start is not None:
                body.append(text)
            i += 1
        while body and not body[-1].strip():
            body.pop()
        if body:
            found.append(
                Snippet(
                    page=page,
                    line=directive_line,
                    first_line=body_start,
                    code=textwrap.dedent("\n".join(body)) + "\n",
                    skip_reason=skip["reason"] if skip else None,
                )
            )
    return found


def _pages():
    pages = {}
    for path in sorted(DOCS.rglob("*.rst")):
        if EXCLUDED_DIRS.intersection(path.relative_to(DOCS).parts[:-1]):
            continue
        snippets = _snippets(path)
        if snippets:
            pages[path.relative_to(ROOT).as_posix()] = snippets
    return pages


PAGES = _pages()
SKIPPED = [s for snippets in PAGES.values() for s in snippets if s.skip_reason]


def _run_doctest(snippet, namespace):
    parser = doctest.DocTestParser()
    test = parser.get_doctest(
        snippet.code,
        namespace,
        f"{snippet.page}:{snippet.line}",
        str(ROOT / snippet.page),
        snippet.first_line - 1,
    )
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    runner.run(test, out=out.write, clear_globs=False)
    if runner.failures:
        pytest.fail(f"{snippet.page}:{snippet.line}: doctest failed\n{out.getvalue()}", False)


def _run_code(snippet, namespace):
    # Pad with blank lines so that tracebacks give the line numbers of the .rst page (and
    # linecache shows the page's own line).
    source = "\n" * (snippet.first_line - 1) + snippet.code
    code = compile(source, str(ROOT / snippet.page), "exec")
    try:
        exec(code, namespace)
    except Exception as exc:
        # Drop this function's frame: the traceback starts in the page.
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
    else:
        return
    pytest.fail(f"{snippet.page}:{snippet.line}: snippet raised\n{tb}", False)


def test_snippets_are_found():
    assert "docs/quickstart.rst" in PAGES
    assert sum(len(s) for s in PAGES.values()) >= 20


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_snippets_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    namespace = {"__name__": f"doc_snippets_{Path(page).stem}"}
    try:
        for snippet in PAGES[page]:
            if snippet.skip_reason:
                continue  # reported by test_marked_snippet_is_skipped
            if snippet.is_doctest:
                _run_doctest(snippet, namespace)
            else:
                _run_code(snippet, namespace)
    finally:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close("all")


if SKIPPED:  # (an empty parametrization would report a skip of its own)

    @pytest.mark.parametrize("snippet", SKIPPED, ids=[f"{s.page}:{s.line}" for s in SKIPPED])
    def test_marked_snippet_is_skipped(snippet):
        pytest.skip(f"{snippet.page}:{snippet.line}: {snippet.skip_reason}")


def test_snippet_parser(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    page = tmp_path / "page.rst"
    page.write_text(
        "Title\n=====\n\n"
        ".. code-block:: python\n   :caption: first\n\n   x = 1\n\n   y = x + 1\n\ntext\n\n"
        ".. skip-snippet: needs a GPU\n\n"
        ".. code-block:: python\n\n    import cupy\n\n"
        ".. code-block:: bash\n\n    ls\n\n"
        ".. code-block:: pycon\n\n    >>> y\n    2\n"
    )
    first, skipped, doctest_block = _snippets(page)
    assert (first.line, first.first_line, first.code) == (4, 7, "x = 1\n\ny = x + 1\n")
    assert first.skip_reason is None and not first.is_doctest
    assert (skipped.line, skipped.code, skipped.skip_reason) == (15, "import cupy\n", "needs a GPU")
    assert doctest_block.is_doctest and doctest_block.line == 23
    namespace = {}
    _run_code(first, namespace)
    _run_doctest(doctest_block, namespace)  # sees the names the page defined before
