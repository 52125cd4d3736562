"""The cloud aggregator: ingests gateway batches into the city twin and serves it over HTTP.

    decode.py      request body -> typed Batch (gzip with a size cap, schema errors named)
    auth.py        bearer token -> the one gateway it may send for
    twin.py        pure rules of the twin: entity ids, types, units
    fleet.py       pure gateway health: ONLINE / STALE / OFFLINE from heartbeat age
    city.py        pure: the simulator's city file -> entities to seed
    geo.py         pure: bounding boxes and distances for bbox and near queries
    history.py     pure: window summaries merged exactly per step, gaps marked as gaps
    incidents.py   pure: alerts grouped per entity and cause, and the incident lifecycle
    store/         storage behind one interface; SQLite with one writer thread
    routers/       one FastAPI router per resource; deps.py their dependencies
    models.py      the public response models
    app.py         the app factory; cli.py the ``citytwin cloud`` commands; settings.py

A batch flows decode -> auth -> store (one transaction: records, merged windows, latest
values, incidents); queries read the store directly.
"""
