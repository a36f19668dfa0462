"""The data store: a GADF DL3 folder indexed by an HDU index and an observation index."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time

from gammaprob.utils.errors import DataNotFoundError, GammaprobError
from gammaprob.utils.paths import resolve_data_path

from .hdu_index import HDU_TYPES, IRF_TYPES, HDUIndex
from .obs_table import ObservationTable
from .observation import Observation, Observations

__all__ = ["HAWC_ESTIMATORS", "DataStore", "MissingHDUWarning"]

#: Energy estimators of HAWC's public Pass 4 release (one index file each).
HAWC_ESTIMATORS = ("NN", "GP")

#: IRFs expected for each kind of observation.
REQUIRED_IRF = {
    "full-enclosure": ("aeff", "edisp", "psf", "bkg"),
    "point-like": ("aeff", "edisp"),
    "all-optional": (),
}


class MissingHDUWarning(UserWarning):
    """An HDU the user expects (an IRF) is not listed for an observation."""


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in (".fits.gz", ".fits"):
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


class DataStore:
    """GADF DL3 data: an HDU index (where every HDU is) and an observation index.

    Parameters
    ----------
    hdu_index : HDUIndex
        Locations of the HDUs.
    obs_table : ObservationTable, optional
        Observation index; without one, :attr:`obs_table` holds only ``OBS_ID``.

    Examples
    --------
    >>> store = DataStore.from_dir("$GAMMAPY_DATA/hess-dl3-dr1")  # doctest: +SKIP
    >>> obs = store.obs(23523)  # doctest: +SKIP
    >>> obs.events.select_energy([1, 10] * u.TeV)  # doctest: +SKIP
    """

    def __init__(self, hdu_index: HDUIndex, obs_table: ObservationTable | None = None) -> None:
        if not isinstance(hdu_index, HDUIndex):
            raise TypeError(f"hdu_index must be an HDUIndex, got {type(hdu_index).__name__}")
        if obs_table is None:
            obs_table = ObservationTable({"OBS_ID": hdu_index.obs_ids})
        elif not isinstance(obs_table, ObservationTable):
            obs_table = ObservationTable(obs_table)
        self._hdu_index = hdu_index
        self._obs_table = obs_table

    @classmethod
    def from_dir(
        cls,
        path: str | os.PathLike,
        hdu_index: str | None = None,
        obs_index: str | None = None,
        hdu_index_hdu: int | str = 1,
    ) -> DataStore:
        """Open a folder with ``hdu-index.fits[.gz]`` and ``obs-index.fits[.gz]``.

        Parameters
        ----------
        path : str or path-like
            Data folder (``$GAMMAPY_DATA`` is expanded).
        hdu_index, obs_index : str, optional
            Index file names inside the folder, if not the standard ones.
        hdu_index_hdu : int or str
            Which table of the HDU index file (HAWC: one per fHit bin, see :meth:`from_hawc`).
        """
        folder = resolve_data_path(path)
        if not folder.is_dir():
            raise DataNotFoundError(f"data store folder {str(folder)!r} does not exist")
        hdu_path = folder / hdu_index if hdu_index else _find(folder, "hdu-index")
        if hdu_path is None or not hdu_path.is_file():
            raise DataNotFoundError(
                f"no HDU index in {str(folder)!r}: expected hdu-index.fits.gz or hdu-index.fits"
                + (f" (asked for {hdu_index!r})" if hdu_index else "")
            )
        obs_path = folder / obs_index if obs_index else _find(folder, "obs-index")
        if obs_index and not obs_path.is_file():
            raise DataNotFoundError(f"observation index {str(obs_path)!r} does not exist")
        return cls.from_index_files(hdu_path, obs_path, hdu_index_hdu=hdu_index_hdu)

    @classmethod
    def from_index_files(
        cls,
        hdu_index: str | os.PathLike,
        obs_index: str | os.PathLike | None = None,
        hdu_index_hdu: int | str = 1,
    ) -> DataStore:
        """Open a data store from its index files (the observation index is optional).

        ``hdu_index_hdu`` picks the table of the HDU index file (default: the first).
        """
        hdu_path = resolve_data_path(hdu_index)
        if not hdu_path.is_file():
            raise DataNotFoundError(f"HDU index {str(hdu_path)!r} does not exist")
        if hdu_index_hdu != 1:
            _check_index_hdu(hdu_path, hdu_index_hdu)
        index = HDUIndex.read(hdu_path, hdu=hdu_index_hdu)
        obs_table = None
        if obs_index is not None:
            obs_path = resolve_data_path(obs_index)
            if not obs_path.is_file():
                raise DataNotFoundError(f"observation index {str(obs_path)!r} does not exist")
            obs_table = ObservationTable.read_index(obs_path)
        return cls(index, obs_table)

    @classmethod
    def from_hawc(
        cls,
        path: str | os.PathLike = "$GAMMAPY_DATA/hawc/crab_events_pass4",
        fhit_bin: int = 5,
        estimator: str = "NN",
        source: str = "Crab",
    ) -> DataStore:
        """One fHit bin and energy estimator of HAWC's public DL3 release.

        HAWC's release holds one observation whose events and IRFs (map IRFs: effective area
        and background per transit, PSF per reconstructed energy, energy-dispersion kernels)
        are split by fHit bin; its index files ``hdu-index-table-{estimator}-{source}``
        hold one table per bin (HDU ``fhit_bin``). The two estimators share events: analyse
        one of them, never both jointly.

        Parameters
        ----------
        path : str or path-like
            Release folder.
        fhit_bin : int
            fHit bin (HDU of the index file; the public Crab data have files for bins 5-9).
        estimator : {"NN", "GP"}
            Energy estimator (neural network or ground parameter).
        source : str
            Source part of the index file names.

        Returns
        -------
        DataStore
            With the bin's HDU index; the observation loads with ``required_irf=
            "full-enclosure"`` and its IRFs are :class:`~gammaprob.maps.Map` objects.
        """
        if estimator not in HAWC_ESTIMATORS:
            raise ValueError(f"estimator must be one of {HAWC_ESTIMATORS}, got {estimator!r}")
        if isinstance(fhit_bin, bool) or not isinstance(fhit_bin, int | np.integer):
            raise TypeError(f"fhit_bin must be an int, got {fhit_bin!r}")
        return cls.from_dir(
            path,
            hdu_index=f"hdu-index-table-{estimator}-{source}.fits.gz",
            obs_index=f"obs-index-table-{estimator}-{source}.fits.gz",
            hdu_index_hdu=int(fhit_bin),
        )

    # ------------------------------------------------------------------ tables
    @property
    def hdu_table(self) -> Table:
        """The HDU index table."""
        return self._hdu_index.table

    @property
    def hdu_index(self) -> HDUIndex:
        """The HDU index with resolved file locations."""
        return self._hdu_index

    @property
    def obs_table(self) -> ObservationTable:
        """The observation index table."""
        return self._obs_table

    @property
    def obs_ids(self) -> list[int]:
        """Observation ids of the observation table, in its order."""
        return self._obs_table.obs_ids.tolist()

    # ------------------------------------------------------------------ selection
    def select(
        self,
        obs_ids: Sequence[int] | None = None,
        cone: tuple[SkyCoord, u.Quantity] | None = None,
        time_range: tuple[Time, Time] | None = None,
        partial_overlap: bool = False,
        **column_ranges,
    ) -> DataStore:
        """Select observations: a new data store with those that pass every selection.

        Parameters
        ----------
        obs_ids : sequence of int, optional
            Keep these observations (in this order).
        cone : (SkyCoord, Quantity), optional
            Keep observations pointed within ``radius`` of ``center``.
        time_range : (Time, Time), optional
            Keep observations inside the range (or overlapping it, ``partial_overlap``).
        **column_ranges
            ``column=(min, max)`` with ``min <= value < max`` (or equality if equal), e.g.
            ``zen_pnt=(0, 40) * u.deg`` or ``livetime=(1000, 2000) * u.s``; column names
            are case-insensitive.

        Returns
        -------
        DataStore
            Store restricted to the selected observations.
        """
        table = self._obs_table
        if obs_ids is not None:
            table = table.select_obs_ids(obs_ids)
        if cone is not None:
            center, radius = cone
            table = table.select_cone(center, radius)
        if time_range is not None:
            table = table.select_time_range(time_range, partial_overlap=partial_overlap)
        for column, value_range in column_ranges.items():
            table = table.select_range(column, value_range)
        return DataStore(self._hdu_index.select_obs_ids(table.obs_ids), table)

    # ------------------------------------------------------------------ observations
    def obs(
        self,
        obs_id: int,
        required_irf: str | Sequence[str] = "full-enclosure",
        require_events: bool = True,
    ) -> Observation:
        """One observation, with every component read lazily on first access.

        Parameters
        ----------
        obs_id : int
            Observation id (must be in the HDU index).
        required_irf : str or sequence of str
            IRFs expected for this observation: ``"full-enclosure"`` (aeff, edisp, psf,
            bkg), ``"point-like"`` (aeff, edisp), ``"all-optional"`` or a list of names.
            A missing expected IRF gives a :class:`MissingHDUWarning`; the observation
            still loads, with that component None.
        require_events : bool
            Raise if the index lists no events or GTI for the observation.

        Returns
        -------
        Observation
            The observation (nothing is read yet; files are checked to exist).
        """
        obs_id = int(obs_id)
        expected = _expected_irfs(required_irf)
        if obs_id not in self._hdu_index.obs_ids:
            raise KeyError(f"observation {obs_id} is not in the HDU index {self._hdu_index.path!r}")
        components = {}
        missing = []
        for hdu_type in HDU_TYPES:
            location = self._hdu_index.location(obs_id, hdu_type)
            if location is None:
                if hdu_type in ("events", "gti") and require_events:
                    raise GammaprobError(
                        f"observation {obs_id}: the HDU index {self._hdu_index.path!r} lists no "
                        f"{hdu_type!r} HDU (pass require_events=False to load it anyway)"
                    )
                if hdu_type in expected:
                    missing.append(hdu_type)
                continue
            location.check_file()
            components[hdu_type] = location
        if missing:
            warnings.warn(
                f"observation {obs_id}: no {', '.join(map(repr, missing))} HDU in the HDU "
                f"index {self._hdu_index.path!r}; the observation loads with "
                f"{', '.join(f'obs.{m}' for m in missing)} = None",
                MissingHDUWarning,
                stacklevel=2,
            )
        return Observation(obs_id, **components)

    def get_observations(
        self,
        obs_ids: Sequence[int] | None = None,
        required_irf: str | Sequence[str] = "full-enclosure",
        require_events: bool = True,
        skip_missing: bool = False,
    ) -> Observations:
        """Observations for ``obs_ids`` (default: all of the observation table).

        Parameters
        ----------
        obs_ids : sequence of int, optional
            Which observations, in this order.
        required_irf, require_events
            See :meth:`obs`.
        skip_missing : bool
            Skip, with a :class:`MissingHDUWarning`, ids that are not in the HDU index and
            observations whose files are missing, instead of raising.
        """
        ids = self.obs_ids if obs_ids is None else [int(i) for i in np.atleast_1d(obs_ids)]
        result = []
        for obs_id in ids:
            try:
                obs = self.obs(obs_id, required_irf=required_irf, require_events=require_events)
            except (KeyError, DataNotFoundError) as exc:
                if not skip_missing:
                    raise
                warnings.warn(
                    f"skipping observation {obs_id}: {exc}", MissingHDUWarning, stacklevel=2
                )
                continue
            result.append(obs)
        return Observations(result)

    def get_observation_groups(self, column: str, **kwargs) -> dict[str, Observations]:
        """Observations grouped by the values of an observation-table column.

        Parameters
        ----------
        column : str
            Column to group by (e.g. ``"EVENT_TYPE"``).
        **kwargs
            Passed to :meth:`get_observations`.

        Returns
        -------
        dict of str to Observations
            One entry per distinct value (as text).
        """
        name = self._obs_table._column_name(column)
        values = np.asarray(self._obs_table[name])
        ids = self._obs_table.obs_ids
        groups = {}
        for value in dict.fromkeys(values.tolist()):
            members = ids[values == value].tolist()
            groups[str(value).strip()] = self.get_observations(members, **kwargs)
        return groups

    def __repr__(self) -> str:
        return (
            f"DataStore({len(self._obs_table)} observations, {len(self._hdu_index)} HDUs, "
            f"base_dir={str(self._hdu_index.base_dir)!r})"
        )


def _check_index_hdu(path: Path, hdu: int | str) -> None:
    """Raise naming the file and its tables when ``hdu`` is not a table of the index file."""
    from astropy.io import fits

    with fits.open(path) as hdulist:
        tables = [i for i, h in enumerate(hdulist) if isinstance(h, fits.BinTableHDU)]
        names = [hdulist[i].name for i in tables]
        found = hdu.upper() in names if isinstance(hdu, str) else int(hdu) in tables
    if not found:
        raise DataNotFoundError(
            f"HDU index {str(path)!r} has no table {hdu!r}; its tables are HDUs {tables}"
            + (f" named {names}" if any(names) else "")
        )


def _expected_irfs(required_irf) -> tuple[str, ...]:
    if isinstance(required_irf, str):
        if required_irf not in REQUIRED_IRF:
            raise ValueError(
                f"required_irf must be one of {list(REQUIRED_IRF)} or a list of IRF names, "
                f"got {required_irf!r}"
            )
        return REQUIRED_IRF[required_irf]
    names = tuple(required_irf)
    unknown = set(names) - set(IRF_TYPES)
    if unknown:
        raise ValueError(f"unknown IRF names in required_irf: {sorted(unknown)}")
    return names
