"""The Ray Data stages of a ``--ray`` job: read, decode, the inference actor, write (``percept.pipeline.scaleout``
runs them).

Why a module of its own: Ray imports the module of each stage function in every worker process. This one
imports only what reading, decoding and writing need (no torch), so the many small CPU tasks start in a
fraction of a second; only the inference actors load a runtime and the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from percept.pipeline.job import Job
from percept.pipeline.storage import Store, put_file, read_bytes


@dataclass(frozen=True)
class RayJob:
    """The job an inference actor runs (``percept.pipeline.job.Job``, as the local pipeline's) and the model file's
    bytes in Ray's object store, so no node needs its own copy."""

    job: Job
    sha256: str
    data: list  # [ObjectRef of the file's bytes]: resolved by the actor itself

    @property
    def name(self) -> str:
        return self.job.model.path.name  # its suffix says which loader


def read_row(row: dict[str, Any], store: Store) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        row["data"] = read_bytes(store, row["source"])
    except Exception as exc:  # gone since planning, permissions, a store error: this file only
        row["error"] = f"cannot read ({type(exc).__name__}: {str(exc)[:200]})"
    row["seconds"] += time.perf_counter() - t0
    return row


def decode_row(row: dict[str, Any], max_pixels: int) -> dict[str, Any]:
    from percept.pipeline.imageio import ImageReadError, configure_pixel_limit, read_image

    t0 = time.perf_counter()
    if not row["error"]:
        configure_pixel_limit(max_pixels)
        try:
            picture = read_image(row["source"], max_pixels, data=row["data"])
            row["picture"] = pickle.dumps(picture, protocol=pickle.HIGHEST_PROTOCOL)
        except ImageReadError as exc:
            row["error"] = str(exc)
        except Exception as exc:
            row["error"] = f"cannot read ({type(exc).__name__}: {exc})"
    row["data"] = b""
    row["seconds"] += time.perf_counter() - t0
    return row


def cached_model(spec: RayJob) -> Path:
    """The model file on this node, written once from the object store (every actor of the node, and the
    ONNX/engine caches keyed by its hash, then share it)."""
    import ray

    from percept.engines.cache import cache_dir

    path = cache_dir() / "ray-models" / spec.sha256[:24] / spec.name
    if not path.is_file():
        from percept.core.atomic import atomic_path

        data = ray.get(spec.data[0])
        if hashlib.sha256(data).hexdigest() != spec.sha256:
            raise RuntimeError(f"{spec.name}: the model bytes from the object store do not match their hash")
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    return path


class InferenceActor:
    """One model per actor (one per GPU share): ``Inferencer.process_many`` over each batch of pictures."""

    def __init__(self, spec: RayJob):
        from percept.core.devices import set_threads

        job = spec.job
        set_threads(max(1, job.model.threads))
        runtime = job.open_runtime(job.model.device, path=cached_model(spec))
        self.inferencer = job.inferencer(runtime)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        from percept.pipeline.inference import PieceFailed

        t0 = time.perf_counter()
        rows = [{k: batch[k][i] for k in batch} for i in range(len(batch["index"]))]
        ready = [r for r in rows if not r["error"]]
        outputs = self.inferencer.process_many([pickle.loads(r["picture"]) for r in ready])
        for r, out in zip(ready, outputs):
            if isinstance(out, PieceFailed):
                r["error"], r["picture"] = str(out), b""
            else:
                r["picture"] = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
            r["worker"] = self.worker
        share = (time.perf_counter() - t0) / max(1, len(ready))
        for r in ready:
            r["seconds"] += share
        return {k: np.array([r[k] for r in rows], dtype=object) for k in batch}


def write_row(row: dict[str, Any], store: Store, quality: int, png_level: int) -> dict[str, Any]:
    from percept.pipeline.imageio import write_image

    t0 = time.perf_counter()
    if not row["error"]:
        picture = pickle.loads(row["picture"])
        try:
            if not store.scheme:  # a plain (shared) path: written in place, atomically
                notes = write_image(row["output"], picture, row["format"], quality, png_level)
            else:
                with tempfile.TemporaryDirectory(prefix="percept-") as tmp:
                    local = Path(tmp) / PurePosixPath(row["output"]).name
                    notes = write_image(local, picture, row["format"], quality, png_level)
                    put_file(store, local, row["output"])
            row["notes"] = json.dumps(list(picture.notes) + notes)
        except Exception as exc:
            row["error"] = f"cannot write {store.uri(row['output'])} ({type(exc).__name__}: {exc})"
    if row["error"] and row["picture"]:
        row["notes"] = json.dumps(list(pickle.loads(row["picture"]).notes))
    row["picture"] = b""
    row["seconds"] += time.perf_counter() - t0
    return row
