"""Which job each input gets: the one model a user named, or the default upscaler that fits the picture.

Without ``--model``, ``percept upscale`` has two shipped models per scale: one trained on clean bicubic
input (highest quality on lossless pictures) and one trained on real-photo damage (JPEG, noise, blur),
which removes the JPEG grid a clean-input model would sharpen. A picture's own file decides
(``percept.pipeline.jpeg_traces``): JPEG tables or JPEG steps in its pixels below quality 90 → the real-photo
model; clips (always lossy-compressed) → the real-photo model; everything else → the clean one. Each
input's job is fixed at planning, so the skip record, the Ray actors and the clips all see the same choice.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from percept.pipeline.job import Job

Reader = Callable[[PurePath], bytes]  # reads an input that is not a local file (a store's)


@dataclass(frozen=True)
class Choice:
    job: Job
    reason: str


@dataclass
class ModelChoice:
    """``jobs``: the candidate jobs by picture kind ("any" for a single model; "clean"/"jpeg" for the
    default upscalers); ``classify`` says which kind a picture is, and why."""

    jobs: dict[str, Job]
    classify: Callable[[PurePath, Reader | None], tuple[str, str]] | None = None
    reason: str = ""  # a single default model: why it (said once per run); "" for a model the user named
    chosen: dict[PurePath, Choice] = field(default_factory=dict)

    @classmethod
    def single(cls, job: Job, reason: str = "") -> ModelChoice:
        return cls({"any": job}, reason=reason)

    @property
    def is_default(self) -> bool:
        return self.classify is not None or bool(self.reason)

    def choose(self, path: PurePath, read: Reader | None = None) -> Choice:
        """The job for ``path`` (remembered, so planning and running agree)."""
        if path not in self.chosen:
            if self.classify is None:
                self.chosen[path] = Choice(self.jobs["any"], self.reason)
            else:
                kind, reason = self.classify(path, read)
                self.chosen[path] = Choice(self.jobs[kind], reason)
        return self.chosen[path]

    def model_and_reason(self, path: PurePath) -> tuple[str, str]:
        """The model's name for ``path`` and, when percept chose it per picture, why (else "")."""
        picked = self.choose(path)
        return picked.job.model.path.stem, picked.reason if self.classify is not None else ""

    def job(self, path: PurePath) -> Job:
        return self.choose(path).job

    @property
    def first(self) -> Job:
        return next(iter(self.jobs.values()))


def picture_kind(path: PurePath, read: Reader | None = None) -> tuple[str, str]:
    """``("jpeg", why)`` for a picture with visible JPEG damage or a clip, ``("clean", why)`` otherwise.
    A file that cannot be read counts as clean here; the pipeline then reports why it cannot be read."""
    from percept.pipeline.jpeg_traces import jpeg_traces
    from percept.pipeline.video import is_video

    if is_video(Path(path)):
        return "jpeg", "a compressed video"
    try:
        source = io.BytesIO(read(path)) if read is not None else Path(path)
        traces = jpeg_traces(source)
    except Exception:  # unreadable, truncated, not an image: the decoder says so with the file's name
        return "clean", "not readable here"
    return ("jpeg" if traces.damaged else "clean"), traces.describe()


def default_upscaling(make_job: Callable[..., Job], scale: int, detail: float | None = None) -> ModelChoice:
    """The default of ``percept upscale --scale N``: the clean and the real-photo model of that scale, by picture;
    one model where a scale has no real-photo model. ``detail`` (``--detail``) blends the real-photo model with
    its partner; clean pictures keep the clean model."""
    from percept.core.zoo import default_sr_model, real_photo_sr_model

    real = real_photo_sr_model(scale)
    if real is None:
        if detail is not None:
            from percept.core.errors import UserError

            raise UserError(f"--detail: ×{scale} has no real-photo model pair; pass --model")
        return ModelChoice.single(make_job(default_sr_model(scale)), f"the default for ×{scale}")
    clean = make_job(default_sr_model(scale))
    return ModelChoice({"clean": clean, "jpeg": make_job(real, detail)}, classify=picture_kind)
