"""DL3 loading speed: open the H.E.S.S. DR1 data store and load all 105 observations.

gammaprob and gammapy read the same files in the same process, one after the other:

- ``open_datastore``: read the HDU and observation index tables;
- ``load_105_obs_events_gti``: build every observation and read its events and GTI;
- ``load_N_obs_with_irfs``: the same plus the four IRFs (aeff, edisp, psf, bkg), for the
  N observations whose IRFs gammaprob reads (105 unless ``gammaprob.irf`` rejects a file).

Before timing, the event counts and GTI totals of both libraries are checked to agree.
Run: ``GAMMAPY_DATA=... python benchmarks/bench_datastore.py`` ->
``benchmarks/results/datastore.json``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
from _common import best_time, write_results

IRFS = ("aeff", "edisp", "psf", "bkg")


def _import_gammapy_data():
    import gammapy.data

    return gammapy.data


def _load(store, irfs: bool, obs_ids=None) -> list[int]:
    counts = []
    for obs in store.get_observations(obs_ids):
        counts.append(len(obs.events.table))
        _ = obs.gti
        if irfs:
            for name in IRFS:
                getattr(obs, name)
    return counts


def _irf_loadable(store) -> list[int]:
    """Observations whose four IRFs gammaprob reads (all 105 once gammaprob.irf accepts them)."""
    from gammaprob.utils.errors import FormatError

    ok = []
    for obs in store.get_observations():
        try:
            for name in IRFS:
                getattr(obs, name)
        except FormatError as exc:
            print(f"skipping {obs.obs_id} in the IRF timing: {exc}")
            continue
        ok.append(obs.obs_id)
    return ok


def main() -> None:
    path = Path(os.environ["GAMMAPY_DATA"]) / "hess-dl3-dr1"
    gp = _import_gammapy_data()
    from gammaprob.data import DataStore

    ours, theirs = DataStore.from_dir(path), gp.DataStore.from_dir(path)
    # same content before timing: event counts and GTI totals of every observation
    n_ours = [len(o.events) for o in ours.get_observations()]
    n_theirs = [len(o.events.table) for o in theirs.get_observations()]
    assert n_ours == n_theirs and len(n_ours) == 105, "event counts differ"
    gti_ours = np.array([o.gti.time_sum.to_value(u.s) for o in ours.get_observations()])
    gti_theirs = np.array([o.gti.time_sum.to_value(u.s) for o in theirs.get_observations()])
    np.testing.assert_allclose(gti_ours, gti_theirs, rtol=1e-12)

    irf_ids = _irf_loadable(ours)
    metrics = {}
    cases = {
        "open_datastore": (
            lambda: DataStore.from_dir(path),
            lambda: gp.DataStore.from_dir(path),
            5,
        ),
        "load_105_obs_events_gti": (
            lambda: _load(DataStore.from_dir(path), irfs=False),
            lambda: _load(gp.DataStore.from_dir(path), irfs=False),
            2,
        ),
        f"load_{len(irf_ids)}_obs_with_irfs": (
            lambda: _load(DataStore.from_dir(path), irfs=True, obs_ids=irf_ids),
            lambda: _load(gp.DataStore.from_dir(path), irfs=True, obs_ids=irf_ids),
            2,
        ),
    }
    for label, (mine, ref, repeat) in cases.items():
        t_ours = best_time(mine, repeat=repeat, min_time=0.0)
        t_theirs = best_time(ref, repeat=repeat, min_time=0.0)
        metrics[label] = {
            "gammaprob": t_ours,
            "gammapy": t_theirs,
            "ratio": t_theirs / t_ours,
            "unit": "s",
        }
    write_results(
        "datastore",
        metrics,
        extra={
            "note": "ratio = gammapy / gammaprob (> 1: gammaprob faster); same process, same files",
            "irf_obs_ids": irf_ids,
        },
        packages=("gammapy", "astropy", "regions"),
    )


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main()
