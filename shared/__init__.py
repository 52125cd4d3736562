"""The citytwin wire contract (v1) and sensor catalogue, shared by edge, cloud and simulator.

Everything here is pure: codecs turn bytes into typed values and back, with no I/O.
"""

PROTOCOL_VERSION = 1
