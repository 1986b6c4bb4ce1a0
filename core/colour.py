"""Colour constants shared by every layer."""

LUMA = (0.299, 0.587, 0.114)  # BT.601 luma weights of R, G, B (JPEG's Y, the colour-preserving blend's)
