"""Sphinx configuration for sparselimit's documentation (built with -W in the test suite)."""

import importlib

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


def _import_name(name):
    """The object a dotted ``sparselimit...`` name refers to, or None."""
    if not (name == "sparselimit" or name.startswith("sparselimit.")):
        return None
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        # a classmethod looked up on its class is a new bound method every time
        return getattr(obj, "__func__", obj)
    return None


def _candidates(target, module=None, cls=None, page=None):
    """The full names ``target`` may mean where it is written: as given; relative to the
    current module and class; and, for a bare name in a docstring on an API page, relative to
    the package chain of the documented object's own module (the docstring of
    ``sparselimit.PruningLimitEstimator`` says ``batch_loss_std``, which its module
    ``sparselimit.limit._estimator`` sees as ``sparselimit.limit.batch_loss_std``)."""
    names = [target]
    if module:
        if cls:
            names.append(f"{module}.{cls}.{target}")
        names.append(f"{module}.{target}")
    if page and page.startswith("generated/"):
        owner = _import_name(page.split("/", 1)[1])
        chain = (getattr(owner, "__module__", None) or "").split(".")
        names += [".".join(chain[:i] + [target]) for i in range(len(chain), 0, -1)]
    return names


def _documented_name(target, documented, *, module=None, cls=None, page=None):
    """The name under which the API pages document the object ``target`` refers to, or None.

    ``documented`` maps ``id(object)`` to its documented name. Every public object is
    documented once, at the path ``api.rst`` lists it under (``sparselimit.PruningLimitEstimator``),
    while the guide and the docstrings also name it by its subpackage
    (``sparselimit.limit.PruningLimitEstimator``) or by the bare name its own module sees;
    without this, Sphinx renders those references (``See Also`` entries included) as plain
    text."""
    for name in _candidates(target, module, cls, page):
        obj = _import_name(name)
        if obj is not None and id(obj) in documented:
            return documented[id(obj)]
    return None


_IMMUTABLE = (int, float, str, bytes, bool, type(None))


def _link_reexports(app, env, node, contnode):
    """``missing-reference`` handler: resolve a reference to a sparselimit object by any of
    its import paths (see :func:`_documented_name`)."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    documented = getattr(app, "_sparselimit_documented", None)
    if documented is None:  # all objects are known by the time references are resolved
        documented = {}
        for name in sorted(domain.objects, key=len):
            obj = _import_name(name)
            if obj is not None and not isinstance(obj, _IMMUTABLE):
                documented.setdefault(id(obj), name)
        app._sparselimit_documented = documented
    name = _documented_name(
        node["reftarget"],
        documented,
        module=node.get("py:module"),
        cls=node.get("py:class"),
        page=node.get("refdoc"),
    )
    if name is None:
        return None
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], name, node, contnode
    )


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.connect("missing-reference", _link_reexports)
