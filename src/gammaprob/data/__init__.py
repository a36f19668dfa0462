"""GADF DL3 data: data stores, observations, event lists, GTIs and pointing.

Names are imported on first use (:func:`gammaprob.utils.lazy.lazy_exports`).
"""

from gammaprob.utils.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "._time": ("TimeRef",),
        ".data_store": ("DataStore", "MissingHDUWarning"),
        ".events": ("EventList",),
        ".gti": ("GTI",),
        ".hdu_index": ("HDUIndex", "HDULocation"),
        ".meta": ("ObservationMeta",),
        ".obs_table": ("ObservationTable",),
        ".observation": ("Observation", "Observations"),
        ".pointing": ("FixedPointing", "PointingTable"),
        ".store_io": ("write_data_store",),
    },
)

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
    "write_data_store",
]
