"""Reading single HDUs of DL3 files quickly and safely, with a small in-memory file cache.

A one-file H.E.S.S. observation holds six HDUs in one gzipped file. Reading them one by one
through a fresh ``fits.open`` re-decompresses the stream each time (astropy seeks in gzip
files by decompressing again from the start). Here each file is read and decompressed once
into memory, checked (gzip integrity, FITS block size), and kept in a small LRU cache keyed
by path, size and modification time; each HDU is checked when first touched, and callers
copy what they keep. Errors are :class:`~gammaprob.utils.errors.FormatError` naming
the file and HDU.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import get_hdu, read_fits_bytes

__all__ = ["clear_cache", "read_hdu", "read_header"]

_CACHE_SIZE = 8
_cache: OrderedDict[tuple, fits.HDUList] = OrderedDict()
_lock = threading.Lock()


def read_hdu(path: str | os.PathLike, hdu: str | int):
    """Return one HDU (header and data) of a FITS file, shared with the cache.

    The HDU must be treated as read-only: the readers of this package copy what they keep
    (event and pointing tables are copied, IRF and GTI constructors copy their arrays).

    Parameters
    ----------
    path : str or path-like
        FITS file, gzipped or not.
    hdu : str or int
        HDU name (case-insensitive) or index.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    FormatError
        Truncated or corrupt file, or no such HDU (the message lists the HDUs present).
    """
    return _checked(path, hdu, data=True)


def read_header(path: str | os.PathLike, hdu: str | int) -> fits.Header:
    """Return a copy of one HDU's header (same cache as :func:`read_hdu`)."""
    return _checked(path, hdu, data=False).header.copy()


def _checked(path, hdu, data: bool):
    """Find an HDU (headers are parsed lazily, up to it) and optionally read its data."""
    hdulist = _open(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", AstropyUserWarning)
            found = get_hdu(hdulist, hdu, path=path)
            if data:
                _ = found.data
        return found
    except FormatError:
        raise
    except (OSError, ValueError, TypeError, AstropyUserWarning) as exc:
        raise FormatError(
            f"the HDU cannot be read ({exc}); is the file truncated or corrupt?",
            path=path,
            hdu=hdu,
        ) from exc


def clear_cache() -> None:
    """Forget all cached files."""
    with _lock:
        while _cache:
            _, hdulist = _cache.popitem()
            hdulist.close()


def _open(path: str | os.PathLike) -> fits.HDUList:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FITS file {str(path)!r} does not exist.")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _lock:
        hdulist = _cache.get(key)
        if hdulist is not None:
            _cache.move_to_end(key)
            return hdulist
    hdulist = read_fits_bytes(path, lazy=True)
    with _lock:
        _cache[key] = hdulist
        while len(_cache) > _CACHE_SIZE:
            _, old = _cache.popitem(last=False)
            old.close()
    return hdulist
