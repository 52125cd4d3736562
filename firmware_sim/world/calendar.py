"""The time axis of a dataset and the daily and weekly rhythms of a city, as numpy arrays.

Local time is UTC plus the city's fixed offset (no daylight saving: one hour of drift in
summer matters less than reproducible weekdays). Every shape is scaled to about 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

DAY_S = 86_400.0
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; Monday is 0


@dataclass(frozen=True, slots=True)
class Period:
    """Sample times: ``samples`` of them, ``step_s`` apart, from epoch time ``start``."""

    start: float
    step_s: float
    samples: int

    def times(self) -> Floats:
        """Epoch seconds of every sample."""
        return self.start + np.arange(self.samples, dtype=np.float64) * self.step_s

    @property
    def step_h(self) -> float:
        """The step in hours."""
        return self.step_s / 3600.0


def local_hours(times: Floats, utc_offset_h: float) -> Floats:
    """Hour of the local day, 0 to 24, of each epoch time."""
    return ((times / 3600.0 + utc_offset_h) % 24.0).astype(np.float64)


def weekend(times: Floats, utc_offset_h: float) -> Bools:
    """True on local Saturdays and Sundays."""
    days = np.floor((times + utc_offset_h * 3600.0) / DAY_S).astype(np.int64)
    return np.asarray((days + _EPOCH_WEEKDAY) % 7 >= 5)


def bump(hours: Floats, centre: float, width: float) -> Floats:
    """A Gaussian bump of height 1 at ``centre`` o'clock, ``width`` hours wide."""
    return np.exp(-0.5 * ((hours - centre) / width) ** 2)


def office(hours: Floats) -> Floats:
    """A plateau from about 08:00 to 19:00."""
    rise = 1.0 / (1.0 + np.exp(-2.0 * (hours - 7.5)))
    fall = 1.0 / (1.0 + np.exp(-2.0 * (19.0 - hours)))
    return rise * fall


def daytime(hours: Floats) -> Floats:
    """Sun-driven: 0 at 03:00, 1 at 15:00."""
    return 0.5 * (1.0 + np.cos(2.0 * np.pi * (hours - 15.0) / 24.0))


def traffic_demand(hours: Floats, is_weekend: Bools) -> Floats:
    """Share of a road's capacity in use: rush hours at 08:00 and 17:30 on weekdays, a broad
    midday hump at weekends, quiet nights."""
    rush = np.maximum(bump(hours, 8.0, 1.1), 0.9 * bump(hours, 17.5, 1.4))
    weekday = 0.05 + 0.5 * office(hours) + 0.4 * rush
    saturday_sunday = 0.05 + 0.45 * bump(hours, 13.5, 3.5)
    return np.where(is_weekend, saturday_sunday, weekday)


def working(hours: Floats, is_weekend: Bools) -> Floats:
    """Offices and schools: busy on weekday working hours, nearly empty at weekends."""
    return np.where(is_weekend, 0.1 * office(hours), office(hours))


def shopping(hours: Floats, is_weekend: Bools) -> Floats:
    """Shops and leisure: from 10:00 to 21:00, busier at weekends."""
    shape = bump(hours, 15.0, 3.5)
    return np.where(is_weekend, np.minimum(1.0, 1.3 * shape), 0.8 * shape)


def home(hours: Floats) -> Floats:
    """Households: a morning peak and a larger evening one."""
    return 0.25 + 0.35 * bump(hours, 7.5, 1.2) + 0.6 * bump(hours, 20.5, 2.0)
