"""gammaprob: Bayesian-native gamma-ray astronomy.

Sub-packages are imported on demand (``from gammaprob.maps import Map``); importing
``gammaprob`` itself is cheap and loads neither PyMC nor matplotlib.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gammaprob")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
