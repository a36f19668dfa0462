"""Small shared helpers: errors, data paths, FITS access, atomic writing, array namespaces."""

from .errors import FormatError, GammaprobError
from .paths import gammapy_data_path

__all__ = ["FormatError", "GammaprobError", "gammapy_data_path"]
