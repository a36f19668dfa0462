"""Reading single HDUs of DL3 files quickly and safely, with a small in-memory file cache.

A one-file H.E.S.S. observation holds six HDUs in one gzipped file. Reading them one by one
through a fresh ``fits.open`` re-decompresses the stream each time (astropy seeks in gzip
files by decompressing again from the start). Here each file is read and decompressed once
into memory, checked (gzip integrity, FITS block size), and kept in a small LRU cache keyed
by path, size and modification time; each HDU is checked when first touched. Errors are
:class:`~gammaprob.utils.errors.FormatError` naming the file and HDU.

Thread safety (Dask's threaded scheduler): each cached file has its own lock, held while
the file is decompressed and while any of its HDUs is parsed (astropy parses a lazily
loaded file by seeking in one shared buffer), so threads reading different files run in
parallel and threads reading the same file wait for one parse. A file dropped from the cache
is never closed (it is only bytes in memory; a thread may still be reading it): it is freed
when its last reader lets go. Cached HDU data are shared, so they are made read-only:
writing to them raises ``ValueError``; callers copy what they change.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import WARNINGS_LOCK, get_hdu, read_fits_bytes
from gammaprob.utils.paths import resolve_data_path

__all__ = ["clear_cache", "read_hdu", "read_header"]

_CACHE_SIZE = 8


class _Entry:
    """One cached file: its HDU list (None until read) and the lock that guards parsing it."""

    __slots__ = ("hdulist", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hdulist: fits.HDUList | None = None


_cache: OrderedDict[tuple, _Entry] = OrderedDict()
_lock = threading.Lock()  # guards _cache itself, never held while parsing


def read_hdu(path: str | os.PathLike, hdu: str | int):
    """Return one HDU (header and data) of a FITS file, shared with the cache.

    The HDU is shared between callers and threads: its data array is read-only (writing
    raises ``ValueError``) and its header must not be changed; the readers of this package
    copy what they keep (event and pointing tables are copied, IRF and GTI constructors copy
    their arrays).

    Parameters
    ----------
    path : str or path-like
        FITS file, gzipped or not (``$GAMMAPY_DATA`` and ``~`` are expanded).
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
    return _checked(path, hdu, data=False)


def _checked(path, hdu, data: bool):
    """Find an HDU (headers are parsed lazily, up to it) and read its data or copy its header.

    Everything that touches the shared HDU list happens under the file's lock.
    """
    path = resolve_data_path(path)
    key, entry = _entry(path)
    with entry.lock:
        if entry.hdulist is None:
            try:
                entry.hdulist = read_fits_bytes(path, lazy=True)
            except BaseException:
                _forget(key, entry)
                raise
        try:
            with WARNINGS_LOCK, warnings.catch_warnings():
                warnings.simplefilter("error", AstropyUserWarning)
                found = get_hdu(entry.hdulist, hdu, path=path)
                if not data:
                    return found.header.copy()
                _freeze_data(found)
            return found
        except FormatError:
            raise
        except (OSError, ValueError, TypeError, AstropyUserWarning) as exc:
            raise FormatError(
                f"the HDU cannot be read ({exc}); is the file truncated or corrupt?",
                path=path,
                hdu=hdu,
            ) from exc


def _freeze_data(hdu) -> None:
    """Make an HDU's data read-only, including every column view astropy will hand out.

    A table's columns are converted now (scaling, booleans), under the file's lock, and the
    converted arrays frozen with the raw records, so no caller can change the shared data.
    """
    data = hdu.data
    if isinstance(data, fits.FITS_rec):
        for name in data.columns.names:
            _freeze(data.field(name))
    _freeze(data)


def _freeze(array) -> None:
    """Set ``write=False`` on an array and every array it is a view of."""
    while isinstance(array, np.ndarray):
        array.setflags(write=False)
        array = array.base


def clear_cache() -> None:
    """Forget all cached files (threads still reading one keep their reference)."""
    with _lock:
        _cache.clear()


def _entry(path: Path) -> tuple[tuple, _Entry]:
    """Return the cache entry of ``path`` (a new, empty one if absent), most recent last."""
    if not path.is_file():
        raise FileNotFoundError(f"FITS file {str(path)!r} does not exist.")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _lock:
        entry = _cache.get(key)
        if entry is None:
            entry = _cache[key] = _Entry()
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)  # dropped, never closed: a reader may hold it
        else:
            _cache.move_to_end(key)
    return key, entry


def _forget(key: tuple, entry: _Entry) -> None:
    """Drop ``entry`` from the cache if it is still the one stored under ``key``."""
    with _lock:
        if _cache.get(key) is entry:
            del _cache[key]
