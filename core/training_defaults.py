"""The style objective's defaults that the command line's help shows, apart from ``percept.train`` (torch), so
``percept --help`` and ``percept train-style --help`` answer without importing torch."""

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
STYLE_WEIGHT_HELP = ("1.5 kept the content recognisable in the measured runs; the shipped paintings use 0.8 "
                     "to 8.0, each card names its weight (docs/STYLES.md).")
SPIKE_Z = 6.0  # |z| a 64²-pixel Gaussian map exceeds with probability ~1e-5: beyond it is a spike, not texture
