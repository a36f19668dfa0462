"""The GADF HDU index table: where each observation's HDUs live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from gammaprob.utils.errors import DataNotFoundError, FormatError

from ._fits_cache import read_hdu

__all__ = ["HDU_TYPES", "HDUIndex", "HDULocation"]

#: HDU types a GADF HDU index may list.
HDU_TYPES = ("events", "gti", "pointing", "aeff", "edisp", "psf", "bkg", "rad_max")
IRF_TYPES = ("aeff", "edisp", "psf", "bkg", "rad_max")
#: HDU classes of IRFs stored as maps (not GADF; gammapy writes them): read as Map.
MAP_HDU_CLASSES = ("map", "psf_map", "psf_map_reco", "edisp_map", "edisp_kernel_map")
_REQUIRED_COLUMNS = ("OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME")


@dataclass(frozen=True)
class HDULocation:
    """One row of the HDU index, resolved to a file path.

    Attributes
    ----------
    obs_id : int
        Observation identifier.
    hdu_type : str
        ``events``, ``gti``, ``aeff``, ...
    hdu_class : str
        ``events``, ``aeff_2d``, ``psf_table``, ...
    path : pathlib.Path
        Absolute or index-relative file path.
    hdu : str or int
        HDU name, or index when the index gives a number.
    index_path : str or None
        The HDU index file, for error messages.
    """

    obs_id: int
    hdu_type: str
    hdu_class: str
    path: Path
    hdu: str | int
    index_path: str | None = None

    def check_file(self) -> None:
        """Raise DataNotFoundError naming the file, HDU and index if the file is missing."""
        if not self.path.is_file():
            raise DataNotFoundError(
                f"observation {self.obs_id}: the HDU index {self.index_path!r} says the "
                f"{self.hdu_type!r} HDU {self.hdu!r} is in file {str(self.path)!r}, which does "
                "not exist"
            )

    def load(self):
        """Read the HDU into its gammaprob object.

        Returns an EventList, GTI, PointingTable, an IRF (class chosen from the HDU's
        ``HDUCLAS2``/``HDUCLAS4``) or, for map-based IRFs (``HDU_CLASS`` ``map``,
        ``psf_map``, ``edisp_kernel_map``), a ``gammaprob.maps.Map``.
        """
        self.check_file()
        if self.hdu_class in MAP_HDU_CLASSES:
            from gammaprob.maps import Map

            return Map.read(self.path, hdu=self.hdu)
        hdu = read_hdu(self.path, self.hdu)
        if self.hdu_type == "events":
            from .events import EventList

            return EventList.from_hdu(hdu, path=self.path)
        if self.hdu_type == "gti":
            from .gti import GTI

            return GTI.from_hdu(hdu, path=self.path)
        if self.hdu_type == "pointing":
            from .pointing import PointingTable

            return PointingTable.from_hdu(hdu, path=self.path)
        from gammaprob.irf import irf_class_from_header

        cls = irf_class_from_header(hdu.header, path=self.path, hdu=self.hdu)
        return cls.from_table_hdu(hdu, path=self.path)


def _hdu_name(value) -> str | int:
    text = str(value).strip()
    return int(text) if text.isdigit() else text


class HDUIndex:
    """HDU index table with file locations resolved against the index's base folder.

    ``FILE_DIR`` is relative to ``BASE_DIR`` (header keyword) if given, which is itself
    relative to the index file's folder unless absolute; absolute ``FILE_DIR`` values are
    used as they are.

    Parameters
    ----------
    table : `~astropy.table.Table`
        The index (columns ``OBS_ID``, ``HDU_TYPE``, ``HDU_CLASS``, ``FILE_DIR``,
        ``FILE_NAME``, ``HDU_NAME``).
    base_dir : path-like
        Folder that relative locations are resolved against.
    path : str, optional
        Index file name, for error messages.
    """

    def __init__(
        self, table: Table, base_dir: str | os.PathLike, path: str | os.PathLike | None = None
    ) -> None:
        self.path = None if path is None else str(path)
        missing = [c for c in _REQUIRED_COLUMNS if c not in table.colnames]
        if missing:
            raise FormatError(
                f"HDU index lacks required column(s) {missing}; it has {table.colnames}",
                path=path,
                hdu="HDU_INDEX",
                column=missing[0],
            )
        self.table = table
        meta_base = str(table.meta.get("BASE_DIR", "")).strip()
        base = Path(base_dir)
        self.base_dir = (base / meta_base) if meta_base else base
        self._obs_id = np.asarray(table["OBS_ID"]).astype(np.int64)
        self._type = np.char.lower(np.char.strip(np.asarray(table["HDU_TYPE"]).astype(str)))
        self._class = np.char.lower(np.char.strip(np.asarray(table["HDU_CLASS"]).astype(str)))

    @classmethod
    def read(cls, path: str | os.PathLike, hdu: int | str = 1) -> HDUIndex:
        """Read an HDU index FITS file (``hdu-index.fits[.gz]``).

        Parameters
        ----------
        path : str or path-like
            Index file.
        hdu : int or str
            Which table of the file (HAWC's index files hold one table per event type,
            i.e. per fHit bin, in HDU 1, 2, ...).
        """
        path = Path(path)
        table = Table.read(read_hdu(path, hdu)).copy(copy_data=True)
        table = _filled(table, path)
        return cls(table, base_dir=path.parent, path=path if hdu == 1 else f"{path}[{hdu}]")

    @property
    def obs_ids(self) -> np.ndarray:
        """Distinct observation ids, sorted."""
        return np.unique(self._obs_id)

    def hdu_types(self, obs_id: int) -> list[str]:
        """HDU types listed for one observation."""
        return sorted(set(self._type[self._obs_id == obs_id]))

    def location(self, obs_id: int, hdu_type: str) -> HDULocation | None:
        """Where the ``hdu_type`` HDU of ``obs_id`` is, or None if the index has no entry.

        When the index lists several entries the first is used.
        """
        if hdu_type not in HDU_TYPES:
            raise ValueError(f"hdu_type must be one of {HDU_TYPES}, got {hdu_type!r}")
        rows = np.nonzero((self._obs_id == obs_id) & (self._type == hdu_type))[0]
        if rows.size == 0:
            return None
        row = self.table[int(rows[0])]
        file_dir = str(row["FILE_DIR"]).strip()
        file_name = str(row["FILE_NAME"]).strip()
        return HDULocation(
            obs_id=int(obs_id),
            hdu_type=hdu_type,
            hdu_class=self._class[rows[0]],
            path=self.base_dir / file_dir / file_name,
            hdu=_hdu_name(row["HDU_NAME"]),
            index_path=self.path,
        )

    def select_obs_ids(self, obs_ids) -> HDUIndex:
        """Sub-index with only the given observations."""
        mask = np.isin(self._obs_id, np.asarray(obs_ids, dtype=np.int64))
        table = self.table[mask]
        table.meta.pop("BASE_DIR", None)
        return HDUIndex(table, self.base_dir, path=self.path)

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return (
            f"HDUIndex({len(self)} rows, {self.obs_ids.size} observations, "
            f"base_dir={str(self.base_dir)!r})"
        )


def _filled(table: Table, path) -> Table:
    """Replace masked (empty) string cells by ''. Empty FILE_DIR is legal."""
    if table.has_masked_columns:
        for name in table.colnames:
            col = table[name]
            if hasattr(col, "mask") and np.any(col.mask):
                if col.dtype.kind in "US":
                    table[name] = col.filled("")
                else:
                    raise FormatError(
                        "column has empty cells", path=path, hdu="HDU_INDEX", column=name
                    )
    return table
