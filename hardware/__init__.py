"""Courtroom audio devices: discovery, multi-channel capture, seat map, level meters."""
