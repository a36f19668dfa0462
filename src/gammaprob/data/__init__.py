"""GADF DL3 data: data stores, observations, event lists, GTIs and pointing."""

from ._time import TimeRef
from .data_store import DataStore, MissingHDUWarning
from .events import EventList
from .gti import GTI
from .hdu_index import HDUIndex, HDULocation
from .meta import ObservationMeta
from .obs_table import ObservationTable
from .observation import Observation, Observations
from .pointing import FixedPointing, PointingTable

__all__ = [
    "GTI",
    "DataStore",
    "EventList",
    "FixedPointing",
    "HDUIndex",
    "HDULocation",
    "MissingHDUWarning",
    "Observation",
    "ObservationMeta",
    "ObservationTable",
    "Observations",
    "PointingTable",
    "TimeRef",
]
