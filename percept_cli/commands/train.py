"""``percept train-style`` and ``percept train-sr``: thin CLI over train.trainer with the paper's recipes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from percept.cli.errors import UserError
from percept.cli.zoo import resolve_model
from percept.train.style_defaults import SPIKE_Z, STYLE_LAYERS, STYLE_WEIGHT_HELP

if TYPE_CHECKING:
    from percept.train.trainer import TrainSettings


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "model"


def _run(task_factory, settings: TrainSettings) -> None:
    from percept.train.data import DataError
    from percept.train.trainer import Trainer, TrainingError

    try:
        task = task_factory()
        if task.o.skipped:
            typer.echo(f"skipped {len(task.o.skipped)} unreadable or non-image file(s) in the data folder, e.g. "
                       f"{task.o.skipped[0][0]}: {task.o.skipped[0][1]}", err=True)
        result = Trainer(task, settings).run()
    except (DataError, TrainingError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if result.stopped == "interrupted":
        typer.echo(f"interrupted at step {result.step}; checkpoint saved in {settings.run_dir} "
                   "(continue with the same command and --resume)", err=True)
        raise typer.Exit(130)
    typer.echo(f"model written to {result.model_path} (step {result.step}, {result.seconds:.0f}s); "
               f"loss plot and previews in {settings.run_dir}")


def resolve_style_model(name_or_path: Path) -> Path:
    """``--init``: a style model file or a shipped style's name."""
    return resolve_model(name_or_path, kind="style")


def _settings(name: str, out: Path | None, run_dir: Path | None, **kw) -> TrainSettings:
    from percept.train.trainer import TrainSettings

    run_dir = run_dir or Path("runs") / name
    return TrainSettings(run_dir=run_dir, out=out or run_dir / f"{name}.safetensors", **kw)


# ``--preset quick``: a new painting in half an hour on a laptop CPU. A warm start from the shipped style that
# already scores best on the new painting (it reconstructs photos; only the style is left to learn), the
# paper's 256² crops, the painting at the objective's 512 px, a learning-rate warm-up and a cosine schedule
# run against the clock, the flat-region anchor against flipped skies, and the instance-norm spike penalty
# against the blobs a warm start would otherwise carry over from its parent (docs/research/training-log.md has
# the measurements).
PRESETS: dict[str, dict[str, object]] = {
    "quick": {"init": "auto", "image_size": 256, "batch_size": 4, "iterations": 2000, "time_limit": "28m",
              "lr": 1e-3, "lr_schedule": "cosine", "style_weight": 2.0, "anchor_weight": 300.0,
              "spike_weight": 1e4, "checkpoint_every": 50, "preview_every": 100, "half": True},
}


def parse_duration(text: str) -> float:
    """``30m``, ``1.5h``, ``90s`` or plain seconds; ``0`` for no limit."""
    units = {"s": 1, "m": 60, "h": 3600}
    t = text.strip().lower()
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except (ValueError, IndexError):
        value = -1.0
    if not value >= 0:
        raise UserError(f"--time-limit {text!r}: expected a duration such as 30m, 1.5h or 900s (0: none)")
    return value


def apply_preset(ctx: typer.Context, preset: str | None, values: dict[str, object]) -> dict[str, object]:
    """The preset's settings for every option the user did not give on the command line."""
    if preset is None:
        return values
    if preset not in PRESETS:
        raise UserError(f"--preset {preset!r}: choose {', '.join(PRESETS)}")
    chosen = dict(values)
    for key, value in PRESETS[preset].items():
        source = ctx.get_parameter_source(key)  # by name: typer may bring its own copy of click's enum
        if source is None or source.name == "DEFAULT":
            chosen[key] = value
    return chosen


def shipped_styles() -> dict[str, Path]:
    from percept.cli.zoo import list_models

    return {m.name: m.path for m in list_models() if m.info.kind == "style"}


def train_style(
    ctx: typer.Context,
    style_image: Path = typer.Argument(..., help="The painting whose style to learn."),
    preset: str = typer.Option(None, "--preset", help="quick: a new painting in ~30 min on a laptop CPU (warm "
                               "start, 256² crops, schedule against the clock); options you give still win."),
    time_limit: str = typer.Option("0", "--time-limit", help="Stop and save the model after this much training "
                                   "(e.g. 30m, 2h); the cosine schedule then follows the clock. 0: no limit."),
    data: str = typer.Option(None, "--data", help="Folder of training photos (recursive); or $PERCEPT_TRAIN_DATA."),
    out: Path = typer.Option(None, "--out", help="Model file to write (default: RUN_DIR/NAME.safetensors)."),
    name: str = typer.Option(None, "--name", help="Model name (default: the style image's stem in lower case "
                             "with hyphens, e.g. my-painting)."),
    run_dir: Path = typer.Option(None, "--run-dir",
                                 help="Checkpoints, CSV log, loss plot, previews (default: runs/NAME)."),
    image_size: int = typer.Option(256, "--image-size", help="Training crop size (square)."),
    crops: str = typer.Option("random", "--crops",
                              help="random (a new crop and flip per epoch, at the photo's scale) | center"),
    init: str = typer.Option(None, "--init", help="Warm start from a trained style network: a file, a shipped "
                             "style's name, auto (the shipped style that already scores best on the painting) or none. "
                             "It already reconstructs photos, so training is shorter."),
    batch_size: int = typer.Option(4, "--batch-size"),
    iterations: int = typer.Option(40000, "--iterations"),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate."),
    lr_schedule: str = typer.Option("constant", "--lr-schedule", help="constant | cosine (down to lr/10)."),
    lr_warmup: int = typer.Option(None, "--lr-warmup", min=0, show_default=False,
                                  help="Steps of linear learning-rate warm-up (default: 50 with --init, whose "
                                  "trained weights full-size first Adam steps would scramble; else 0)."),
    style_size: int = typer.Option(512, "--style-size", help="Long side of the style image (0 keeps it)."),
    content_weight: float = typer.Option(1.0, "--content-weight"),
    style_weight: float = typer.Option(1.5, "--style-weight", help=STYLE_WEIGHT_HELP),
    tv_weight: float = typer.Option(1e-5, "--tv-weight"),
    anchor_weight: float = typer.Option(0.0, "--anchor-weight", help="Penalty on flipping the brightness of "
                                        "flat areas (blobs in skies); 0 is the paper's objective."),
    anchor_color: bool = typer.Option(False, "--anchor-color", help="Anchor each colour channel of flat areas, "
                                      "not only brightness: against hue blobs (cyan patches on white)."),
    palette_weight: float = typer.Option(0.0, "--palette-weight", help="Match the painting's colour distribution "
                                         "(sliced Wasserstein), against patches in colours it never uses; 0 is "
                                         "the paper's objective."),
    spike_weight: float = typer.Option(0.0, "--spike-weight", help="Penalty on instance-norm spikes (|z| > "
                                       "--spike-z), the mechanism of the blobs (docs/STYLES.md); 0 is the "
                                       "paper's objective."),
    spike_z: float = typer.Option(SPIKE_Z, "--spike-z", min=1.0, help="The |z| an instance-norm input may reach "
                                  "free of the spike penalty; higher leaves room for sparse strokes."),
    style_tiles: int = typer.Option(1, "--style-tiles", min=1, max=4, help="Match the painting's Gram matrices "
                                    "in each region of an N×N grid, not only over the whole picture, so flat "
                                    "areas take its texture instead of blobs; 1 is the paper's objective."),
    content_layer: str = typer.Option("relu2_2", "--content-layer"),
    style_layers: str = typer.Option(",".join(STYLE_LAYERS), "--style-layers", help="Comma-separated VGG layers."),
    norm: str = typer.Option("instance", "--norm",
                             help="instance | batch | none (docs/research/training-log.md compares them)"),
    upsample: str = typer.Option("resize-conv", "--upsample", help="resize-conv | transposed"),
    output: str = typer.Option("tanh", "--output-activation",
                               help="tanh (the paper's scaled tanh) | wide-tanh (reaches 0 and 1, gradient alive)"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda:N"),
    amp: str = typer.Option("auto", "--amp", help="auto | bf16 | fp16 | off"),
    workers: int = typer.Option(-1, "--workers", help="Data loader worker processes (-1: auto)."),
    checkpoint_every: int = typer.Option(1000, "--checkpoint-every"),
    preview_every: int = typer.Option(500, "--preview-every"),
    resume: bool = typer.Option(False, "--resume", help="Continue from RUN_DIR/checkpoint.pt."),
    force: bool = typer.Option(False, "--force", help="Start over, replacing an earlier run in RUN_DIR."),
    half: bool = typer.Option(False, "--half", help="Store the model in float16 (half the size)."),
    vgg_weights: str = typer.Option(None, "--vgg-weights", help="VGG-16 weights file (else $PERCEPT_VGG_WEIGHTS)."),
) -> None:
    """Train a real-time style network from one painting (the paper's recipe by default)."""
    p = apply_preset(ctx, preset, {
        "init": init, "image_size": image_size, "batch_size": batch_size, "iterations": iterations,
        "time_limit": time_limit, "lr": lr, "lr_schedule": lr_schedule, "style_weight": style_weight,
        "anchor_weight": anchor_weight, "spike_weight": spike_weight, "checkpoint_every": checkpoint_every,
        "preview_every": preview_every, "half": half})
    init, image_size, batch_size, iterations = p["init"], p["image_size"], p["batch_size"], p["iterations"]
    lr, lr_schedule, style_weight, anchor_weight = p["lr"], p["lr_schedule"], p["style_weight"], p["anchor_weight"]
    spike_weight = p["spike_weight"]
    checkpoint_every, preview_every, half = p["checkpoint_every"], p["preview_every"], p["half"]
    limit_s = parse_duration(str(p["time_limit"]))
    if spike_weight and norm != "instance":
        raise UserError(f"--spike-weight penalises instance-norm spikes: it needs --norm instance, not {norm}")
    name = name or _slug(style_image.stem)
    layers = tuple(x.strip() for x in style_layers.split(",") if x.strip())

    def task():
        from percept.train.data import resolve_data_dir
        from percept.train.style_task import StyleOptions, StyleTask, closest_init

        opts = StyleOptions(style_image=style_image, data=resolve_data_dir(data), name=name, image_size=image_size,
                            style_size=style_size or None, content_weight=content_weight, style_weight=style_weight,
                            tv_weight=tv_weight, anchor_weight=anchor_weight, anchor_color=anchor_color,
                            style_tiles=style_tiles,
                            palette_weight=palette_weight, spike_weight=spike_weight, spike_z=spike_z,
                            content_layer=content_layer,
                            style_layers=layers, norm=norm,
                            upsample=upsample, output=output, vgg_weights=vgg_weights, crops=crops)
        if init == "auto" and not resume:
            candidates = shipped_styles()
            chosen, scores = closest_init(opts, candidates)
            ranked = ", ".join(f"{k} {v:.2f}" for k, v in sorted(scores.items(), key=lambda kv: kv[1]))
            typer.echo(f"--init auto: warm start from {chosen} (objective on the new painting: {ranked})", err=True)
            opts.init = candidates[chosen]
        elif init and init not in ("auto", "none"):
            opts.init = resolve_style_model(Path(init))
        return StyleTask(opts)

    if crops not in ("random", "center"):
        raise UserError(f"--crops {crops!r}: choose random or center")
    _run(task, _settings(name, out, run_dir, iterations=iterations, batch_size=batch_size, lr=lr, seed=seed,
                         lr_schedule=lr_schedule, force=force, time_limit_s=limit_s,
                         lr_warmup=(50 if init and init != "none" else 0) if lr_warmup is None else lr_warmup,
                         device=device, amp=amp, workers=workers, checkpoint_every=checkpoint_every,
                         preview_every=preview_every, resume=resume, half=half,
                         log_every_s=10.0 if sys.stderr.isatty() else 30.0))


def train_sr(
    scale: int = typer.Option(4, "--scale", help="2, 4 or 8."),
    arch: str = typer.Option("subpixel", "--arch", help="subpixel (every conv at low resolution, fast) | paper "
                             "(the paper's net: ×2 stages and a 9×9 tail at full resolution)"),
    channels: int = typer.Option(0, "--channels", help="Feature channels (default: subpixel 48, paper 64)."),
    convs: int = typer.Option(6, "--convs", help="subpixel: 3×3 convolutions in the body."),
    data: str = typer.Option(None, "--data", help="Folder of training photos (recursive); or $PERCEPT_TRAIN_DATA."),
    loss: str = typer.Option("feature", "--loss", help="feature | pixel | feature+pixel"),
    out: Path = typer.Option(None, "--out", help="Model file to write (default: RUN_DIR/NAME.safetensors)."),
    name: str = typer.Option(None, "--name", help="Model name (default: my-sr-xSCALE-LOSS)."),
    run_dir: Path = typer.Option(None, "--run-dir",
                                 help="Checkpoints, CSV log, loss plot, previews (default: runs/NAME)."),
    patch: int = typer.Option(288, "--patch", help="HR training patch size (random crops)."),
    sigma: float = typer.Option(1.0, "--sigma", help="Gaussian blur before bicubic downsampling."),
    degradation: str = typer.Option("paper", "--degradation",
                                    help="paper (blur + bicubic) | bicubic (MATLAB imresize, as the benchmarks) | "
                                         "real (blur, resize, noise and JPEG in two rounds, as real photos)"),
    batch_size: int = typer.Option(4, "--batch-size"),
    iterations: int = typer.Option(200000, "--iterations"),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate."),
    lr_schedule: str = typer.Option("constant", "--lr-schedule", help="constant | cosine (down to lr/10)."),
    feature_layer: str = typer.Option("relu2_2", "--feature-layer"),
    feature_weight: float = typer.Option(1.0, "--feature-weight"),
    grid_weight: float = typer.Option(0.0, "--grid-weight", help="Penalty on the error's pattern locked to the "
                                      "pixel shuffle's sub-pixel grid (the cross-hatch of feature-loss models); "
                                      "1e4 in the shipped sr-x4-feature."),
    grid_window: int = typer.Option(4, "--grid-window", min=0, help="Blocks the grid penalty averages over, in "
                                    "LR pixels; 0: the whole patch (a hatch repeats everywhere, an edge's error "
                                    "does not, so only the hatch is priced)."),
    speckle_weight: float = typer.Option(0.0, "--speckle-weight", help="Penalty on fine detail beyond twice "
                                         "the ground truth's, per neighbourhood: the speckle a feature loss "
                                         "sprinkles on flat areas (edges and texture the truth has cost nothing)."),
    blur_weight: float = typer.Option(0.0, "--blur-weight", help="Penalty on fine detail the output lacks "
                                      "where the ground truth has it (below half its local energy), anywhere in "
                                      "an 8-px neighbourhood: sharper texture than pixel MSE allows."),
    feature_jitter: int = typer.Option(0, "--feature-jitter", min=0, help="Shift the feature loss's VGG input by "
                                       "a random 0..N px each step, so no cross-hatch locks to VGG's pooling grid."),
    pixel_weight: float = typer.Option(1.0, "--pixel-weight"),
    tv_weight: float = typer.Option(0.0, "--tv-weight"),
    upsample: str = typer.Option("pixel-shuffle", "--upsample",
                                 help="paper arch: pixel-shuffle | resize-conv | transposed"),
    global_skip: bool = typer.Option(True, "--global-skip/--no-global-skip",
                                     help="Predict the residual over bicubic (off: the paper's exact net)."),
    init: str = typer.Option(None, "--init", help="Warm start from a trained SR network of the same layers: a "
                             "file or a shipped name (e.g. a feature-loss model from the pixel-loss one)."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda:N"),
    amp: str = typer.Option("auto", "--amp", help="auto | bf16 | fp16 | off"),
    workers: int = typer.Option(-1, "--workers", help="Data loader worker processes (-1: auto)."),
    checkpoint_every: int = typer.Option(1000, "--checkpoint-every"),
    preview_every: int = typer.Option(500, "--preview-every"),
    resume: bool = typer.Option(False, "--resume", help="Continue from RUN_DIR/checkpoint.pt."),
    force: bool = typer.Option(False, "--force", help="Start over, replacing an earlier run in RUN_DIR."),
    half: bool = typer.Option(False, "--half", help="Store the model in float16 (half the size)."),
    vgg_weights: str = typer.Option(None, "--vgg-weights", help="VGG-16 weights file (else $PERCEPT_VGG_WEIGHTS)."),
) -> None:
    """Train a ×2/×4/×8 super-resolution network with perceptual (feature) or pixel loss."""
    # "my-" keeps a user's model from being named like a shipped one (sr-x4-feature).
    name = name or f"my-sr-x{scale}-{loss.replace('+', '-')}"

    def task():
        from percept.train.data import resolve_data_dir
        from percept.train.sr_task import SROptions, SRTask

        opts = SROptions(data=resolve_data_dir(data), name=name, scale=scale, loss=loss, patch=patch, sigma=sigma,
                         degradation=degradation, arch=arch, channels=channels or None, convs=convs,
                         feature_layer=feature_layer, feature_weight=feature_weight,
                         feature_jitter=feature_jitter, grid_weight=grid_weight, grid_window=grid_window,
                         speckle_weight=speckle_weight, blur_weight=blur_weight,
                         pixel_weight=pixel_weight,
                         tv_weight=tv_weight, upsample=upsample, global_skip=global_skip, vgg_weights=vgg_weights,
                         init=resolve_model(Path(init), kind="sr") if init and not resume else None)
        return SRTask(opts)

    _run(task, _settings(name, out, run_dir, iterations=iterations, batch_size=batch_size, lr=lr, seed=seed,
                         lr_schedule=lr_schedule,
                         device=device, amp=amp, workers=workers, checkpoint_every=checkpoint_every,
                         preview_every=preview_every, resume=resume, force=force, half=half,
                         log_every_s=10.0 if sys.stderr.isatty() else 30.0))


PANEL = "Train"


def register(app: typer.Typer) -> None:
    app.command("train-style", rich_help_panel=PANEL)(train_style)
    app.command("train-sr", rich_help_panel=PANEL)(train_sr)
