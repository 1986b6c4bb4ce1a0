"""The training loop shared by style and super-resolution training.

A ``TrainTask`` says what to learn (model, data, losses, previews, metadata); the ``Trainer`` does the
rest the same way for both: AMP, channels_last, DDP, loader workers, progress, CSV log, loss plot,
previews, atomic resumable checkpoints (bit-for-bit resume), NaN guard and clean Ctrl-C.
"""

from __future__ import annotations

import copy
import csv
import math
import os
import random
import signal
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset

from percept.core.atomic import atomic_path
from percept.core.progress import ProgressReporter
from percept.train.checkpoint import ModelInfo, save_model
from percept.train.data import PositionSampler
from percept.train.devices import autocast_dtype, resolve_device
from percept.train.plot import plot_losses
from percept.train.preview import grid, save_image

CHECKPOINT_FORMAT = "percept-train/1"


class TrainingError(RuntimeError):
    """Training cannot go on; the message says why and what was kept."""


class TrainTask(Protocol):
    """What to learn. ``losses`` returns weighted terms; the trainer minimises their sum."""

    name: str
    quicker_options: str  # how to get a usable model sooner, shown when a CPU run would take hours

    def build_model(self) -> nn.Module: ...
    def dataset(self, seed: int) -> Dataset: ...
    def setup(self, device: torch.device) -> None: ...
    def losses(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]: ...
    def preview(self, model: nn.Module) -> tuple[list[list[torch.Tensor]], list[str]]: ...
    def settings(self) -> dict[str, Any]: ...
    def describe(self, model: nn.Module, training: dict[str, Any]) -> ModelInfo: ...


@dataclass
class TrainSettings:
    run_dir: Path
    out: Path
    iterations: int = 40000
    batch_size: int = 4
    lr: float = 1e-3
    lr_schedule: str = "constant"  # constant | cosine (to lr_final_ratio × lr at the last step)
    lr_final_ratio: float = 0.1
    lr_warmup: int = 0  # steps of linear warm-up: a warm start's first full-size Adam steps undo what it knew
    time_limit_s: float = 0.0  # stop (and save the model) after this much training time; 0: no limit. The
                               # cosine schedule then runs on whichever comes first, time or iterations.
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    workers: int = -1  # -1: one per spare core, up to 4
    checkpoint_every: int = 1000
    preview_every: int = 500
    resume: bool = False
    force: bool = False  # start over even if RUN_DIR holds an earlier run
    half: bool = False  # store the final model in float16
    ema: float = 0.0  # decay of an exponential moving average of the weights (0: none); previews, validation
                      # and the saved model use the average, which is smoother than the last step's weights
    log_every_s: float = 10.0
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        d["run_dir"], d["out"] = str(self.run_dir), str(self.out)
        return d


@dataclass
class TrainResult:
    model_path: Path | None
    step: int
    losses: dict[str, float]
    stopped: str  # "finished" | "interrupted"
    seconds: float


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
             "python_pos": random.getstate()[2], "numpy": np.random.get_state()[1].tolist(),
             "numpy_pos": int(np.random.get_state()[2])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), state["python_pos"]))
    np.random.set_state(("MT19937", np.array(state["numpy"], dtype=np.uint32), state["numpy_pos"], 0, 0.0))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _StopFlag:
    """First Ctrl-C asks the loop to stop after the current step; a second one interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> _StopFlag:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not in the main thread (e.g. tests): no handler
            self._previous = None
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class Trainer:
    def __init__(self, task: TrainTask, settings: TrainSettings, interactive: bool | None = None):
        self.task, self.s, self.interactive = task, settings, interactive
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.is_main = self.rank == 0
        self.run_dir = Path(settings.run_dir)
        self.ckpt_path = self.run_dir / "checkpoint.pt"
        self.csv_path = self.run_dir / "losses.csv"

    # -- setup -------------------------------------------------------------------------------
    def _device(self) -> torch.device:
        if self.world > 1:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            if self.s.device.startswith("cuda") or (self.s.device == "auto" and torch.cuda.is_available()):
                torch.cuda.set_device(local)
                return torch.device(f"cuda:{local}")
            return torch.device("cpu")
        return resolve_device(self.s.device)

    def _init_distributed(self, device: torch.device) -> None:
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    def _workers(self) -> int:
        if self.s.workers >= 0:
            return self.s.workers
        return max(1, min(4, (os.cpu_count() or 2) // max(1, self.world) - 1))

    def _loader(self, dataset: Dataset, start_step: int) -> DataLoader:
        b = self.s.batch_size
        sampler = PositionSampler(len(dataset), self.s.seed, start=start_step * b,
                                  total=(self.s.iterations - start_step) * b, rank=self.rank, world=self.world)
        per_rank = b // self.world
        workers = self._workers()
        return DataLoader(dataset, batch_size=per_rank, sampler=sampler, num_workers=workers,
                          pin_memory=torch.cuda.is_available(), drop_last=True,
                          persistent_workers=False, prefetch_factor=4 if workers else None)

    def _refuse_overwrite(self) -> None:
        """Never replace an earlier run silently: it may be hours of training."""
        if self.s.resume or self.s.force:
            return
        for earlier in (self.ckpt_path, Path(self.s.out)):
            if earlier.is_file():
                raise TrainingError(f"{earlier} exists from an earlier run: add --resume to continue it, "
                                    "or --force to start over")

    # -- checkpoints --------------------------------------------------------------------------
    def _save_checkpoint(self, model: nn.Module, opt, scaler, step: int, ema: WeightAverage | None = None) -> None:
        if not self.is_main:
            return
        task_state = getattr(self.task, "checkpoint_state", None)
        state = {"format": CHECKPOINT_FORMAT, "step": step, "model": model.state_dict(),
                 "ema": ema.state_dict() if ema is not None else {},
                 "task_state": task_state() if task_state is not None else {},
                 "model_config": model.config(), "optimizer": opt.state_dict(),
                 "scaler": scaler.state_dict() if scaler is not None else {},
                 "rng": _rng_state(), "settings": self.s.record(), "task": self.task.settings()}
        with atomic_path(self.ckpt_path) as tmp:
            torch.save(state, tmp)

    def _load_checkpoint(self, model: nn.Module, opt, scaler, ema: WeightAverage | None = None) -> int:
        if not self.ckpt_path.is_file():
            raise TrainingError(f"{self.ckpt_path}: no checkpoint to resume from")
        try:
            state = torch.load(self.ckpt_path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise TrainingError(f"{self.ckpt_path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from None
        if state.get("format") != CHECKPOINT_FORMAT:
            raise TrainingError(f"{self.ckpt_path}: not a percept training checkpoint")
        if state["model_config"] != model.config():
            raise TrainingError(f"{self.ckpt_path}: checkpoint is for {state['model_config']}, "
                                f"not {model.config()}; use the same network options to resume")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if ema is not None:
            ema.load_state_dict(state.get("ema") or state["model"])  # a run without --ema starts its average here
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"])
        self._task_state = state.get("task_state") or {}
        return int(state["step"])

    # -- logging ------------------------------------------------------------------------------
    def _open_csv(self, columns: list[str], start_step: int):
        rows: list[list[str]] = []
        if start_step and self.csv_path.is_file():
            with open(self.csv_path, newline="") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                if header == columns:
                    rows = [r for r in reader if r and int(r[0]) <= start_step]
        f = open(self.csv_path, "w", newline="")
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)
        f.flush()
        return f, writer

    def _plot(self) -> None:
        with open(self.csv_path, newline="") as f:
            reader = csv.DictReader(f)
            data = list(reader)
        if not data:
            return
        terms = [c for c in reader.fieldnames if c not in ("step", "images_per_s", "elapsed_s")]
        steps = [int(r["step"]) for r in data]
        plot_losses(steps, {t: [float(r[t]) for r in data] for t in terms}, self.run_dir / "loss.png",
                    title=f"{self.task.name}: loss terms (log10)")

    def _preview(self, model: nn.Module, step: int) -> None:
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                rows, labels = self.task.preview(model)
            image = grid(rows, labels)
            save_image(image, self.run_dir / "previews" / f"step_{step:07d}.png")
            save_image(image, self.run_dir / "preview.png")
        finally:
            model.train(was_training)

    # -- the loop -----------------------------------------------------------------------------
    def _setup(self) -> _Setup:
        """Everything the loop needs, built in the order that keeps resumed runs bit-for-bit."""
        s = self.s
        if s.batch_size % self.world:
            raise TrainingError(f"--batch-size {s.batch_size} must be a multiple of the {self.world} processes")
        self._refuse_overwrite()
        device = self._device()
        self._init_distributed(device)
        seed_everything(s.seed)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        model = self.task.build_model().to(device)
        dtype = autocast_dtype(s.amp, device)
        channels_last = device.type == "cuda"
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.Adam(model.parameters(), lr=s.lr)
        scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
        ema = WeightAverage(model, s.ema) if s.ema > 0 else None
        start = self._load_checkpoint(model, opt, scaler, ema) if s.resume else 0
        learning_rate(s, 0)  # an unknown schedule fails before any work
        if start >= s.iterations:
            raise TrainingError(f"{self.ckpt_path}: already at step {start} >= --iterations {s.iterations}; "
                                "raise --iterations to train longer")
        self.task.setup(device)
        restore = getattr(self.task, "load_checkpoint_state", None)
        if s.resume and restore is not None:
            restore(getattr(self, "_task_state", {}))
        dataset = self.task.dataset(s.seed)
        train_model: nn.Module = model
        if self.world > 1:
            train_model = nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None)
        loader = self._loader(dataset, start)
        model.train()
        return _Setup(device, dtype, channels_last, model, train_model, opt, scaler, start, loader, ema)

    def _losses(self, setup: _Setup, batch: Any, step: int) -> tuple[dict[str, torch.Tensor], list[float]]:
        """The weighted terms of one batch and their values (averaged over processes), refusing NaN/inf."""
        with setup.autocast():
            terms = self.task.losses(setup.train_model, batch)
        # "monitor_" terms are logged, not minimised (a discriminator's own loss, already stepped by the task)
        terms = {"total": sum(v for k, v in terms.items() if not k.startswith(MONITOR)), **terms}
        values = torch.stack([t.detach().float() for t in terms.values()])
        if self.world > 1:
            dist.all_reduce(values)
            values /= self.world
        values = values.tolist()
        if not all(math.isfinite(v) for v in values):
            kept = (f"last good checkpoint kept: {self.ckpt_path}" if self.ckpt_path.is_file()
                    else "no checkpoint had been written yet")
            bad = ", ".join(f"{k}={v}" for k, v in zip(terms, values) if not math.isfinite(v))
            raise TrainingError(f"loss is not finite at step {step + 1} ({bad}); training stopped, {kept}. "
                                "Try a lower --lr or smaller loss weights.")
        return terms, values

    def _update(self, setup: _Setup, total: torch.Tensor, step: int, bad_grads: int, log: _RunLog) -> int:
        """One optimiser step; returns how many steps in a row had non-finite gradients."""
        if optimizer_step(setup.opt, total, setup.scaler):
            return 0
        bad_grads += 1
        log.say(f"step {step + 1}: gradient not finite, update skipped")
        if bad_grads >= MAX_BAD_GRADIENTS:
            raise TrainingError(f"gradients not finite for {bad_grads} steps in a row at step {step + 1}; "
                                f"training stopped, last checkpoint kept: {self.ckpt_path}. Try a lower --lr.")
        return bad_grads

    def _loop(self, setup: _Setup, log: _RunLog, t0: float) -> tuple[int, dict[str, float], str]:
        """Train until the iterations, the time limit or Ctrl-C end it: (step, last losses, how it stopped)."""
        s = self.s
        step, last, bad_grads = setup.start, {}, 0
        with _StopFlag() as stop:
            for batch in setup.loader:
                batch = _to_device(batch, setup.device, setup.channels_last)
                terms, values = self._losses(setup, batch, step)
                set_lr(setup.opt, learning_rate(s, step, time.perf_counter() - t0))
                bad_grads = self._update(setup, terms["total"], step, bad_grads, log)
                if setup.ema is not None:
                    setup.ema.update(setup.model)
                step += 1
                last = dict(zip(terms, values))
                if self.is_main:
                    log.row(step, last, setup.shown_model())
                if s.checkpoint_every and step % s.checkpoint_every == 0:
                    self._save_checkpoint(setup.model, setup.opt, setup.scaler, step, setup.ema)
                    self._validate(setup, step, log)
                if stop.requested:
                    return step, last, "interrupted"
                if s.time_limit_s and time.perf_counter() - t0 >= s.time_limit_s:
                    log.say(f"time limit of {_duration(s.time_limit_s)} reached at step {step}")
                    break
        return step, last, "finished"

    def _save_final(self, setup: _Setup, step: int, last: dict[str, float], seconds: float) -> Path:
        """The finished model, with its recipe and final losses in the header."""
        training = {**self.s.record(), **self.task.settings(), "final_step": step,
                    "device": str(setup.device), "amp": str(setup.dtype or "off"), "processes": self.world,
                    "wall_time_s": round(seconds, 1),
                    "final_losses": {k: round(v, 6) for k, v in last.items()}}
        for k in ("run_dir", "out", "resume", "log_every_s", "extra"):
            training.pop(k, None)
        return self._save_model(self.s.out, setup.shown_model(), training)

    def _save_model(self, path: Path, model: nn.Module, training: dict[str, Any]) -> Path:
        """A model file of ``model`` in its plain form (training branches folded)."""
        plain = model.plain() if hasattr(model, "plain") else model
        return save_model(path, plain, self.task.describe(plain, training), half=self.s.half)

    def _validate(self, setup: _Setup, step: int, log: _RunLog) -> None:
        """Score the shown weights on the task's held-out photos (``validate``, when it has one): one line in
        RUN_DIR/validation.csv, and RUN_DIR/best.safetensors whenever the score is the best so far."""
        validate = getattr(self.task, "validate", None)
        if not self.is_main or validate is None:
            return
        model = setup.shown_model()
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), setup.autocast():
                scores = validate(model)
        finally:
            model.train(was_training)
        if not scores:
            return
        path = self.run_dir / "validation.csv"
        rows = _read_rows(path, step)
        key = next(iter(scores))
        best = max((float(r[key]) for r in rows if r.get(key)), default=-math.inf)
        rows.append({"step": str(step), **{k: f"{v:.4f}" for k, v in scores.items()}})
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["step", *scores])
            writer.writeheader()
            writer.writerows(rows)
        line = f"step {step}: held-out " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
        if scores[key] > best:
            self._save_model(self.run_dir / "best.safetensors", model, {"best_step": step, **scores})
            line += " (best so far: best.safetensors)"
        log.say(line)

    def _probe_seconds(self, setup: _Setup) -> float:
        """Seconds per training step, timed on the run's first batch before it trains: forward, losses and
        backward, twice (the first pays one-time set-up). RNG, buffers, gradients and the task's own state (a
        discriminator the losses step) are put back, so the run is the same as without the probe."""
        dataset, sampler = setup.loader.dataset, setup.loader.sampler
        first = setup.start * self.s.batch_size
        items = [dataset[(sampler.file_at(p), p)] for p in range(first, first + self.s.batch_size // self.world)]
        batch = _to_device(setup.loader.collate_fn(items), setup.device, setup.channels_last)
        rng, buffers = _rng_state(), {k: v.clone() for k, v in setup.model.named_buffers()}
        task_state = getattr(self.task, "checkpoint_state", None)
        saved = copy.deepcopy(task_state()) if task_state is not None else None
        seconds = 0.0
        for _ in range(2):
            t = time.perf_counter()
            with setup.autocast():
                total = sum(self.task.losses(setup.model, batch).values())
            total.backward()
            if setup.device.type == "cuda":
                torch.cuda.synchronize(setup.device)  # kernels run asynchronously: wait before reading the clock
            seconds = time.perf_counter() - t
        setup.opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            for k, v in setup.model.named_buffers():
                v.copy_(buffers[k])
        _set_rng_state(rng)
        if saved is not None:
            self.task.load_checkpoint_state(saved)
        return seconds

    def _announce_duration(self, setup: _Setup, log: _RunLog) -> None:
        """Say how long the run will take here before its first step, and on a CPU, when that is hours,
        how to get a model sooner."""
        per_step = self._probe_seconds(setup)
        left = self.s.iterations - setup.start
        hours = left * per_step / 3600
        line = (f"speed here: {1 / per_step:.2f} steps/s, so {left:,} iterations take about "
                f"{_duration(left * per_step)} (previews and checkpoints add a little)")
        if self.s.time_limit_s:
            steps = min(left, int(self.s.time_limit_s / per_step))
            line += f"; --time-limit stops it after {_duration(self.s.time_limit_s)}, near step {setup.start + steps:,}"
        log.say(line)
        if setup.device.type == "cpu" and hours > LONG_RUN_HOURS and not self.s.time_limit_s:
            log.say(f"that is long for a CPU; for a model sooner: {self.task.quicker_options}")

    def run(self) -> TrainResult:
        setup = self._setup()
        log = _RunLog(self, setup.start)
        t0 = log.t0
        try:
            log.say(f"training {self.task.name} on {setup.device} (amp {setup.dtype or 'off'}, {self.world} "
                    f"process(es), {self._workers()} loader worker(s)) from step {setup.start} to {self.s.iterations}")
            if self.is_main:
                self._announce_duration(setup, log)
            if self.world > 1:
                dist.barrier()  # every process starts its clock (the time-limited schedule's) together
            t0 = log.restart_clock()  # the probe's seconds are not training time
            step, last, stopped = self._loop(setup, log, t0)
            if self.is_main:
                log.flush()
                self._save_checkpoint(setup.model, setup.opt, setup.scaler, step, setup.ema)
                self._preview(setup.shown_model(), step)
                self._plot()
            model_path = None
            if stopped == "finished" and self.is_main:
                model_path = self._save_final(setup, step, last, time.perf_counter() - t0)
        finally:
            log.close()
            if self.world > 1 and dist.is_initialized():
                dist.destroy_process_group()
        return TrainResult(model_path, step, last, stopped, time.perf_counter() - t0)


@dataclass
class _Setup:
    """What one run trains with, built once before the first step."""

    device: torch.device
    dtype: torch.dtype | None
    channels_last: bool
    model: nn.Module
    train_model: nn.Module
    opt: torch.optim.Optimizer
    scaler: Any
    start: int
    loader: DataLoader
    ema: WeightAverage | None = None

    def shown_model(self) -> nn.Module:
        """What previews, validation and the saved file show: the weight average when there is one."""
        return self.ema.model if self.ema is not None else self.model

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None)


class WeightAverage:
    """An exponential moving average of a model's weights (BasicSR's ``net_g_ema``), kept in its own copy.

    Why: late in training Adam's steps jitter the weights around a minimum; their average sits nearer it, and
    scores higher on held-out photos for free."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise TrainingError(f"--ema {decay}: the decay must be between 0 and 1 (e.g. 0.999)")
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for mine, theirs in zip(self.model.state_dict().values(), model.state_dict().values()):
            if mine.is_floating_point():
                mine.lerp_(theirs.detach(), 1.0 - self.decay)
            else:
                mine.copy_(theirs)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)


def _read_rows(path: Path, up_to_step: int) -> list[dict[str, str]]:
    """The rows of a CSV log written up to ``up_to_step`` (a resumed run drops what came after its checkpoint)."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if int(r["step"]) < up_to_step]


class _RunLog:
    """The main process's record of a run: progress lines, the losses CSV, previews and the loss plot."""

    def __init__(self, trainer: Trainer, start: int):
        s = trainer.s
        self.trainer, self.start = trainer, start
        self.reporter = ProgressReporter(s.iterations, f"train {trainer.task.name}",
                                         interactive=trainer.interactive, log_every=s.log_every_s,
                                         deadline_s=s.time_limit_s or None,
                                         initial=start) if trainer.is_main else None
        if self.reporter:
            self.reporter.__enter__()
        self.csv_file = self.writer = None
        self.t_rate, self.n_rate = time.perf_counter(), 0
        self.t0 = self.t_rate

    def restart_clock(self) -> float:
        self.t0 = self.t_rate = time.perf_counter()
        if self.reporter:
            self.reporter.restart_clock()
        return self.t0

    def say(self, line: str) -> None:
        if self.reporter:
            self.reporter.log(line)

    def row(self, step: int, last: dict[str, float], model: nn.Module) -> None:
        """One step's CSV row and progress update; previews and the plot every ``preview_every`` steps."""
        s = self.trainer.s
        now = time.perf_counter()
        self.n_rate += s.batch_size
        ips = self.n_rate / max(now - self.t_rate, 1e-9)
        if now - self.t_rate > 5:
            self.t_rate, self.n_rate = now, 0
        if self.writer is None:
            self.csv_file, self.writer = self.trainer._open_csv(["step", *last, "images_per_s", "elapsed_s"],
                                                                self.start)
        self.writer.writerow([step, *(f"{v:.6g}" for v in last.values()), f"{ips:.3f}", f"{now - self.t0:.1f}"])
        self.reporter.update(step, loss=last["total"], **{k: v for k, v in last.items() if k != "total"}, img_s=ips)
        if s.preview_every and step % s.preview_every == 0:
            self.csv_file.flush()
            self.trainer._preview(model, step)
            self.trainer._plot()

    def flush(self) -> None:
        if self.csv_file:
            self.csv_file.flush()

    def close(self) -> None:
        if self.reporter:
            self.reporter.close()
        if self.csv_file:
            self.csv_file.close()


LR_SCHEDULES = ("constant", "cosine")
MONITOR = "monitor_"
MAX_BAD_GRADIENTS = 5  # consecutive non-finite gradients before training stops
LONG_RUN_HOURS = 2.0  # a CPU run longer than this gets the quicker options


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def learning_rate(s: TrainSettings, step: int, elapsed_s: float = 0.0) -> float:
    """The learning rate of step ``step`` (0-based): a pure function of the step, so resuming keeps it;
    with a time limit, the schedule's progress is the larger of the step's and the time's."""
    warm = min(1.0, (step + 1) / s.lr_warmup) if s.lr_warmup > 0 else 1.0
    if s.lr_schedule == "constant":
        return s.lr * warm
    if s.lr_schedule == "cosine":
        t = min(1.0, step / max(1, s.iterations - 1))
        if s.time_limit_s > 0:
            t = max(t, min(1.0, elapsed_s / s.time_limit_s))
        return warm * s.lr * (s.lr_final_ratio + (1 - s.lr_final_ratio) * 0.5 * (1 + math.cos(math.pi * t)))
    raise TrainingError(f"unknown --lr-schedule {s.lr_schedule!r}; choose from {', '.join(LR_SCHEDULES)}")


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def optimizer_step(opt: torch.optim.Optimizer, total: torch.Tensor,
                   scaler: torch.amp.GradScaler | None = None) -> bool:
    """One backward pass and update, through the fp16 grad scaler when there is one.

    Returns False, without updating, when a gradient is not finite: one inf gradient turns Adam's moments,
    and so every weight, into NaN (seen once in ~100 CPU steps of a warm-started style run). The fp16 grad
    scaler already skips such steps itself."""
    opt.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(total).backward()
        scaler.step(opt)
        scaler.update()
        return True
    total.backward()
    params = [p for group in opt.param_groups for p in group["params"] if p.grad is not None]
    if not all(torch.isfinite(p.grad).all() for p in params):
        opt.zero_grad(set_to_none=True)
        return False
    opt.step()
    return True


def _to_device(batch: Any, device: torch.device, channels_last: bool) -> Any:
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        return batch.contiguous(memory_format=torch.channels_last) if channels_last and batch.dim() == 4 else batch
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device, channels_last) for b in batch)
    return batch
