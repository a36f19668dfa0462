"""The in-memory FITS cache: read-only shared data, and safe under many threads."""

from __future__ import annotations

import gzip
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from astropy.io import fits

from gammaprob.data import _fits_cache
from gammaprob.data._fits_cache import clear_cache, read_hdu, read_header

N_FILES = 12  # more than the cache holds, so files are evicted while others read them
N_HDUS = 10
N_ROWS = 500


def _values(i_file: int, i_hdu: int) -> np.ndarray:
    return np.arange(N_ROWS, dtype=np.float64) * (i_hdu + 1) + 1000.0 * i_file


@pytest.fixture(scope="module")
def fits_files(tmp_path_factory):
    """Gzipped FITS files, each with N_HDUS small tables ``T0``..``T9``."""
    tmp_path = tmp_path_factory.mktemp("fits_cache")
    paths = []
    for i_file in range(N_FILES):
        hdus = [fits.PrimaryHDU()]
        for i_hdu in range(N_HDUS):
            hdu = fits.BinTableHDU.from_columns(
                [fits.Column("X", "D", array=_values(i_file, i_hdu), unit="TeV")],
                name=f"T{i_hdu}",
            )
            hdu.header["IFILE"] = i_file
            hdus.append(hdu)
        raw = tmp_path / f"f{i_file}.fits"
        fits.HDUList(hdus).writeto(raw)
        path = tmp_path / f"f{i_file}.fits.gz"
        path.write_bytes(gzip.compress(raw.read_bytes()))
        paths.append(path)
    clear_cache()
    yield paths
    clear_cache()


def test_cached_data_are_read_only(fits_files):
    hdu = read_hdu(fits_files[0], "T3")
    assert not hdu.data.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        hdu.data["X"][0] = -1.0
    with pytest.raises(ValueError, match="read-only"):
        hdu.data.field("X")[:] = 0.0
    again = read_hdu(fits_files[0], "T3")
    assert again is hdu  # shared, hence read-only
    np.testing.assert_array_equal(again.data["X"], _values(0, 3))


def test_read_header_is_a_copy(fits_files):
    header = read_header(fits_files[1], "T2")
    header["IFILE"] = -5
    assert read_header(fits_files[1], "T2")["IFILE"] == 1


def test_threads_read_same_and_different_files(fits_files):
    filters_before = list(warnings.filters)
    # every (file, hdu) pair several times, interleaved so that threads read the same file
    # concurrently and the cache (8 files) evicts files that other threads are reading
    jobs = [
        (i_file, i_hdu) for _ in range(3) for i_hdu in range(N_HDUS) for i_file in range(N_FILES)
    ]

    def work(job):
        i_file, i_hdu = job
        if i_hdu == 0:
            clear_cache()  # forget everything while other threads parse
        hdu = read_hdu(fits_files[i_file], f"T{i_hdu}")
        header = read_header(fits_files[i_file], f"T{i_hdu}")
        return np.array(hdu.data["X"]), int(hdu.header["IFILE"]), int(header["IFILE"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(work, jobs))  # re-raises the first exception of any thread

    for (i_file, i_hdu), (values, ifile, ifile_copy) in zip(jobs, results, strict=True):
        np.testing.assert_array_equal(values, _values(i_file, i_hdu))
        assert ifile == ifile_copy == i_file
    assert list(warnings.filters) == filters_before  # no filter leaked from a reader thread
    assert len(_fits_cache._cache) <= _fits_cache._CACHE_SIZE
