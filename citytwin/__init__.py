"""citytwin: the command line and the demo that ties edge, cloud and simulator together."""

__version__ = "0.1.0"
