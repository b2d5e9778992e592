"""Sphinx configuration for sparselimit's documentation (built with -W in the test suite)."""

import sparselimit

project = "sparselimit"
author = "sparselimit developers"
copyright = "2026, sparselimit developers"
release = sparselimit.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Cross-references to other projects need their inventories, which need the network; keep the
# build offline and quiet about them.
intersphinx_mapping = {}
nitpicky = False
templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.examples", "make_api_page.py"]
html_theme = "alabaster"
html_static_path = ["_static"]
suppress_warnings = ["autosummary.import_cycle"]


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document only sparselimit's own methods: members inherited from scikit-learn or skorch
    (``set_fit_request``, ``score``, ...) carry cross-references into those projects' docs."""
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and callable(obj) and not module.startswith("sparselimit"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
