"""The VGG weights' error, apart from ``percept.train.vgg`` (torch) so the command line can catch it without
importing torch."""


class VGGWeightsError(RuntimeError):
    """VGG-16 weights could not be found or read; the message says how to provide them."""
