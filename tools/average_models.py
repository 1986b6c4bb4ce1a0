"""Average the weights of two models of the same layers: (1 − w) · A + w · B, into a new model file.

Why: a fine-tuned network and the one it started from usually lie in one basin, so points between them are
good networks too, and trade the two models' strengths smoothly (Wortsman et al. 2022, "Robust fine-tuning
of zero-shot models", WiSE-FT). sr-x4-real is 0.3 × its real-damage stage + 0.7 × its photo-damage stage:
nearly all of the photo stage's gain on JPEG input, while clean input stays within a dB of sr-x4-pixel.

    python tools/average_models.py A.safetensors B.safetensors --weight 0.7 --out OUT.safetensors [--half]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from percept.train.checkpoint import describe, load_model, save_model


def average(a: Path, b: Path, weight: float, out: Path, half: bool = False, description: str | None = None) -> Path:
    """Write (1 − ``weight``) · ``a`` + ``weight`` · ``b``; the result keeps ``b``'s name, training record (the
    average noted in it) and, unless ``description`` is given, description."""
    net_a, info_a = load_model(a)
    net_b, info_b = load_model(b)
    if info_a.config != info_b.config:
        raise SystemExit(f"{a} and {b} have different layers: {info_a.config} against {info_b.config}")
    sa, sb = net_a.state_dict(), net_b.state_dict()
    net_b.load_state_dict({k: (1 - weight) * sa[k] + weight * sb[k] if sb[k].is_floating_point() else sb[k]
                           for k in sb})
    part_a, part_b = (f"{path.parent.name}/{path.name} ({info.training.get('degradation', '?')})"
                      for path, info in ((a, info_a), (b, info_b)))
    training = {**info_b.training, "weight_average": f"{1 - weight:g} × {part_a} + {weight:g} × {part_b}"}
    info = describe(net_b, info_b.name, description or info_b.description, training=training)
    return save_model(out, net_b, info, half=half)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--weight", type=float, required=True, help="B's share, 0..1")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--half", action="store_true", help="store float16 weights (as the zoo does)")
    p.add_argument("--description", help="the model's one-line description (default: B's)")
    args = p.parse_args()
    if not 0 <= args.weight <= 1:
        raise SystemExit("--weight must be between 0 and 1")
    print(f"wrote {average(args.a, args.b, args.weight, args.out, args.half, args.description)}")


if __name__ == "__main__":
    main()
