"""Is a feature-loss SR model sharper than the pixel-loss one? Detail, perceptual distance and PSNR, measured.

    python benchmarks/sr_sharpness.py MODEL [MODEL ...] [--set Set14] [--scale 4]

On the published bicubic LR files of a benchmark set, for bicubic (the baseline, same run) and each model:

- PSNR on Y (border = scale), the pixel criterion a pixel-loss model wins;
- detail: the RMS of the output's luma gradient over the ground truth's (1.0 = as much edge and texture
  contrast as the original; a blurred output is below 1, a noisy one can exceed it);
- relu2_2 / relu3_3: the mean squared distance of VGG-16 activations to the ground truth's, the paper's own
  perceptual criterion (lower is better), also as a ratio to bicubic;
- speckle: the RMS of the output's luma Laplacian (8-bit levels) where the ground truth is flat (its
  Laplacian's 9×9 mean below 0.01): the fine noise a feature loss sprinkles on skies and skin; the truth's
  own value is printed as the floor;
- grid: the RMS of the error's sub-pixel phase pattern in 8-bit levels (benchmarks/sr_grid_pattern.py),
  so a sharper model that buys its detail with a cross-hatch shows it.

"Visibly sharper" is judged in tools/sr_comparison.py's image; this table says by how much.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sr_grid_pattern import SHARED, grid_energy, tensor  # noqa: E402

from percept.train.checkpoint import load_model  # noqa: E402
from percept.train.evaluate_sr import bicubic_upscaler  # noqa: E402
from percept.train.losses import LUMA, laplacian  # noqa: E402
from percept.train.metrics import psnr, quantize_8bit  # noqa: E402
from percept.train.vgg import VGGLoss  # noqa: E402

LAYERS = ("relu2_2", "relu3_3")


def luma(x: torch.Tensor) -> torch.Tensor:
    return (x * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)


def gradient_rms(x: torch.Tensor) -> float:
    y = luma(x)
    gx, gy = y[..., :, 1:] - y[..., :, :-1], y[..., 1:, :] - y[..., :-1, :]
    return float(torch.cat([gx.flatten(), gy.flatten()]).pow(2).mean().sqrt())


def flat_mask(hr: torch.Tensor) -> torch.Tensor:
    """Where the truth is flat: its luma Laplacian's 9×9 mean magnitude below 0.01."""
    return torch.nn.functional.avg_pool2d(laplacian(luma(hr), padding=1).abs(), 9, stride=1, padding=4) < 0.01


def measure(upscale, pairs, flats, scale: int, vgg: VGGLoss) -> dict[str, float]:
    psnrs, detail, feats = [], [], {k: [] for k in LAYERS}
    flat_sq, flat_n = 0.0, 0
    for (lr, hr), flat in zip(pairs, flats):
        with torch.no_grad():
            sr = quantize_8bit(upscale(lr).clamp(0, 1))
            psnrs.append(float(psnr(sr, hr, crop_border=scale)))
            detail.append(gradient_rms(sr) / gradient_rms(hr))
            flat_sq += float(laplacian(luma(sr), padding=1)[flat].pow(2).sum())
            flat_n += int(flat.sum())
            f_sr, f_hr = vgg(sr, LAYERS), vgg(hr, LAYERS)
            for k in LAYERS:
                feats[k].append(float((f_sr[k] - f_hr[k]).pow(2).mean()))
    n = len(pairs)
    out = {"psnr": sum(psnrs) / n, "detail": sum(detail) / n, "grid": grid_energy(upscale, pairs, scale),
           "speckle": 255 * (flat_sq / max(flat_n, 1)) ** 0.5}
    out.update({k: sum(v) / n for k, v in feats.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--set", default="Set14")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--vgg-weights", default=os.environ.get("PERCEPT_VGG_WEIGHTS",
                                                            str(SHARED / "assets" / "vgg16_features.safetensors")))
    args = ap.parse_args()
    root = SHARED / "data" / "sr_bench" / args.set
    pairs = [(tensor(root / f"LR_bicubic_x{args.scale}" / p.name), tensor(p))
             for p in sorted((root / "HR").glob("*.png")) if (root / f"LR_bicubic_x{args.scale}" / p.name).is_file()]
    # the truth cropped to what an upscaler gives back (LR size × scale), and its flat areas, once for all models
    pairs = [(lr, hr[..., : lr.shape[-2] * args.scale, : lr.shape[-1] * args.scale]) for lr, hr in pairs]
    flats = [flat_mask(hr) for _, hr in pairs]
    vgg = VGGLoss(args.vgg_weights)
    truth_flat = torch.cat([laplacian(luma(hr), padding=1)[f] for (_, hr), f in zip(pairs, flats)])
    floor = truth_flat.pow(2).mean().sqrt() * 255
    print(f"# {args.set}: {len(pairs)} images, ×{args.scale}, published bicubic LR; ratios against bicubic; "
          f"the ground truth's own speckle: {float(floor):.2f} levels")
    print("| model | PSNR Y (dB) | detail (gradient RMS / truth's) | relu2_2 distance (× bicubic) "
          "| relu3_3 distance (× bicubic) | speckle (levels) | grid (levels) |")
    print("|---|---|---|---|---|---|---|")
    bicubic = bicubic_upscaler(args.scale)
    rows = [("bicubic", lambda x: bicubic(x[0])[None])]
    rows += [(str(p), load_model(p)[0].eval()) for p in args.models]
    base = None
    for name, up in rows:
        m = measure(up, pairs, flats, args.scale, vgg)
        base = base or m
        feats = " | ".join(f"{m[k]:.3f} ({m[k] / base[k]:.2f})" for k in LAYERS)
        print(f"| {name} | {m['psnr']:.2f} | {m['detail']:.3f} | {feats} | {m['speckle']:.2f} | {m['grid']:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
