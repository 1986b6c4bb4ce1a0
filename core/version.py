"""The one place percept's version is written; model files record it."""

__version__ = "0.1.0"
