"""Sphinx configuration for the gammaprob documentation."""

from importlib.metadata import version as _version

project = "gammaprob"
author = "gammaprob developers"
release = _version("gammaprob")
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "numpydoc",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "README.md"]
numpydoc_show_class_members = False
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "astropy": ("https://docs.astropy.org/en/stable", None),
    "pymc": ("https://www.pymc.io/projects/docs/en/stable", None),
}
html_theme = "alabaster"
