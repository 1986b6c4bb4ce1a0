"""Training side of percept: networks, the VGG-16 loss network, losses, data, trainers, metrics."""

from percept.core.version import __version__

__all__ = ["__version__"]
