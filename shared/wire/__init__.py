"""Codecs for the v1 wire formats, one module per transport."""
