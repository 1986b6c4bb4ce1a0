"""percept's command line: commands, the batch processor, image I/O, tiling, and the model zoo."""

from percept.core.version import __version__

__all__ = ["__version__"]
