"""Clearway: an open-source smart customs clearance platform."""

__version__ = "0.1.0"
