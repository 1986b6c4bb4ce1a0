"""Write a percept model file from a training checkpoint, to ship a run's state before its last step.

    python tools/checkpoint_to_model.py runs/wave-cpu/checkpoint.pt core/zoo/wave.safetensors \
        --name wave --description "..." [--style-image ../shared/data/styles/wave.jpg] [--half]

The checkpoint's own settings become the file's training record (with ``final_step``), so the model card
tool reads them as from a finished run. Loading uses ``weights_only`` (nothing is unpickled).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from percept.train.checkpoint import describe, save_model
from percept.train.networks import build_network


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--name", required=True)
    ap.add_argument("--description", default="")
    ap.add_argument("--style-image", type=Path)
    ap.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    args = ap.parse_args()
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    net = build_network(state["model_config"])
    net.load_state_dict(state["model"])
    training = {**state.get("settings", {}), **state.get("task", {}), "final_step": int(state["step"]),
                "from_checkpoint": True}
    for key in ("run_dir", "out", "resume", "force", "log_every_s", "extra"):
        training.pop(key, None)
    style = args.style_image or (Path(training["style_image"]) if training.get("style_image") else None)
    info = describe(net.eval(), args.name, args.description, training=training, style_image=style)
    save_model(args.out, net, info, half=args.half)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) from step {state['step']}")


if __name__ == "__main__":
    main()
