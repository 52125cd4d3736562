"""The sensor simulator: a fleet of simulated city sensors publishing like real firmware.

fleet.py        which sensors exist: ids, kinds, positions, quirks (pure, from a seed)
signals.py      what each metric reads at a time: daily cycles and AR(1) noise (pure)
transports/     how readings leave the process: one module per protocol (``mqtt``)
runner.py       the process: one asyncio task per sensor on one simulated clock
settings.py     the one settings model, from options and CITYTWIN_SIM_* variables
cli.py          ``citytwin sim``: a thin shell over the above
"""
