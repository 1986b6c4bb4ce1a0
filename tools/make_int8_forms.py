"""Make the shipped models' int8 forms (core/zoo/NAME.int8.{xml,bin,json}) and print how far each is from fp32.

    python tools/make_int8_forms.py [--data ../shared/data/train] [--models wave,sr-x4-pixel]

Each model is calibrated on 64 photos of --data spread over the folder and checked on 64 others (accuracy
control uses them too: a few photos carry most of the large differences, so few check photos miss them);
the last 64 by name are left out: benchmarks/int8_accuracy.py measures on them. The form's record keeps
the check. Needs the int8 extra (NNCF).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from percept.core.zoo import list_models
from percept.engines.int8 import bound_for, form_beside, make_form
from percept.pipeline.calibration import calibration_side, split_calibration

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "train")
    ap.add_argument("--models", default="", help="comma list of zoo names (default: all)")
    ap.add_argument("--check", type=int, default=64, help="check photos after the 64 calibration photos")
    args = ap.parse_args()
    wanted = set(filter(None, args.models.split(",")))
    print(f"{'model':<16}{'mean/255':>10}{'p99.9':>7}{'max':>6}  within bound")
    for m in list_models():
        if wanted and m.name not in wanted:
            continue
        used, checked, _ = split_calibration(args.data, 64, args.check, m.info, hold_out=64)
        note = f"{len(used)} photos spread over the training set, long side {calibration_side(m.info)} px"
        form = make_form(m.path, used, checked, out=form_beside(m.path), calibration_note=note)
        c = form.check
        print(f"{m.name:<16}{c.mean:>10.2f}{c.p999:>7.0f}{c.worst:>6.0f}  {c.within(bound_for(m.info))}", flush=True)


if __name__ == "__main__":
    main()
