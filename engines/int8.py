"""8-bit integer forms of percept models, for OpenVINO on the CPU.

Why: on CPUs without native bf16 (most laptops) fp32 kernels cap the speed; 8-bit integer kernels exist on
every x86 CPU of the last decade (AVX2, AVX-512 VNNI, AMX-INT8). A model's *int8 form* is an OpenVINO IR
(``.xml`` + ``.bin``) quantised by NNCF from the model's fp32 graph, plus a record (``.json``) that names the
model file it was made from (sha256), the recipe, the calibration photos and how far it is from fp32 on
check photos it was not calibrated on.

The recipe keeps the picture: convolutions take 8-bit inputs and per-channel 8-bit weights, but the inputs of
instance normalisation and of the residual additions stay in floating point. Quantising those (NNCF's
defaults) moves a style's output by 2.3/255 on average with visible blotches; leaving them in floating point
brings it to ~0.7/255 at the same speed (benchmarks/int8_accuracy.py, docs/BENCHMARKS.md).

Making a form needs NNCF (the ``int8`` extra); running one needs only OpenVINO. Forms are found beside the
model (``<model>.int8.xml``: shipped models carry theirs) or in the cache, and are used only when their
record's sha256 matches the model file, so a form is never stale.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from percept.core.model_header import ModelInfo, file_sha256
from percept.engines.errors import EngineError

FORM_SUFFIX = ".int8.xml"


@dataclass(frozen=True)
class Int8Bound:
    """How far an int8 form may be from fp32, in 8-bit levels, to be trusted as a default."""

    mean: float = 1.5
    p999: float = 16.0


STYLE_BOUND = Int8Bound()
SR_BOUND = Int8Bound(mean=0.5, p999=8.0)  # an upscaler's PSNR must stay within ~0.05 dB of fp32


def bound_for(info: ModelInfo) -> Int8Bound:
    """The bound for a model (its ``ModelInfo``): styles may move more than upscalers, whose PSNR is scored."""
    return STYLE_BOUND if int(info.scale) == 1 else SR_BOUND


@dataclass(frozen=True)
class Int8Recipe:
    """How a form is quantised. Part of every cache key, so a changed recipe never serves an old form."""

    preset: str = "mixed"  # symmetric weights, asymmetric (unsigned) activations: what VNNI/AMX multiply
    kept_float: tuple[str, ...] = ("MVN", "Add")  # instance-norm and residual-sum inputs stay floating point
    fast_bias_correction: bool = True
    accuracy_control: bool = False  # NNCF reverts the layers that move the picture most until within the bound

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def describe(self) -> str:
        if self.accuracy_control:
            return "with the most sensitive layers in floating point"
        return "every convolution in int8"


# Tried in turn until a form is within its bound (accuracy first): every convolution in int8, then NNCF's
# accuracy control, which puts the convolutions that move the picture most back to floating point, one at a time.
RECIPES = (Int8Recipe(), Int8Recipe(accuracy_control=True))
RECIPE_KEYS = {r.key(): r for r in RECIPES}
AIM = 0.8  # a form is accepted within this share of its bound (on other photos it moves a little more)
GENERATION = hashlib.sha256("".join(RECIPE_KEYS).encode()).hexdigest()[:12]  # cache key of the recipe list


@dataclass(frozen=True)
class Int8Check:
    """An int8 form against fp32 on photos it was not calibrated on (8-bit outputs, levels of 255)."""

    mean: float
    p999: float
    worst: float
    photos: int

    def within(self, bound: Int8Bound) -> bool:
        return self.mean <= bound.mean and self.p999 <= bound.p999

    def describe(self) -> str:
        return f"{self.mean:.2f}/255 mean, {self.p999:.0f}/255 at the 99.9th percentile of fp32 on {self.photos} photos"


@dataclass(frozen=True)
class Int8Form:
    """A form on disk and its record."""

    xml: Path
    source_sha256: str
    recipe: str
    calibration: str  # what it was calibrated on, in words
    check: Int8Check | None
    held_out: Int8Check | None = None  # a second check on photos neither calibration nor accuracy control saw

    def within(self, bound: Int8Bound) -> bool:
        """Every check the form carries is within ``bound`` (a form without any check is not)."""
        checks = [c for c in (self.check, self.held_out) if c is not None]
        return bool(checks) and all(c.within(bound) for c in checks)

    @property
    def bin(self) -> Path:
        return self.xml.with_suffix(".bin")

    @property
    def record(self) -> Path:
        return self.xml.with_suffix(".json")

    def identity(self) -> str:
        """Tells this form from another made from the same model (its record differs: the check, the time)."""
        return hashlib.sha256(self.record.read_bytes()).hexdigest()[:12]


def form_beside(model_path: str | os.PathLike) -> Path:
    """Where a model's own form lives: ``wave.safetensors`` → ``wave.int8.xml``."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(path.suffix) + FORM_SUFFIX)


def form_in_cache(sha256: str) -> Path:
    from percept.engines.cache import cache_dir

    return cache_dir() / "int8" / f"{sha256[:24]}-{GENERATION}{FORM_SUFFIX}"


def read_form(xml: Path) -> Int8Form | None:
    """The form at ``xml`` with its record, or None where any of its three files is missing or unreadable."""
    record, weights = xml.with_suffix(".json"), xml.with_suffix(".bin")
    if not (xml.is_file() and weights.is_file() and record.is_file()):
        return None
    try:
        data = json.loads(record.read_text())
        check = Int8Check(**data["check"]) if data.get("check") else None
        held_out = Int8Check(**data["held_out"]) if data.get("held_out") else None
        return Int8Form(xml, str(data["source_sha256"]), str(data["recipe"]), str(data.get("calibration", "")), check,
                        held_out)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_form(model_path: str | os.PathLike, sha256: str | None = None) -> Int8Form | None:
    """The int8 form made from exactly this model file (beside it, then in the cache), or None."""
    sha = sha256 or file_sha256(model_path)
    for xml in (form_beside(model_path), form_in_cache(sha)):
        form = read_form(xml)
        if form is not None and form.source_sha256 == sha and form.recipe in RECIPE_KEYS:
            return form
    return None


def eight_bit_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a − b| of two [0, 1] images after rounding each to 8 bits, in levels."""
    return np.abs(np.round(np.clip(a, 0, 1) * 255) - np.round(np.clip(b, 0, 1) * 255)).ravel()


def compare(reference: Callable[[np.ndarray], np.ndarray], candidate: Callable[[np.ndarray], np.ndarray],
            photos: Sequence[np.ndarray]) -> Int8Check:
    """How far ``candidate`` is from ``reference`` on ``photos`` (each a 1×3×H×W float32 batch)."""
    diffs = np.concatenate([eight_bit_difference(candidate(x), reference(x)) for x in photos])
    return Int8Check(round(float(diffs.mean()), 3), float(np.percentile(diffs, 99.9)), float(diffs.max()), len(photos))


def load_nncf():
    """NNCF, or a one-line error saying how to install it."""
    try:
        import nncf
    except ImportError:
        from percept.core.extras import install_hint

        raise EngineError(f"making an int8 form needs NNCF ({install_hint('int8')})") from None
    import logging

    nncf.set_log_level(logging.WARNING)  # its INFO lines list every layer it leaves alone
    return nncf


def quantise(onnx_path: str | os.PathLike, calibration: Sequence[np.ndarray], recipe: Int8Recipe,
             check: Sequence[np.ndarray] = (), bound: Int8Bound = STYLE_BOUND):
    """The fp32 graph at ``onnx_path`` quantised by NNCF on ``calibration`` (1×3×H×W float32 batches); with
    accuracy control, layers go back to floating point until ``check`` is within ``bound`` of fp32."""
    nncf = load_nncf()
    from percept.engines.openvino_runtime import shared_core

    model = shared_core().read_model(str(onnx_path))
    options = dict(subset_size=len(calibration), preset=getattr(nncf.QuantizationPreset, recipe.preset.upper()),
                   fast_bias_correction=recipe.fast_bias_correction,
                   ignored_scope=nncf.IgnoredScope(types=list(recipe.kept_float), validate=False))
    if not recipe.accuracy_control:
        return nncf.quantize(model, nncf.Dataset(list(calibration)), **options)
    if not check:
        raise EngineError("accuracy control needs check photos")
    fp32 = shared_core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    pairs = [(x, np.array(fp32(x)[0])) for x in check]

    def within_bound(compiled, items) -> float:
        """10 at fp32, 9 at the bound; NNCF wants a metric that is higher when better, and not 0."""
        d = np.concatenate([eight_bit_difference(np.array(compiled(x)[0]), ref) for x, ref in items])
        return 10.0 - max(float(d.mean()) / bound.mean, float(np.percentile(d, 99.9)) / bound.p999)

    return nncf.quantize_with_accuracy_control(
        model, nncf.Dataset(list(calibration)), nncf.Dataset(pairs), within_bound, max_drop=0.999,
        drop_type=nncf.DropType.ABSOLUTE, **options)


def make_form(model_path: str | os.PathLike, calibration: Sequence[np.ndarray], check: Sequence[np.ndarray],
              out: Path | None = None, calibration_note: str = "",
              log: Callable[[str], None] | None = None) -> Int8Form:
    """Quantise a percept model file with each recipe in turn until one is within the model's bound on
    ``check`` (else the closest), and save that form atomically (``out``, default the cache), its record last:
    a form without a record is never read."""
    from percept.core.model_header import read_info
    from percept.engines.cache import cached_onnx

    if not calibration:
        raise EngineError(f"{model_path}: no calibration photos")
    sha = file_sha256(model_path)
    out = Path(out) if out is not None else form_in_cache(sha)
    if not out.name.endswith(FORM_SUFFIX):
        raise EngineError(f"{out}: an int8 form's file name ends in {FORM_SUFFIX}")
    full = bound_for(read_info(model_path))
    bound = Int8Bound(full.mean * AIM, full.p999 * AIM)  # room for photos it was not checked on, and bf16
    start = time.perf_counter()
    onnx_path = cached_onnx(model_path, log=log)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".int8-") as tmp:
        tried: list[tuple[Int8Recipe, Int8Check | None, Path]] = []
        for recipe in RECIPES:
            if recipe.accuracy_control and not check:
                break
            staged = Path(tmp) / recipe.key() / out.name
            result = _quantise_and_check(onnx_path, calibration, check, recipe, staged, bound)
            tried.append((recipe, result, staged))
            if result is None or result.within(bound):
                break
            if log:
                log(f"{Path(model_path).stem}: {recipe.describe()} is {result.describe()}: beyond the bound, trying "
                    "the next recipe")
        recipe, result, staged = min(tried, key=lambda t: (not (t[1] is None or t[1].within(bound)),
                                                           t[1].mean if t[1] else 0))
        os.replace(staged, out)
        os.replace(staged.with_suffix(".bin"), out.with_suffix(".bin"))
    form = Int8Form(out, sha, recipe.key(), calibration_note or f"{len(calibration)} photos", result)
    record = {"source_sha256": sha, "source": Path(model_path).name, "recipe": recipe.key(),
              "recipe_fields": asdict(recipe), "calibration": form.calibration,
              "check": asdict(result) if result else None, "seconds": round(time.perf_counter() - start, 1)}
    staged_record = out.with_suffix(".json.part")
    staged_record.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(staged_record, form.record)
    return form


def _quantise_and_check(onnx_path: Path, calibration: Sequence[np.ndarray], check: Sequence[np.ndarray],
                        recipe: Int8Recipe, staged: Path, bound: Int8Bound) -> Int8Check | None:
    from percept.engines.openvino_runtime import OpenVinoRuntime, openvino_module

    staged.parent.mkdir(parents=True, exist_ok=True)
    quantised = quantise(onnx_path, calibration, recipe, check, bound)
    openvino_module().save_model(quantised, str(staged), compress_to_fp16=False)
    if not check:
        return None
    reference = OpenVinoRuntime(onnx_path, precision="fp32")
    runtime = OpenVinoRuntime(onnx_path, precision="int8", int8_xml=staged, fp32_between=True)
    return compare(reference.run, runtime.run, check)


def copy_form(form: Int8Form, xml: Path) -> Int8Form:
    """The same form under another name (``percept quantize --out``)."""
    for src, dst in ((form.xml, xml), (form.bin, xml.with_suffix(".bin")), (form.record, xml.with_suffix(".json"))):
        shutil.copyfile(src, dst)
    return Int8Form(xml, form.source_sha256, form.recipe, form.calibration, form.check, form.held_out)
