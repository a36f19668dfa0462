"""Counting statistics in numpy: Cash, C-stat, WStat, Li & Ma significance, excess."""

from .counts_statistics import cash_significance, excess, excess_error, li_ma_significance
from .fit_statistics import (
    TRUNCATION_VALUE,
    cash,
    cstat,
    get_wstat_gof_terms,
    get_wstat_mu_bkg,
    wstat,
)

__all__ = [
    "TRUNCATION_VALUE",
    "cash",
    "cash_significance",
    "cstat",
    "excess",
    "excess_error",
    "get_wstat_gof_terms",
    "get_wstat_mu_bkg",
    "li_ma_significance",
    "wstat",
]
