"""The cloud aggregator: ingests gateway batches into the city twin and serves it over HTTP.

    decode.py      request body -> typed Batch (gzip with a size cap, schema errors named)
    auth.py        bearer token -> the one gateway it may send for
    twin.py        pure rules of the twin: entity ids, types, units
    fleet.py       pure gateway health: ONLINE / STALE / OFFLINE from heartbeat age
    store/         storage behind one interface; SQLite with one writer thread
    routers/       one FastAPI router per resource; deps.py their dependencies
    models.py      the public response models
    app.py         the app factory; cli.py the ``citytwin cloud`` commands; settings.py

A batch flows decode -> auth -> store (one transaction); queries read the store directly.
"""
