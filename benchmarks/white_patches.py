"""White patches against the painting's palette: share of near-white pixels and colour distance to the painting.

    python benchmarks/white_patches.py ../shared/data/styles/composition_vii.jpg MODEL [MODEL ...] [--images 20]

Each model stylises the first ``--images`` BSD100 photos (held out from training) at 512 px on the long side.
Printed per model: the share of near-white pixels (all channels > 0.94; ``style_metrics.near_white_share``)
beside the painting's own share, and the sliced Wasserstein distance of the output colours to the
painting's (``losses.palette_loss``). A network whose outputs are far whiter than its painting paints white
it did not learn from the painting. Last, the blobs' mechanism: the instance-norm spike penalty
(``norm_spikes.spike_penalty``, mean over photos) and the largest |z| any instance norm saw (median over photos).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from percept.train.checkpoint import load_model
from percept.train.losses import palette_directions, palette_loss, sorted_palette
from percept.train.norm_spikes import SpikeMonitor, largest_spike, spike_penalty
from percept.train.style_metrics import near_white_share

SHARED = Path(__file__).resolve().parents[2] / "shared"


def load(path: Path, long_side: int = 512) -> torch.Tensor:
    im = Image.open(path).convert("RGB")
    im.thumbnail((long_side, long_side), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    return x[..., : x.shape[-2] // 4 * 4, : x.shape[-1] // 4 * 4]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("painting", type=Path)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--images", type=int, default=20)
    args = ap.parse_args()
    painting = load(args.painting)
    dirs = palette_directions()
    palette = sorted_palette(painting, dirs)
    photos = sorted((SHARED / "data" / "sr_bench" / "BSD100" / "HR").glob("*.png"))[: args.images]
    xs = [load(p) for p in photos]
    print(f"# {args.painting.name}: near-white share {100 * near_white_share(painting):.2f} %; "
          f"{len(xs)} BSD100 photos at 512 px")
    print("| model | near-white pixels (%) | colour distance to the painting | spike penalty | largest |z| |")
    print("|---|---|---|---|---|")
    for path in args.models:
        net, _ = load_model(path)
        net.eval()
        white, dist, spikes, peaks = [], [], [], []
        with torch.no_grad():
            for x in xs:
                with SpikeMonitor(net) as monitor:
                    y = net(x)
                white.append(near_white_share(y))
                dist.append(float(palette_loss(y, palette, dirs)))
                spikes.append(float(spike_penalty(monitor.inputs)))
                peaks.append(largest_spike(monitor.inputs))
        print(f"| {path} | {100 * np.mean(white):.2f} | {np.mean(dist):.4f} | {np.mean(spikes):.5f} | "
              f"{np.median(peaks):.1f} |", flush=True)


if __name__ == "__main__":
    main()
