"""The optimisation baseline (Gatys et al.): L-BFGS on the image pixels, starting from the content image.

It minimises exactly the objective the feed-forward networks are trained on (``style_task.objective``),
so its value after N iterations is the paper's yardstick (Figure 5) for a network's output.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from percept.train.losses import gram_matrix
from percept.train.style_task import StyleOptions, objective
from percept.train.vgg import VGGLoss


def style_targets(vgg: VGGLoss, style: torch.Tensor, layers) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return {k: gram_matrix(v) for k, v in vgg(style, layers).items()}


def evaluate(vgg: VGGLoss, image: torch.Tensor, content: torch.Tensor, targets: dict[str, torch.Tensor],
             opts: StyleOptions) -> dict[str, float]:
    """The weighted objective terms and their total for one stylised image (no gradients)."""
    with torch.no_grad():
        terms = objective(vgg, image, content, targets, opts)
    out = {k: float(v) for k, v in terms.items()}
    out["total"] = sum(out.values())
    return out


def optimize_style(vgg: VGGLoss, content: torch.Tensor, style: torch.Tensor, opts: StyleOptions, iterations: int,
                   on_iteration: Callable[[int, float], None] | None = None,
                   on_image: Callable[[int, torch.Tensor], None] | None = None) -> tuple[torch.Tensor, list[float]]:
    """Run ``iterations`` L-BFGS iterations from ``content``; returns the image and the objective after each.

    ``on_image(i, image)`` sees the (detached) image after iteration ``i``, e.g. to keep snapshots.

    Pixels are kept in [0, 1] by clamping after every iteration, as the networks' outputs are.
    """
    targets = style_targets(vgg, style, opts.style_layers)
    image = content.detach().clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image], lr=1.0, max_iter=1, history_size=50, line_search_fn="strong_wolfe")
    history: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        total = sum(objective(vgg, image, content, targets, opts).values())
        total.backward()
        if image.grad is not None and not image.grad.is_contiguous():
            # L-BFGS flattens grads with view(); some CPU kernels return channels_last grads
            image.grad = image.grad.contiguous()
        return total

    for i in range(iterations):
        optimizer.step(closure)
        with torch.no_grad():
            image.clamp_(0, 1)
        value = evaluate(vgg, image, content, targets, opts)["total"]
        history.append(value)
        if on_iteration:
            on_iteration(i + 1, value)
        if on_image:
            on_image(i + 1, image.detach())
    return image.detach(), history
