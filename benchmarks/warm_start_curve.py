"""How much sooner a warm start (``train-style --init``) reaches a cold start's objective, from two runs'
``losses.csv`` (same painting, recipe and seed; only ``--init`` differs).

    python benchmarks/warm_start_curve.py runs/rain-quick runs/rain-cold --plot docs/img/warm_vs_cold_rain-princess.png

The training objective is noisy (a new random batch each step), so both curves are smoothed with a
trailing mean over ``--window`` steps. The table gives, for the cold run's objective at several steps,
the first step at which the warm run was at least as low, and the ratio of the two (steps are images, so
this is the ratio of CPU time at equal throughput).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from percept.train.plot import trailing_mean


def load(run: Path, column: str) -> list[float]:
    """One column of a run's ``losses.csv``, or a sum of columns (``content+style``: the paper's objective,
    which leaves out terms only one of the two runs pays, such as the spike penalty)."""
    with open(run / "losses.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    names = column.split("+")
    missing = [n for n in names if rows and n not in rows[0]]
    if missing:
        raise SystemExit(f"{run / 'losses.csv'}: no column {', '.join(missing)} (has {', '.join(rows[0])})")
    return [sum(float(r[n]) for n in names) for r in rows]


def first_at_or_below(curve: list[float], level: float) -> int | None:
    return next((i + 1 for i, v in enumerate(curve) if v <= level), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("warm", type=Path)
    ap.add_argument("cold", type=Path)
    ap.add_argument("--column", default="total", help="a losses.csv column or a sum, e.g. content+style")
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    warm = trailing_mean(load(args.warm, args.column), args.window)
    cold = trailing_mean(load(args.cold, args.column), args.window)
    print(f"objective ({args.column}, trailing mean of {args.window} steps): warm {args.warm}, cold {args.cold}")
    print(f"{'cold step':>10} {'cold objective':>15} {'warm step to match':>19} {'sooner':>7}")
    n = len(cold)
    for step in sorted({max(args.window, n // 4), n // 2, 3 * n // 4, n}):
        level = cold[step - 1]
        matched = first_at_or_below(warm, level)
        ratio = f"{step / matched:.1f}×" if matched else "–"
        print(f"{step:>10} {level:>15.3f} {matched if matched else 'never':>19} {ratio:>7}")
    # The other way round, for a cold run longer than the warm one: where the cold run reached the warm
    # run's end (each run's cosine schedule ends at its own length, so this compares finished runs).
    end = warm[-1]
    reached = first_at_or_below(cold, end)
    print(f"the warm run ends at {end:.3f} (step {len(warm)}); the cold run reached that at step "
          f"{reached if reached else f'never (its end: {cold[-1]:.3f})'}"
          + (f": {reached / len(warm):.1f}× the warm run's steps" if reached else ""))
    if args.plot:
        from percept.train.plot import plot_losses

        n = max(len(warm), len(cold))
        plot_losses(list(range(1, n + 1)), {"warm start": warm, "cold start": cold}, args.plot,
                    title=f"training objective ({args.column}, mean of {args.window} steps), log scale, per step")
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
