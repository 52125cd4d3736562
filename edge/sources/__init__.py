"""Sensor transports. Each module owns one protocol's I/O and yields RawMessage batches."""
