"""Random stream tags: each kind of draw has its own stream, keyed by (seed, tag, ...).

Separate streams keep one part of the simulation from shifting another: adding a building
does not change the noise of a sensor, and raising an anomaly rate does not move the weather.
"""

from __future__ import annotations

from typing import Final

FLEET: Final = 0  # a sensor's quirks: position in the plain fleet, offset, phase
NOISE: Final = 1  # the live signal noise, per sensor and sample
LAYOUT: Final = 2  # districts, roads, water, beaches, buildings
PLACEMENT: Final = 3  # where each sensor of the city stands, per sensor
WEATHER: Final = 4  # the city's weather
FIELDS: Final = 5  # shared fields: district pollution, regional background
SENSOR_NOISE: Final = 6  # the dataset's noise, per sensor
FAULTS: Final = 7  # sensor faults, per sensor
EVENTS: Final = 8  # real-world events
FIRMWARE: Final = 9  # faulty firmware: mangled payloads, per sensor
LIVE: Final = 10  # the seed of each block of a live run's world
DRILLS: Final = 11  # which sensor, metric and sign each drill of a live run takes
