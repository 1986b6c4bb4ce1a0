"""What the pipeline needs to know about a model to tile and batch it, derived from its header in one place
(cf. spandrel's ``ModelDescriptor``): the tiler asks these traits, never an architecture's name."""

from __future__ import annotations

from dataclasses import dataclass

from percept.core.model_header import ModelInfo

# Peak activation memory per input pixel at batch 1 (measured on CPU, fp32): TransformNet ~1.2 KB; SRNet ~0.9 KB ×
# scale². Rounded up: the estimate picks tile sizes, and out-of-memory halves them anyway.
STYLE_BYTES_PER_PX = 1536
SR_BYTES_PER_PX = 1024
# Style nets see ~55 px around each pixel: an overlap of twice that hides tile borders completely.
DEFAULT_OVERLAP = {"style": 128, "sr": 16}


@dataclass(frozen=True)
class ModelTraits:
    kind: str  # "style" or "sr"
    scale: int
    size_rule: int  # H and W must be multiples of it
    min_size: int
    instance_norms: bool  # a tile's output depends on the whole picture's statistics (shared when tiled)
    working_bytes_per_px: int  # peak working memory per input pixel at batch 1, fp32
    overlap: int  # the tile overlap that hides seams

    @classmethod
    def of(cls, info: ModelInfo | None, kind: str, scale: int, size_rule: int = 1, min_size: int = 1) -> ModelTraits:
        """Traits from a model's header; ``info`` None (an unknown model) assumes the worst."""
        config = info.config if info is not None else None
        norms = config is None or config.get("norm", "instance") == "instance"
        overlap = (config or {}).get("tile_overlap") or DEFAULT_OVERLAP[kind]
        return cls(kind, scale, size_rule, min_size, kind == "style" and norms,
                   working_bytes_per_px(kind, scale, config), int(overlap))


def working_bytes_per_px(kind: str, scale: int, config: dict | None) -> int:
    """Peak working memory per *input* pixel (batch 1, fp32) of a model, from its architecture.

    Networks that compute at the input resolution (SubPixelSR) need their channels there and only the
    pixel-shuffled output at ``scale²``; the paper's SRNet keeps its channels at the output resolution.
    Unknown architectures get the conservative SRNet/TransformNet figures."""
    if kind == "style":
        return STYLE_BYTES_PER_PX
    if config and config.get("arch") == "SubPixelSR":
        channels = int(config.get("channels", 48))
        # three feature maps alive at once, the 3·s² pre-shuffle map, the output and the bicubic skip; ×4 for
        # the runtime's own buffers (×4: at ×1 OpenVINO bf16 peaked 3 GB over a 48 MP output, at ×2 still 2.2 GB)
        return 4 * (3 * channels * 4 + 3 * (3 * scale * scale * 4))
    return SR_BYTES_PER_PX * scale * scale
