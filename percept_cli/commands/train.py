"""``percept train-style`` and ``percept train-sr``: thin CLI over train.trainer with the paper's recipes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from percept.cli.errors import UserError
from percept.core.training_defaults import SPIKE_Z, STYLE_LAYERS, STYLE_WEIGHT_HELP
from percept.core.zoo import resolve_model

if TYPE_CHECKING:
    from percept.train.trainer import TrainSettings


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "model"


def _run(task_factory, settings: TrainSettings, data: str | None = None, int8_form: bool = False) -> None:
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
    if int8_form:
        _int8_form(Path(result.model_path), data)


def _int8_form(model: Path, data: str | None) -> None:
    """The new model's int8 form beside it, calibrated on its own training photos, where NNCF is installed;
    a failure here never fails the training (the model is written)."""
    import importlib.util
    import os

    from percept.core.extras import install_hint

    if os.environ.get("RANK", "0") != "0":  # several training processes: the first writes the model and its form
        return
    if importlib.util.find_spec("nncf") is None or importlib.util.find_spec("openvino") is None:
        typer.echo(f"no int8 form made (NNCF is not installed: {install_hint('int8')}, then percept quantize "
                   f"{model} --calibration PHOTOS)", err=True)
        return
    from percept.core.model_header import read_info
    from percept.engines.errors import EngineError
    from percept.engines.int8 import bound_for, form_beside, make_form
    from percept.pipeline.calibration import split_calibration
    from percept.train.data import resolve_data_dir

    try:
        info = read_info(model)
        folder = resolve_data_dir(data)
        used, checked, _ = split_calibration(folder, 64, 16, info)
        typer.echo(f"making the int8 form on {len(used)} training photos...", err=True)
        form = make_form(model, used, checked, out=form_beside(model),
                         calibration_note=f"{len(used)} of its training photos")
    except (EngineError, ValueError, OSError, RuntimeError) as exc:
        typer.echo(f"no int8 form made: {str(exc).splitlines()[0]}", err=True)
        return
    verdict = "within" if form.within(bound_for(info)) else "NOT within"
    typer.echo(f"int8 form written to {form.xml}" + (f" ({form.check.describe()}; {verdict} the bound for a default)"
                                                     if form.check else ""))


def resolve_style_model(name_or_path: Path) -> Path:
    """``--init``: a style model file or a shipped style's name."""
    return resolve_model(name_or_path, kind="style")


def _settings(name: str, out: Path | None, run_dir: Path | None, **kw) -> TrainSettings:
    from percept.train.trainer import TrainSettings

    run_dir = Path(run_dir) if run_dir else Path("runs") / name  # ctx.params may hold paths as text
    return TrainSettings(run_dir=run_dir, out=Path(out) if out else run_dir / f"{name}.safetensors", **kw)


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


# The objective the zoo was trained with: the paper's terms plus the flat-region anchor (against skies that flip
# brightness) and the instance-norm spike penalty (against blobs); docs/STYLES.md shows what they prevent.
# ``--paper`` turns every term the paper does not have off, for reproductions.
PAPER_OBJECTIVE: dict[str, object] = {"anchor_weight": 0.0, "anchor_color": False, "palette_weight": 0.0,
                                      "spike_weight": 0.0, "style_tiles": 1}
PAPER_NETWORK: dict[str, object] = {"exposure_path": False}  # --paper also trains the paper's network
DEFAULT_ANCHOR_WEIGHT = 300.0
DEFAULT_SPIKE_WEIGHT = 1e4


def _given(ctx: typer.Context, key: str) -> bool:
    source = ctx.get_parameter_source(key)  # by name: typer may bring its own copy of click's enum
    return source is not None and source.name != "DEFAULT"


def apply_preset(ctx: typer.Context, preset: str | None, values: dict[str, object],
                 paper: bool = False) -> dict[str, object]:
    """The options a run uses. Precedence: options given on the command line, then ``--paper``'s objective,
    then the preset, then the defaults."""
    if preset is not None and preset not in PRESETS:
        raise UserError(f"--preset {preset!r}: choose {', '.join(PRESETS)}")
    chosen = dict(values)
    for layer in (PRESETS[preset] if preset else {}, PAPER_OBJECTIVE | PAPER_NETWORK if paper else {}):
        for key, value in layer.items():
            if key in chosen and not _given(ctx, key):
                chosen[key] = value
    return chosen


def shipped_styles() -> dict[str, Path]:
    from percept.core.zoo import list_models

    return {m.name: m.path for m in list_models() if m.info.kind == "style"}


OBJECTIVE, SCHEDULE, NETWORK = "Objective (loss terms)", "Schedule", "Network (research)"
RUNTIME, OUTPUT = "Runtime", "Output and checkpoints"
# Options both training commands take, declared once.
DEVICE = typer.Option("auto", "--device", help="auto | cpu | cuda:N", rich_help_panel=RUNTIME)
AMP = typer.Option("auto", "--amp", help="auto | bf16 | fp16 | off", rich_help_panel=RUNTIME)
WORKERS = typer.Option(-1, "--workers", help="Data loader worker processes (-1: auto).", rich_help_panel=RUNTIME)
VGG_WEIGHTS = typer.Option(None, "--vgg-weights", help="VGG-16 weights file (else $PERCEPT_VGG_WEIGHTS).",
                           rich_help_panel=RUNTIME)
RUN_DIR = typer.Option(None, "--run-dir", help="Checkpoints, CSV log, loss plot, previews (default: runs/NAME).",
                       rich_help_panel=OUTPUT)
CHECKPOINT_EVERY = typer.Option(1000, "--checkpoint-every", rich_help_panel=OUTPUT)
PREVIEW_EVERY = typer.Option(500, "--preview-every", rich_help_panel=OUTPUT)
FORCE = typer.Option(False, "--force", help="Start over, replacing an earlier run in RUN_DIR.", rich_help_panel=OUTPUT)
HALF = typer.Option(False, "--half", help="Store the model in float16 (half the size).", rich_help_panel=OUTPUT)
RESUME = typer.Option(False, "--resume", help="Continue from RUN_DIR/checkpoint.pt.")
INT8_FORM = typer.Option(True, "--int8-form/--no-int8-form", help="At the end, make the model's int8 form "
                         "(--precision int8) from the training photos, where NNCF is installed (the int8 extra).")
DATA = typer.Option(None, "--data", help="Folder of training photos (recursive); or $PERCEPT_TRAIN_DATA.")
OUT = typer.Option(None, "--out", help="Model file to write (default: RUN_DIR/NAME.safetensors).")


def train_style(
    ctx: typer.Context,
    style_image: Path = typer.Argument(..., help="The painting whose style to learn."),
    data: str = DATA,
    preset: str = typer.Option(None, "--preset", help="quick: a new painting in ~30 min on a laptop CPU (warm "
                               "start, 256² crops, schedule against the clock); options you give still win."),
    time_limit: str = typer.Option("0", "--time-limit", help="Stop and save the model after this much training "
                                   "(e.g. 30m, 2h); the cosine schedule then follows the clock. 0: no limit."),
    paper: bool = typer.Option(False, "--paper", help="The paper's objective exactly (content, style, TV): no "
                               "anchor, spike, palette or tile terms, and the paper's network (no exposure path). "
                               "Options you give still win."),
    name: str = typer.Option(None, "--name", help="Model name (default: the style image's stem in lower case "
                             "with hyphens, e.g. my-painting)."),
    out: Path = OUT,
    init: str = typer.Option(None, "--init", help="Warm start from a trained style network: a file, a shipped "
                             "style's name, auto (the shipped style that already scores best on the painting) or "
                             "none. It already reconstructs photos, so training is shorter."),
    resume: bool = RESUME,
    int8_form: bool = INT8_FORM,
    content_weight: float = typer.Option(1.0, "--content-weight", rich_help_panel=OBJECTIVE),
    style_weight: float = typer.Option(1.5, "--style-weight", help=STYLE_WEIGHT_HELP, rich_help_panel=OBJECTIVE),
    tv_weight: float = typer.Option(1e-5, "--tv-weight", rich_help_panel=OBJECTIVE),
    anchor_weight: float = typer.Option(DEFAULT_ANCHOR_WEIGHT, "--anchor-weight", rich_help_panel=OBJECTIVE,
                                        help="Penalty on flipping the brightness of flat areas (blobs in skies); "
                                        "0 is the paper's objective."),
    anchor_color: bool = typer.Option(False, "--anchor-color", rich_help_panel=OBJECTIVE,
                                      help="Anchor each colour channel of flat areas, not only brightness: "
                                      "against hue blobs (cyan patches on white)."),
    spike_weight: float = typer.Option(DEFAULT_SPIKE_WEIGHT, "--spike-weight", rich_help_panel=OBJECTIVE,
                                       help="Penalty on instance-norm spikes (|z| > --spike-z), the mechanism of "
                                       "the blobs (docs/STYLES.md); 0 is the paper's objective."),
    spike_z: float = typer.Option(SPIKE_Z, "--spike-z", min=1.0, rich_help_panel=OBJECTIVE,
                                  help="The |z| an instance-norm input may reach free of the spike penalty; "
                                  "higher leaves room for sparse strokes."),
    palette_weight: float = typer.Option(0.0, "--palette-weight", rich_help_panel=OBJECTIVE,
                                         help="Match the painting's colour distribution (sliced Wasserstein), "
                                         "against patches in colours it never uses; 0 is the paper's objective."),
    style_tiles: int = typer.Option(1, "--style-tiles", min=1, max=4, rich_help_panel=OBJECTIVE,
                                    help="Match the painting's Gram matrices in each region of an N×N grid, so "
                                    "flat areas take its texture instead of blobs; 1 is the paper's objective."),
    style_size: int = typer.Option(512, "--style-size", rich_help_panel=OBJECTIVE,
                                   help="Long side of the style image (0 keeps it)."),
    content_layer: str = typer.Option("relu2_2", "--content-layer", rich_help_panel=OBJECTIVE),
    style_layers: str = typer.Option(",".join(STYLE_LAYERS), "--style-layers", rich_help_panel=OBJECTIVE,
                                     help="Comma-separated VGG layers."),
    iterations: int = typer.Option(40000, "--iterations", rich_help_panel=SCHEDULE),
    batch_size: int = typer.Option(4, "--batch-size", rich_help_panel=SCHEDULE),
    image_size: int = typer.Option(256, "--image-size", help="Training crop size (square).",
                                   rich_help_panel=SCHEDULE),
    crops: str = typer.Option("random", "--crops", rich_help_panel=SCHEDULE,
                              help="random (a new crop and flip per epoch, at the photo's scale) | center"),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate.", rich_help_panel=SCHEDULE),
    lr_schedule: str = typer.Option("constant", "--lr-schedule", help="constant | cosine (down to lr/10).",
                                    rich_help_panel=SCHEDULE),
    lr_warmup: int = typer.Option(None, "--lr-warmup", min=0, show_default=False, rich_help_panel=SCHEDULE,
                                  help="Steps of linear learning-rate warm-up (default: 50 with --init, whose "
                                  "trained weights full-size first Adam steps would scramble; else 0)."),
    seed: int = typer.Option(0, "--seed", rich_help_panel=SCHEDULE),
    norm: str = typer.Option("instance", "--norm", rich_help_panel=NETWORK,
                             help="instance | batch | none (docs/research/training-log.md compares them)"),
    upsample: str = typer.Option("resize-conv", "--upsample", help="resize-conv | transposed",
                                 rich_help_panel=NETWORK),
    output: str = typer.Option("tanh", "--output-activation", rich_help_panel=NETWORK,
                               help="tanh (the paper's scaled tanh) | wide-tanh (reaches 0 and 1, gradient alive)"),
    exposure_path: bool = typer.Option(True, "--exposure-path/--no-exposure-path", rich_help_panel=NETWORK,
                                       help="Shift the output by the photo's mean colour, so dark photos stay dark "
                                       "(instance norm forgets a photo's brightness; other norms keep it); off: "
                                       "the paper's net."),
    device: str = DEVICE,
    amp: str = AMP,
    workers: int = WORKERS,
    vgg_weights: str = VGG_WEIGHTS,
    run_dir: Path = RUN_DIR,
    checkpoint_every: int = CHECKPOINT_EVERY,
    preview_every: int = PREVIEW_EVERY,
    force: bool = FORCE,
    half: bool = HALF,
) -> None:
    """Train a real-time style network from one painting.

    Objective: the paper's content, style and TV terms plus the blob penalties the shipped styles
    were trained with (flat-region anchor, spike penalty); the network adds an exposure path (the
    photo's mean colour shifts the output) so dark photos stay dark. --paper gives the paper's terms and
    network alone.
    Schedule: the paper's 40,000 iterations, hours on a GPU and more than a day on a CPU (the run
    says how long before its first step); --preset quick makes a style in about 30 min on a CPU.
    Precedence: options you give, then --paper, then --preset, then the defaults.
    """
    p = apply_preset(ctx, preset, dict(ctx.params), paper=paper)
    if p["spike_weight"] and p["norm"] != "instance":
        if _given(ctx, "spike_weight"):
            raise UserError(f"--spike-weight penalises instance-norm spikes: it needs --norm instance, "
                            f"not {p['norm']}")
        p["spike_weight"] = 0.0  # the default penalty has nothing to act on
    if p["crops"] not in ("random", "center"):
        raise UserError(f"--crops {p['crops']!r}: choose random or center")
    p["name"] = p["name"] or _slug(style_image.stem)
    _run(lambda: _style_task(p), _style_settings(p), p["data"], bool(p["int8_form"]))


def _style_task(p: dict[str, object]):
    """The StyleTask of the resolved options ``p``; ``--init auto`` picks its warm start here (it reads VGG)."""
    from percept.train.data import resolve_data_dir
    from percept.train.style_task import StyleOptions, StyleTask, closest_init

    layers = tuple(x.strip() for x in str(p["style_layers"]).split(",") if x.strip())
    opts = StyleOptions(style_image=Path(p["style_image"]), data=resolve_data_dir(p["data"]), name=p["name"],
                        image_size=p["image_size"], style_size=p["style_size"] or None,
                        content_weight=p["content_weight"], style_weight=p["style_weight"],
                        tv_weight=p["tv_weight"], anchor_weight=p["anchor_weight"], anchor_color=p["anchor_color"],
                        style_tiles=p["style_tiles"], palette_weight=p["palette_weight"],
                        spike_weight=p["spike_weight"], spike_z=p["spike_z"], content_layer=p["content_layer"],
                        style_layers=layers, norm=p["norm"], upsample=p["upsample"], output=p["output"],
                        exposure_path=p["exposure_path"] and p["norm"] == "instance",
                        vgg_weights=p["vgg_weights"], crops=p["crops"])
    init = p["init"]
    if init == "auto" and not p["resume"]:
        candidates = shipped_styles()
        chosen, scores = closest_init(opts, candidates)
        ranked = ", ".join(f"{k} {v:.2f}" for k, v in sorted(scores.items(), key=lambda kv: kv[1]))
        typer.echo(f"--init auto: warm start from {chosen} (objective on the new painting: {ranked})", err=True)
        opts.init = candidates[chosen]
    elif init and init not in ("auto", "none"):
        opts.init = resolve_style_model(Path(str(init)))
    return StyleTask(opts)


def _style_settings(p: dict[str, object]) -> TrainSettings:
    """The trainer's settings of the resolved options ``p``."""
    init, warmup = p["init"], p["lr_warmup"]
    return _settings(p["name"], p["out"], p["run_dir"], iterations=p["iterations"], batch_size=p["batch_size"],
                     lr=p["lr"], seed=p["seed"], lr_schedule=p["lr_schedule"], force=p["force"],
                     time_limit_s=parse_duration(str(p["time_limit"])),
                     lr_warmup=(50 if init and init != "none" else 0) if warmup is None else warmup,
                     device=p["device"], amp=p["amp"], workers=p["workers"],
                     checkpoint_every=p["checkpoint_every"], preview_every=p["preview_every"],
                     resume=p["resume"], half=p["half"], log_every_s=10.0 if sys.stderr.isatty() else 30.0)


def train_sr(
    scale: int = typer.Option(4, "--scale", help="2, 4 or 8."),
    data: str = DATA,
    loss: str = typer.Option("feature", "--loss", help="feature | pixel | feature+pixel"),
    out: Path = OUT,
    name: str = typer.Option(None, "--name", help="Model name (default: my-sr-xSCALE-LOSS)."),
    degradation: str = typer.Option("paper", "--degradation",
                                    help="paper (blur + bicubic) | bicubic (MATLAB imresize, as the benchmarks) | "
                                         "real (blur, resize, noise and JPEG in two rounds, Real-ESRGAN's) | "
                                         "photo (one pass of phone and web damage: blur, resize, noise, JPEG)"),
    init: str = typer.Option(None, "--init", help="Warm start from a trained SR network of the same layers: a "
                             "file or a shipped name (e.g. a feature-loss model from the pixel-loss one)."),
    resume: bool = RESUME,
    int8_form: bool = INT8_FORM,
    time_limit: str = typer.Option("0", "--time-limit", help="Stop and save the model after this much training "
                                   "(e.g. 30m, 2h); a cosine schedule then follows the clock. 0: no limit."),
    feature_layer: str = typer.Option("relu2_2", "--feature-layer", help="VGG-16 layer of the feature loss, or "
                                      "weighted layers, e.g. relu1_2:1,relu4_3:1 (sr-x4-real's card has its four).",
                                      rich_help_panel=OBJECTIVE),
    feature_weight: float = typer.Option(1.0, "--feature-weight", rich_help_panel=OBJECTIVE),
    grid_weight: float = typer.Option(0.0, "--grid-weight", help="Penalty on the error's pattern locked to the "
                                      "pixel shuffle's sub-pixel grid (the cross-hatch of feature-loss models); "
                                      "1e4 in the shipped sr-x4-feature.", rich_help_panel=OBJECTIVE),
    grid_window: int = typer.Option(4, "--grid-window", min=0, help="Blocks the grid penalty averages over, in "
                                    "LR pixels; 0: the whole patch (a hatch repeats everywhere, an edge's error "
                                    "does not, so only the hatch is priced).", rich_help_panel=OBJECTIVE),
    speckle_weight: float = typer.Option(0.0, "--speckle-weight", help="Penalty on fine detail beyond twice "
                                         "the ground truth's, per neighbourhood: the speckle a feature loss "
                                         "sprinkles on flat areas (edges and texture the truth has cost nothing).",
                                         rich_help_panel=OBJECTIVE),
    blur_weight: float = typer.Option(0.0, "--blur-weight", help="Penalty on fine detail the output lacks "
                                      "where the ground truth has it (below half its local energy), anywhere in "
                                      "an 8-px neighbourhood: sharper texture than pixel MSE allows.",
                                      rich_help_panel=OBJECTIVE),
    feature_jitter: int = typer.Option(0, "--feature-jitter", min=0, help="Shift the feature loss's VGG input by "
                                       "a random 0..N px each step, so no cross-hatch locks to VGG's pooling grid.",
                                       rich_help_panel=OBJECTIVE),
    pixel_weight: float = typer.Option(1.0, "--pixel-weight", rich_help_panel=OBJECTIVE),
    pixel_loss: str = typer.Option("mse", "--pixel-loss", help="mse | l1 | charbonnier (a smooth L1: sharper "
                                   "texture than MSE at the same PSNR)", rich_help_panel=OBJECTIVE),
    tv_weight: float = typer.Option(0.0, "--tv-weight", rich_help_panel=OBJECTIVE),
    gan_weight: float = typer.Option(0.0, "--gan-weight", min=0.0, help="Adversarial fine-tuning: the weight of a "
                                     "U-Net discriminator's term (0.1 beside pixel 1 and feature 1, as Real-ESRGAN; "
                                     "start from a fidelity model with --init).", rich_help_panel=OBJECTIVE),
    gan_channels: int = typer.Option(32, "--gan-channels", min=4, help="The discriminator's width.",
                                     rich_help_panel=OBJECTIVE),
    gan_lr: float = typer.Option(1e-4, "--gan-lr", help="The discriminator's Adam learning rate.",
                                 rich_help_panel=OBJECTIVE),
    gan_warmup: int = typer.Option(0, "--gan-warmup", min=0, help="Steps in which only the discriminator learns "
                                   "(the generator gets no adversarial term yet).", rich_help_panel=OBJECTIVE),
    target_shrink: float = typer.Option(1.0, "--target-shrink", min=1.0, help="Shrink training photos by this "
                                        "first, so their own JPEG blocks and noise average out (e.g. 1.5 with "
                                        "adversarial training).", rich_help_panel=SCHEDULE),
    max_colour_drift: float = typer.Option(0.0, "--max-colour-drift", min=0.0, help="With --holdout: stop when "
                                           "the held-out outputs' mean colour moves this many 8-bit levels from "
                                           "the truth's (0: never).", rich_help_panel=SCHEDULE),
    clean_share: float = typer.Option(None, "--clean-share", min=0.0, max=1.0, show_default=False,
                                      help="--degradation photo: share of inputs left undamaged (plain bicubic); "
                                      "default 0.1.", rich_help_panel=SCHEDULE),
    holdout: int = typer.Option(0, "--holdout", min=0, help="Keep N of the training photos out of training and "
                                "score the weights on them at every checkpoint (RUN_DIR/validation.csv, "
                                "RUN_DIR/best.safetensors).", rich_help_panel=SCHEDULE),
    ema: float = typer.Option(0.0, "--ema", min=0.0, max=0.99999, help="Keep an exponential moving average of "
                              "the weights with this decay (e.g. 0.999); previews, validation and the saved "
                              "model use it. Kept by --resume.", rich_help_panel=SCHEDULE),
    patch: int = typer.Option(288, "--patch", help="HR training patch size (random crops).", rich_help_panel=SCHEDULE),
    sigma: float = typer.Option(1.0, "--sigma", help="Gaussian blur before bicubic downsampling.",
                                rich_help_panel=SCHEDULE),
    batch_size: int = typer.Option(4, "--batch-size", rich_help_panel=SCHEDULE),
    iterations: int = typer.Option(200000, "--iterations", rich_help_panel=SCHEDULE),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate.", rich_help_panel=SCHEDULE),
    lr_schedule: str = typer.Option("constant", "--lr-schedule", help="constant | cosine (down to lr/10).",
                                    rich_help_panel=SCHEDULE),
    seed: int = typer.Option(0, "--seed", rich_help_panel=SCHEDULE),
    arch: str = typer.Option("subpixel", "--arch", help="subpixel (every conv at low resolution, fast) | paper "
                             "(the paper's net: ×2 stages and a 9×9 tail at full resolution)", rich_help_panel=NETWORK),
    channels: int = typer.Option(0, "--channels", help="Feature channels (default: subpixel 48, paper 64).",
                                 rich_help_panel=NETWORK),
    convs: int = typer.Option(6, "--convs", help="subpixel: 3×3 convolutions in the body; with --init, more than "
                              "the parent's grows it (the added ones start as identities).", rich_help_panel=NETWORK),
    branches: bool = typer.Option(False, "--branches", help="subpixel: train each 3×3 convolution as a sum of "
                                  "branches (1×1, edge filters) folded into it when saved: no cost when run.",
                                  rich_help_panel=NETWORK),
    upsample: str = typer.Option("pixel-shuffle", "--upsample",
                                 help="paper arch: pixel-shuffle | resize-conv | transposed", rich_help_panel=NETWORK),
    global_skip: bool = typer.Option(True, "--global-skip/--no-global-skip",
                                     help="Predict the residual over bicubic (off: the paper's exact net).",
                                     rich_help_panel=NETWORK),
    device: str = DEVICE,
    amp: str = AMP,
    workers: int = WORKERS,
    vgg_weights: str = VGG_WEIGHTS,
    run_dir: Path = RUN_DIR,
    checkpoint_every: int = CHECKPOINT_EVERY,
    preview_every: int = PREVIEW_EVERY,
    force: bool = FORCE,
    half: bool = HALF,
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
                         pixel_weight=pixel_weight, pixel_loss=pixel_loss, clean_share=clean_share,
                         holdout=holdout, branches=branches, tv_weight=tv_weight, upsample=upsample,
                         gan_weight=gan_weight, gan_channels=gan_channels, gan_lr=gan_lr, gan_warmup=gan_warmup,
                         target_shrink=target_shrink, max_colour_drift=max_colour_drift,
                         global_skip=global_skip, vgg_weights=vgg_weights,
                         init=resolve_model(Path(init), kind="sr") if init and not resume else None)
        return SRTask(opts)

    _run(task, _settings(name, out, run_dir, iterations=iterations, batch_size=batch_size, lr=lr, seed=seed,
                         lr_schedule=lr_schedule, time_limit_s=parse_duration(time_limit),
                         device=device, amp=amp, workers=workers, checkpoint_every=checkpoint_every,
                         preview_every=preview_every, resume=resume, force=force, half=half, ema=ema,
                         log_every_s=10.0 if sys.stderr.isatty() else 30.0), data, int8_form)


PANEL = "Train"


def register(app: typer.Typer) -> None:
    app.command("train-style", rich_help_panel=PANEL)(train_style)
    app.command("train-sr", rich_help_panel=PANEL)(train_sr)
