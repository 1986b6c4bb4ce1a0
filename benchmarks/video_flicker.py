"""Flicker of stylised video with and without ``--temporal`` (statistics smoothed over frames).

A steady clip is made from a photo: a slow pan (one pixel every few frames) plus sensor-like noise, then
H.264-encoded as a camera would. Each mode stylises it through ``percept stylize``; flicker is
mean |Δ output| between consecutive frames over mean |Δ input|, on the frames without motion (1: the
output changes as much as the input; lower is steadier), and how much of the pan's change each mode
keeps (below 1: lag). Printed as a table with ratios to per-frame processing.

    python benchmarks/video_flicker.py --style wave --frames 48 --size 384x256
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared"


def make_clip(path: Path, photo: Path, frames: int, size: tuple[int, int], noise: float, seed: int = 0,
              crf: int = 0, moving: bool = False, pan: bool = True) -> None:
    w, h = size
    rng = np.random.default_rng(seed)
    img = np.asarray(Image.open(photo).convert("RGB").resize((w + frames // 4 + 8, h), Image.LANCZOS), np.float32)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": str(crf)}  # 0: lossless, so the noise survives (x264 at 18 smooths most of it away)
        for i in range(frames):
            x = i // 4 if pan else 0
            frame = img[:, x:x + w] + rng.normal(0, noise, (h, w, 3))
            if moving:  # a dark card crossing the left third: changes the frame's statistics, not the rest
                y0 = int(i * (h - h // 3) / max(1, frames - 1))
                frame[y0:y0 + h // 3, : w // 4] = 20.0
            f = av.VideoFrame.from_ndarray(np.clip(frame, 0, 255).astype(np.uint8), format="rgb24")
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


def frames_of(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24").astype(np.float32) for f in c.decode(video=0)])


def pan_steps(frames: int) -> np.ndarray:
    """Which consecutive-frame transitions carry the pan (one pixel every fourth frame)."""
    return np.array([(i + 1) % 4 == 0 for i in range(frames - 1)])


def changes(frames: np.ndarray) -> np.ndarray:
    return np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))


def run_modes(inferencer, clip: Path, tmp: Path) -> list[tuple[str, np.ndarray, float]]:
    """(mode, frames, frames/s) for each way of running a clip."""
    from percept.pipeline.video import BLEND_STRENGTH, VideoProcessor

    rows = []
    modes = [("per-frame", False, 0.0), ("stats", True, 0.0), ("blend", False, BLEND_STRENGTH),
             ("temporal", True, BLEND_STRENGTH)]  # per-frame = --per-frame; temporal = --temporal (the default)
    for mode, stats, blend in modes:
        processor = VideoProcessor(inferencer, temporal=True, blend=blend)
        processor.temporal = stats
        out = tmp / f"{clip.stem}-{mode}.mp4"
        t0 = time.perf_counter()
        result = processor.run(clip, out, settings=f"{clip.stem}-{mode}")
        rows.append((mode, frames_of(out), result.frames / (time.perf_counter() - t0)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", default="wave")
    ap.add_argument("--photo", type=Path, default=SHARED / "data" / "content" / "tubingen.jpg")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--size", default="384x256")
    ap.add_argument("--noise", type=float, default=2.0, help="sensor noise, in 8-bit levels (σ)")
    ap.add_argument("--backend", default="auto")
    args = ap.parse_args()
    w, h = size = tuple(int(v) for v in args.size.split("x"))
    from percept.core.zoo import resolve_model
    from percept.engines.select import open_runtime
    from percept.pipeline.inference import Inferencer

    runtime = open_runtime(resolve_model(args.style, kind="style"), backend=args.backend, device="cpu")
    inferencer = Inferencer(runtime, kind="style")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pan_clip, card_clip = tmp / "pan.mp4", tmp / "card.mp4"
        make_clip(pan_clip, args.photo, args.frames, size, args.noise)
        make_clip(card_clip, args.photo, args.frames, size, args.noise, moving=True, pan=False)
        pan_rows, card_rows = run_modes(inferencer, pan_clip, tmp), run_modes(inferencer, card_clip, tmp)
        pan = pan_steps(args.frames)
        d_in = changes(frames_of(pan_clip))
        card_in = changes(frames_of(card_clip)[:, :, w // 2:]).mean()
    print(f"{args.frames} frames {w}×{h}, noise σ {args.noise}; style {args.style}, {runtime.name} "
          f"{runtime.precision}")
    print("A: steady clip panning 1 px every 4 frames. static flicker = mean |Δ output| / mean |Δ input| between")
    print("   frames without motion (lower: steadier); motion kept = |Δ output| on pan steps vs per-frame (1: no lag)")
    print("B: static photo, a dark card moving down its left quarter. background change = the same ratio on the")
    print("   right half, which the card never enters (instance-norm statistics follow the card)")
    print(f"{'mode':<10} {'A static flicker':>17} {'vs per-frame':>13} {'A motion kept':>14} "
          f"{'B background':>13} {'vs per-frame':>13} {'frames/s':>9}")
    base_a = pan_rows[0][1]
    base_a_static = changes(base_a)[~pan].mean() / d_in[~pan].mean()
    base_b = changes(card_rows[0][1][:, :, w // 2:]).mean() / card_in
    for (mode, a, fps), (_, b, fps_b) in zip(pan_rows, card_rows):
        da = changes(a)
        static = da[~pan].mean() / d_in[~pan].mean()
        kept = da[pan].mean() / changes(base_a)[pan].mean()
        bg = changes(b[:, :, w // 2:]).mean() / card_in
        print(f"{mode:<10} {static:>17.3f} {static / base_a_static:>12.2f}x {kept:>14.2f} {bg:>13.3f} "
              f"{bg / base_b:>12.2f}x {(fps + fps_b) / 2:>9.2f}")


if __name__ == "__main__":
    main()
