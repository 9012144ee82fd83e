"""Self-balancing classification of BM units (PRODUCT.md section 5).

Over a window of settlement dates (ending on, and including, the partition's date), from the
canonical run of each date, per BM unit (supplier units 2__ and C__ excluded):

    DEV    = QM - FPN - QBS          metered minus notified minus accepted (BP7 8 - BP7 4 - BP7 5)
    A_self = sum |FPN|               energy the unit scheduled itself
    A_so   = sum |QBS|               energy the system operator moved it by
    A_dev  = sum |DEV|               energy it delivered off both
    A_tot  = A_self + A_so + A_dev
    so_share = A_so / A_tot,  dev_share = A_dev / A_tot

Rules, in this order, first match wins: inactive (A_tot below the minimum activity), so_directed,
self_dispatched, imbalance_exposed, else mixed. QBS is BP7 5, the Period BM Unit Balancing Services
Volume, not the applicable volume of BP7 15.

`classify` is the readable statement of the rule; the warehouse runs the same rule as SQL
(warehouse/sql.py builds it from the same Thresholds), and the tests hold the two to each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass

CLASSES = ("so_directed", "self_dispatched", "imbalance_exposed", "mixed", "inactive")


@dataclass(frozen=True)
class Thresholds:
    window_days: int = 30
    min_activity_mwh: float = 1.0
    so_directed_min_share: float = 0.5
    self_dispatched_max_so_share: float = 0.1
    self_dispatched_max_dev_share: float = 0.2
    imbalance_exposed_min_dev_share: float = 0.2

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, not {self.window_days}")
        if self.min_activity_mwh < 0:
            raise ValueError(f"min_activity_mwh must be >= 0, not {self.min_activity_mwh}")
        for name in ("so_directed_min_share", "self_dispatched_max_so_share", "self_dispatched_max_dev_share",
                     "imbalance_exposed_min_dev_share"):  # fmt: skip
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} is a share: it must be within 0..1, not {value}")

    def as_dict(self) -> dict:
        return asdict(self)


def classify(a_self: float, a_so: float, a_dev: float, t: Thresholds = Thresholds()) -> str:
    a_tot = a_self + a_so + a_dev
    if a_tot < t.min_activity_mwh or a_tot == 0:
        return "inactive"
    so_share, dev_share = a_so / a_tot, a_dev / a_tot
    if so_share >= t.so_directed_min_share:
        return "so_directed"
    if so_share <= t.self_dispatched_max_so_share and dev_share <= t.self_dispatched_max_dev_share:
        return "self_dispatched"
    if dev_share > t.imbalance_exposed_min_dev_share:
        return "imbalance_exposed"
    return "mixed"


def market_structure(units: Iterable[tuple[str, float]]) -> list[dict]:
    """Shares of each class weighted by MWh (A_tot), never by counting rows. `units` holds
    (class, A_tot) per unit. Every class is listed, in CLASSES order."""
    mwh = dict.fromkeys(CLASSES, 0.0)
    count = dict.fromkeys(CLASSES, 0)
    for cls, a_tot in units:
        mwh[cls] += float(a_tot or 0)  # a share, not money: the warehouse's exact MWh as a float
        count[cls] += 1
    total = sum(mwh.values())
    return [{"class": c, "mwh": mwh[c], "share": (mwh[c] / total if total else 0.0), "units": count[c]} for c in CLASSES]


def window_label(window_days: int, days_with_data: int, last: dt.date) -> str:
    """How a market structure's window is named: the days that had data, out of the window when
    fewer (a 30-day window over a week of data is a week, not "30 days")."""
    if days_with_data >= window_days:
        return f"{window_days} days to {last}"
    return f"{days_with_data} of {window_days} days with data, to {last}"
