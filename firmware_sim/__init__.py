"""The sensor simulator: a generated city and a fleet of sensors that behave like real ones.

fleet.py        which sensors exist: ids, kinds, positions, quirks (pure, from a seed)
signals.py      the live model: what a metric reads at a time, daily cycles and AR(1) noise
city/           the generated city: layout, equipment, sensors placed on it, twin entities
world/          the dataset model: calendar, weather, shared fields, per-kind physics, noise
anomalies/      sensor faults and real-world events injected with ground-truth labels
dataset.py      a labelled dataset from a plan (pure); export.py writes it as CSV files
streams.py      the random stream tags that keep each kind of draw independent
transports/     how readings leave the process: one module per protocol (``mqtt``)
runner.py       the process: one asyncio task per sensor on one simulated clock
settings.py     the one settings model, from options and CITYTWIN_SIM_* variables
cli.py          ``citytwin sim``: a thin shell over the above
"""
