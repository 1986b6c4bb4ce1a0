"""Make the shipped models' int8 forms (core/zoo/NAME.int8.{xml,bin,json}) and print how far each is from fp32.

    python tools/make_int8_forms.py [--data ../shared/data/train] [--models wave,sr-x4-pixel]

Each model is calibrated on 64 photos of --data spread over the folder and checked on 64 others (accuracy
control uses them too: a few photos carry most of the large differences, so few check photos miss them);
the last 64 by name are left out, and the form is measured on them afterwards (as this CPU runs it, against
OpenVINO fp32); that second check goes into the record and the default needs both within the bound.
Needs the int8 extra (NNCF).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from percept.core.atomic import atomic_path
from percept.core.zoo import list_models
from percept.engines.cache import cached_onnx
from percept.engines.int8 import Int8Check, bound_for, compare, find_form, form_beside, make_form
from percept.engines.openvino_runtime import OpenVinoRuntime
from percept.pipeline.calibration import calibration_side, held_out_pictures, split_calibration

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "train")
    ap.add_argument("--models", default="", help="comma list of zoo names (default: all)")
    ap.add_argument("--check", type=int, default=64, help="check photos after the 64 calibration photos")
    ap.add_argument("--held-out-only", action="store_true", help="only (re)measure the forms on the held-out photos")
    args = ap.parse_args()
    wanted = set(filter(None, args.models.split(",")))
    print(f"{'model':<16}{'held-out mean/255':>18}{'p99.9':>7}{'max':>6}  check within, held-out within")
    for m in list_models():
        if wanted and m.name not in wanted:
            continue
        if not args.held_out_only:
            used, checked, _ = split_calibration(args.data, 64, args.check, m.info, hold_out=64)
            note = f"{len(used)} photos spread over the training set, long side {calibration_side(m.info)} px"
            make_form(m.path, used, checked, out=form_beside(m.path), calibration_note=note)
        form = find_form(m.path)
        c = record_held_out(m, form, held_out_pictures(args.data, 64, calibration_side(m.info)))
        print(f"{m.name:<16}{c.mean:>10.2f}{c.p999:>7.0f}{c.worst:>6.0f}  {form.check.within(bound_for(m.info))} "
              f"{c.within(bound_for(m.info))}", flush=True)


def record_held_out(m, form, photos: list[np.ndarray]) -> Int8Check:
    """The form against OpenVINO fp32 on the held-out photos, as it runs on this CPU, kept in its record: a
    second check the default reads (``Int8Form.within``)."""
    onnx_path = cached_onnx(m.path)
    check = compare(OpenVinoRuntime(onnx_path, "fp32").run,
                    OpenVinoRuntime(onnx_path, "int8", int8_xml=form.xml).run, photos)
    record = json.loads(form.record.read_text())
    record["held_out"] = asdict(check)
    with atomic_path(form.record) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    return check


if __name__ == "__main__":
    main()
