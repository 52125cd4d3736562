"""Helpers the tests of several packages share: real servers and wire-format builders."""
