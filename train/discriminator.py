"""The discriminator of the perceptual upscalers' adversarial fine-tuning, and its step.

Real-ESRGAN's U-Net discriminator with spectral normalisation (``UNetDiscriminatorSN``), at a reduced width so
a CPU can train it: it judges every pixel (real or made up) with the context of a whole patch, which keeps a
generator from painting one texture everywhere; spectral normalisation keeps its gradients tame without the
tricks a plain discriminator needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm


class UNetDiscriminatorSN(nn.Module):
    """Per-pixel real/fake logits of an RGB image in [0, 1] (N×1×H×W); H and W multiples of 8."""

    def __init__(self, channels: int = 32):
        super().__init__()
        c = channels
        sn = spectral_norm
        self.conv0 = nn.Conv2d(3, c, 3, 1, 1)
        self.down1 = sn(nn.Conv2d(c, c * 2, 4, 2, 1, bias=False))
        self.down2 = sn(nn.Conv2d(c * 2, c * 4, 4, 2, 1, bias=False))
        self.down3 = sn(nn.Conv2d(c * 4, c * 8, 4, 2, 1, bias=False))
        self.up1 = sn(nn.Conv2d(c * 8, c * 4, 3, 1, 1, bias=False))
        self.up2 = sn(nn.Conv2d(c * 4, c * 2, 3, 1, 1, bias=False))
        self.up3 = sn(nn.Conv2d(c * 2, c, 3, 1, 1, bias=False))
        self.extra1 = sn(nn.Conv2d(c, c, 3, 1, 1, bias=False))
        self.extra2 = sn(nn.Conv2d(c, c, 3, 1, 1, bias=False))
        self.out = nn.Conv2d(c, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        x0 = act(self.conv0(x))
        x1 = act(self.down1(x0))
        x2 = act(self.down2(x1))
        x3 = act(self.down3(x2))
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        y = act(self.up1(up(x3))) + x2
        y = act(self.up2(up(y))) + x1
        y = act(self.up3(up(y))) + x0
        return self.out(act(self.extra2(act(self.extra1(y)))))


@dataclass
class AdversarialSettings:
    weight: float = 0.1  # Real-ESRGAN's 0.1 beside pixel 1 and perceptual 1
    channels: int = 32
    lr: float = 1e-4
    warmup: int = 0  # steps in which only the discriminator learns (the generator gets no adversarial term)


class Adversary:
    """The discriminator, its optimiser, and one step of each side (vanilla GAN loss on logits)."""

    def __init__(self, settings: AdversarialSettings, device: torch.device):
        self.s = settings
        self.net = UNetDiscriminatorSN(settings.channels).to(device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=settings.lr, betas=(0.9, 0.99))
        self.steps = 0

    def train_discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """One update of the discriminator on a real and a (detached) generated batch; returns its loss."""
        for p in self.net.parameters():
            p.requires_grad_(True)
        real_logits, fake_logits = self.net(real.float()), self.net(fake.detach().float())
        loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.steps += 1
        return loss.detach()

    def generator_term(self, fake: torch.Tensor) -> torch.Tensor:
        """The generator's weighted adversarial term (the discriminator frozen for it); zero in the warm-up, so
        the loss log keeps its columns."""
        if self.steps <= self.s.warmup:
            return fake.new_zeros(())
        for p in self.net.parameters():
            p.requires_grad_(False)
        logits = self.net(fake.float())
        return self.s.weight * F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.steps = int(state["steps"])
