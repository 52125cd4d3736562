"""The sensor simulator: a generated city and a fleet of sensors that behave like real ones.

fleet.py        which sensors exist: ids, kinds, positions, quirks (pure, from a seed)
signals.py      each kind's metric models (levels, spreads, noise), shared by the world
city/           the generated city: layout, equipment, sensors placed on it, twin entities
world/          the dataset model: calendar, weather, shared fields, per-kind physics, noise
anomalies/      sensor faults and real-world events injected with ground-truth labels
dataset.py      a labelled dataset from a plan (pure); export.py writes it as CSV files
live.py         the world model for live runs, in blocks, at any simulated time
firmware.py     faulty firmware: numbers, stamps, encodes and mangles readings, counted (pure)
flood.py        flood mode: one connection, as fast as the broker takes it, measured
plots.py        a simulated week as one PNG per sensor kind
streams.py      the random stream tags that keep each kind of draw independent
transports/     how readings leave the process: ``mqtt`` (a sensor each), ``serial`` (a
                shared line or a pty pair), ``paho`` (one blocking connection, for floods)
runner.py       the process: one asyncio task per sensor on one simulated clock
settings.py     the one settings model, from options and CITYTWIN_SIM_* variables
cli.py          ``citytwin sim``: a thin shell over the above
"""
