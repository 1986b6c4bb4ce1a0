"""The paper's feed-forward networks: the style transformation net and the ×4/×8 super-resolution net.

Tensor contract, shared by every network here and by everything that runs them:
  input  — float32 (or autocast) RGB, NCHW, values in [0, 1];
  output — RGB, NCHW, values in [0, 1]; style nets keep H×W, SR nets return (scale·H)×(scale·W).
Size rule: ``net.size_rule`` is the multiple H and W must be padded to and ``net.min_size`` the smallest
H/W the reflection padding accepts (see ``percept.train.sizing``).
Each network also reports ``kind``, ``scale`` and ``config()`` so a checkpoint can rebuild it.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from percept.train.reparam import RepConv3x3

Norm = Literal["instance", "batch", "none"]
StyleUpsample = Literal["resize-conv", "transposed"]
SRUpsample = Literal["pixel-shuffle", "resize-conv", "transposed"]


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r} (instance, batch or none)")


class ConvLayer(nn.Sequential):
    """Reflection-padded convolution: no zero borders, so no dark frame around outputs."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride))


class ConvNormReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, norm: str):
        super().__init__(ConvLayer(cin, cout, kernel, stride), _norm(norm, cout), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """Two 3×3 convs with an identity shortcut (Gross & Wilber's design, as in the paper's supplement)."""

    def __init__(self, channels: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3), _norm(norm, channels), nn.ReLU(inplace=True),
            ConvLayer(channels, channels, 3), _norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upsample2x(nn.Sequential):
    """One ×2 upsampling stage followed by norm and ReLU.

    ``resize-conv`` (nearest ×2 then 3×3 conv) avoids the checkerboard of ``transposed`` (the paper's
    fractionally-strided conv); ``pixel-shuffle`` is the sub-pixel convolution of Shi et al.
    """

    def __init__(self, cin: int, cout: int, mode: str, norm: str):
        if mode == "resize-conv":
            layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(cin, cout, 3)]
        elif mode == "transposed":
            layers = [nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1)]
        elif mode == "pixel-shuffle":
            layers = [ConvLayer(cin, cout * 4, 3), nn.PixelShuffle(2)]
        else:
            raise ValueError(f"unknown upsample {mode!r}")
        super().__init__(*layers, _norm(norm, cout), nn.ReLU(inplace=True))


StyleOutput = Literal["tanh", "wide-tanh"]
EXPOSURE_GAIN = 1.0  # a new net starts by shifting its output by the photo's mean colour minus mid-grey
STYLE_OUTPUTS = ("tanh", "wide-tanh")


def to_image_range(x: torch.Tensor) -> torch.Tensor:
    """Scaled tanh into [0, 1]: smooth, so gradients never die at the range limits as with a clamp."""
    return 0.5 * (torch.tanh(x) + 1.0)


def to_wide_range(x: torch.Tensor) -> torch.Tensor:
    """tanh onto [-0.1, 1.1], as the 2016 reference code does (150·tanh + 127.5 on 0..255).

    With ``to_image_range`` pure white or black is reached only as tanh saturates, where its gradient
    vanishes: a region pushed there stays there (bright blobs in skies). Here the range limits are met
    at a finite pre-activation with a live gradient; the caller clamps to [0, 1] for output.
    """
    return 0.5 + 0.6 * torch.tanh(x)


class ImageMean(nn.Module):
    """Each channel's mean over the whole picture. A module of its own so that the tiles of a large picture
    share the whole picture's value, as they share its instance-norm statistics (``percept.engines.norm_stats``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True)


class TransformNet(nn.Module):
    """Image transformation network for one style (Johnson et al. 2016, supplementary Table 1)."""

    kind = "style"
    scale = 1
    size_rule = 4  # two stride-2 convolutions
    min_size = 8  # the 9×9 reflection pad needs > 4 pixels

    def __init__(self, norm: Norm = "instance", upsample: StyleUpsample = "resize-conv", output: StyleOutput = "tanh",
                 exposure_path: bool = False):
        super().__init__()
        if upsample not in ("resize-conv", "transposed"):
            raise ValueError(f"unknown upsample {upsample!r} (resize-conv or transposed)")
        if output not in STYLE_OUTPUTS:
            raise ValueError(f"unknown output {output!r} ({', '.join(STYLE_OUTPUTS)})")
        self.norm, self.upsample, self.output = norm, upsample, output
        self.encoder = nn.Sequential(
            ConvNormReLU(3, 32, 9, 1, norm),
            ConvNormReLU(32, 64, 3, 2, norm),
            ConvNormReLU(64, 128, 3, 2, norm),
        )
        self.residuals = nn.Sequential(*[ResidualBlock(128, norm) for _ in range(5)])
        self.decoder = nn.Sequential(
            Upsample2x(128, 64, upsample, norm),
            Upsample2x(64, 32, upsample, norm),
            ConvLayer(32, 3, 9),
        )
        # Instance norm after the first convolution discards the photo's overall brightness and colour cast:
        # without this path a night photo comes out as bright as a noon one. The photo's mean colour, through a
        # 3×3 colour map, shifts the output before its activation. Only the mean: a per-pixel path lets the
        # photo show through the painting. It starts as EXPOSURE_GAIN·(mean − ½), so a new net keeps dark photos
        # dark from the first step (a warm start from a net without it adds it so too).
        self.photo_mean = ImageMean() if exposure_path else None
        self.exposure = nn.Conv2d(3, 3, 1) if exposure_path else None
        if self.exposure is not None:
            with torch.no_grad():
                self.exposure.weight.copy_(torch.eye(3).view(3, 3, 1, 1) * EXPOSURE_GAIN)
                self.exposure.bias.fill_(-EXPOSURE_GAIN / 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.decoder(self.residuals(self.encoder(x)))
        if self.exposure is not None:
            y = y + self.exposure(self.photo_mean(x))
        if self.output == "tanh":
            return to_image_range(y)
        y = to_wide_range(y)
        return y if self.training else y.clamp(0.0, 1.0)

    def config(self) -> dict[str, Any]:
        config = {"arch": "TransformNet", "norm": self.norm, "upsample": self.upsample}
        if self.output != "tanh":  # files from before this option rebuild as they were trained
            config["output"] = self.output
        if self.exposure is not None:
            config["exposure_path"] = True
        return config


class SRNet(nn.Module):
    """Super-resolution network for ×4 / ×8 (Johnson et al. 2016, supplementary Table 2).

    ``global_skip`` adds the bicubic upsampling of the input to the output so the net learns only the
    missing detail; it trains much faster than predicting the whole image (the paper predicts the whole
    image: set ``global_skip=False`` for the paper's exact network). In eval mode the output is clamped
    to [0, 1]; in training it is left free so the loss keeps its gradient at the range limits.
    """

    kind = "sr"
    size_rule = 1  # stride-1 convolutions only: any input size works
    min_size = 5  # the 9×9 reflection pad needs > 4 pixels

    def __init__(self, scale: int = 4, upsample: SRUpsample = "pixel-shuffle", norm: Norm = "none",
                 channels: int = 64, blocks: int = 4, global_skip: bool = True):
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"SRNet scale must be 2, 4 or 8, not {scale}")
        self.scale, self.upsample, self.norm = scale, upsample, norm
        self.channels, self.blocks, self.global_skip = channels, blocks, global_skip
        self.head = ConvNormReLU(3, channels, 9, 1, norm)
        self.residuals = nn.Sequential(*[ResidualBlock(channels, norm) for _ in range(blocks)])
        stages = int(math.log2(scale))
        self.upsampler = nn.Sequential(*[Upsample2x(channels, channels, upsample, norm) for _ in range(stages)])
        self.tail = ConvLayer(channels, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tail(self.upsampler(self.residuals(self.head(x))))
        if self.global_skip:
            y = y + F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        else:
            y = to_image_range(y)
        return y if self.training else y.clamp(0.0, 1.0)

    def config(self) -> dict[str, Any]:
        return {"arch": "SRNet", "scale": self.scale, "upsample": self.upsample, "norm": self.norm,
                "channels": self.channels, "blocks": self.blocks, "global_skip": self.global_skip}


def icnr_(weight: torch.Tensor, scale: int, init=nn.init.kaiming_normal_) -> torch.Tensor:
    """ICNR (Aitken et al. 2017): initialise a conv feeding ``PixelShuffle(scale)`` so that all ``scale²``
    sub-pixels of an output pixel start with the same filter. The shuffled output then starts as a
    nearest-neighbour upsampling of a smooth map, with no checkerboard for training to unlearn."""
    out_ch, in_ch, kh, kw = weight.shape
    sub = torch.empty(out_ch // scale**2, in_ch, kh, kw)
    init(sub)
    with torch.no_grad():
        weight.copy_(sub.repeat_interleave(scale**2, dim=0))
    return weight


class SubPixelSR(nn.Module):
    """Super-resolution at low resolution (ESPCN, Shi et al. 2016; the shape of Real-ESRGAN's compact net).

    Every convolution runs on the input grid: a 3×3 head, ``convs`` 3×3 convolutions with PReLU, and one
    3×3 convolution to 3·scale² channels that a single pixel shuffle turns into pixels (ICNR-initialised).
    The result is added to the bicubic upsampling of the input, so the net learns only the missing detail.
    At 48 channels and 6 convolutions that is ~0.29 MFLOP per input pixel at ×4, ~9× less than ``SRNet``.
    In eval mode the output is clamped to [0, 1].
    """

    kind = "sr"
    size_rule = 1
    min_size = 2  # 3×3 reflection padding needs 2 pixels

    def __init__(self, scale: int = 4, channels: int = 48, convs: int = 6, branches: bool = False):
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"SubPixelSR scale must be 2, 4 or 8, not {scale}")
        if channels < 1 or convs < 0:
            raise ValueError("SubPixelSR needs channels >= 1 and convs >= 0")
        self.scale, self.channels, self.convs, self.branches = scale, channels, convs, bool(branches)
        conv3x3 = RepConv3x3 if branches else (lambda cin, cout: ConvLayer(cin, cout, 3))
        layers: list[nn.Module] = [conv3x3(3, channels), nn.PReLU(channels)]
        for _ in range(convs):
            layers += [conv3x3(channels, channels), nn.PReLU(channels)]
        self.body = nn.Sequential(*layers)
        self.to_pixels = ConvLayer(channels, 3 * scale * scale, 3)
        self.shuffle = nn.PixelShuffle(scale)
        for m in self.body.modules():  # He init keeps the signal's size through the PReLU stack
            if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
                nn.init.kaiming_normal_(m.weight, a=0.25, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)
        conv = self.to_pixels[1]
        icnr_(conv.weight, scale, init=lambda w: nn.init.normal_(w, std=1e-4))
        nn.init.zeros_(conv.bias)

    def plain(self) -> SubPixelSR:
        """The same function as one network of plain 3×3 convolutions (what is saved and run)."""
        if not self.branches:
            return self
        net = SubPixelSR(self.scale, self.channels, self.convs).to(self.to_pixels[1].weight.device)
        state = {}
        with torch.no_grad():
            for name, module in self.named_children():
                if name != "body":
                    state.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
            for i, layer in enumerate(self.body):
                if isinstance(layer, RepConv3x3):
                    state[f"body.{i}.1.weight"], state[f"body.{i}.1.bias"] = layer.fold()
                else:
                    state.update({f"body.{i}.{k}": v for k, v in layer.state_dict().items()})
        net.load_state_dict(state)
        return net.train(self.training)

    def load_plain(self, plain: SubPixelSR) -> None:
        """Take a plain network's weights: each 3×3 branch gets its convolution, the other branches zero."""
        if not self.branches:
            self.load_state_dict(plain.state_dict())
            return
        theirs = plain.state_dict()
        with torch.no_grad():
            for name, module in self.named_children():
                if name != "body":
                    module.load_state_dict({k[len(name) + 1:]: v for k, v in theirs.items()
                                            if k.startswith(name + ".")})
            for i, layer in enumerate(self.body):
                if isinstance(layer, RepConv3x3):
                    layer.conv.weight.copy_(theirs[f"body.{i}.1.weight"])
                    layer.conv.bias.copy_(theirs[f"body.{i}.1.bias"])
                else:
                    layer.weight.copy_(theirs[f"body.{i}.weight"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.shuffle(self.to_pixels(self.body(x)))
        y = y + F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return y if self.training else y.clamp(0.0, 1.0)

    def config(self) -> dict[str, Any]:
        config = {"arch": "SubPixelSR", "scale": self.scale, "channels": self.channels, "convs": self.convs}
        if self.branches:  # only training checkpoints: saved models are plain
            config["branches"] = True
        return config


ARCHITECTURES: dict[str, type[nn.Module]] = {"TransformNet": TransformNet, "SRNet": SRNet, "SubPixelSR": SubPixelSR}


def build_network(config: dict[str, Any]) -> nn.Module:
    """Rebuild a network from its ``config()`` — the single place an architecture name is resolved."""
    options = dict(config)
    arch = options.pop("arch", None)
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    try:
        return ARCHITECTURES[arch](**options)
    except TypeError as exc:
        raise ValueError(f"bad options for {arch}: {exc}") from None
