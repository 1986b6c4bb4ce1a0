"""Small generated images and untrained tiny-cost models for the batch-processor tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth, photo-like uint8 RGB image (gradients + blobs + a little noise), not white noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.28)
        img[..., c] = 0.5 + 0.35 * np.sin(fx * 6.28 * x / w + ph) * np.cos(fy * 6.28 * y / h)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.1, 0.3) * max(h, w)
        img += (rng.uniform(-0.3, 0.3, 3) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))[..., None])
    img += rng.normal(0, 0.02, img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def save_style_model(path: Path, name: str = "Test Style", seed: int = 0) -> Path:
    import torch

    from percept.train.checkpoint import describe, save_model
    from percept.train.networks import TransformNet

    torch.manual_seed(seed)
    net = TransformNet()
    return save_model(path, net, describe(net, name))


def save_sr_model(path: Path, scale: int = 4, bicubic: bool = False, seed: int = 0) -> Path:
    """An untrained SRNet; ``bicubic`` zeroes its last conv so the output is exactly the bicubic upsampling
    (the global skip): a model whose output colours are known, for fidelity checks."""
    import torch

    from percept.train.checkpoint import describe, save_model
    from percept.train.networks import SRNet

    torch.manual_seed(seed)
    net = SRNet(scale=scale, channels=8, blocks=1)
    if bicubic:
        with torch.no_grad():
            net.tail[1].weight.zero_()
            net.tail[1].bias.zero_()
    return save_model(path, net, describe(net, f"sr-x{scale}"))


def no_partial_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".part")]


def listing(folder: Path) -> list[str]:
    """The names a user sees in an output folder (the hidden record of settings is not an output)."""
    return sorted(p.name for p in Path(folder).iterdir() if not p.name.startswith("."))


def visible(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if not p.name.startswith("."))


def make_clip(path: Path, frames: int = 24, fps: int = 24, size: tuple[int, int] = (64, 48), audio: bool = True,
              noise: float = 0.0, seed: int = 0, rotation: float = 0.0) -> Path:
    """An H.264 MP4 of a drifting photo-like picture (plus sensor-like noise), with a 440 Hz AAC track."""
    import av

    w, h = size
    rng = np.random.default_rng(seed)
    base = photo(h, w + frames, seed).astype(np.float32)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"crf": "0" if noise else "18"}  # lossless where the noise must survive
        if rotation:
            v.set_display_rotation(rotation)  # as a phone held upright records
        a = out.add_stream("aac", rate=48000) if audio else None
        for i in range(frames):
            x = 0 if noise else i  # noisy clips stand still; others drift a pixel per frame
            img = base[:, x:x + w] + (rng.normal(0, noise, (h, w, 3)) if noise else 0)
            f = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="rgb24")
            f.pts = i
            for p in v.encode(f):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        if a is not None:
            n, rate = a.codec_context.frame_size or 1024, 48000
            t = np.arange(int(rate * frames / fps)) / rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for k, s in enumerate(range(0, len(tone) - n + 1, n)):
                fr = av.AudioFrame.from_ndarray(np.stack([tone[s:s + n]] * 2), format="fltp", layout="stereo")
                fr.sample_rate, fr.pts = rate, k * n
                for p in a.encode(fr):
                    out.mux(p)
            for p in a.encode():
                out.mux(p)
    return path


def clip_facts(path: Path) -> dict:
    """What a user checks of a clip: frames, rate, size, and its audio."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(v)]
    with av.open(str(path)) as c:
        audio = [(s.codec_context.name, float(s.duration * s.time_base) if s.duration else 0.0)
                 for s in c.streams.audio]
        v = c.streams.video[0]
        rotation = float(next(c.decode(v)).rotation or 0.0)
        return {"frames": len(frames), "rate": v.average_rate, "rotation": rotation,
                "size": (v.codec_context.width, v.codec_context.height),
                "audio": audio, "pixels": np.stack(frames)}
