"""Print the SR results table of docs/SUPER_RESOLUTION.md from the model cards' measured eval JSON files
(docs/models/*.eval.json, written by tools/model_card.py), next to the paper's SRCNN numbers.

Usage: python tools/sr_summary.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRCNN_X4 = {"Set5": 30.48, "Set14": 27.49, "BSD100": 26.90}  # the paper's table (PSNR, dB)
SETS = ("Set5", "Set14", "BSD100")


def main() -> None:
    for scale in (4, 8):
        rows: dict[str, dict[str, str]] = {}
        for path in sorted((ROOT / "docs" / "models").glob("*.eval.json")):
            data = json.loads(path.read_text())
            if not data or next(iter(data.values()))["scale"] != scale:
                continue
            for dataset, record in data.items():
                for name, r in record["results"].items():
                    rows.setdefault(name, {})[dataset] = f"{r['psnr']:.2f} / {r['ssim']:.4f}"
        if not rows:
            continue
        print(f"\n×{scale} — PSNR (dB) / SSIM, Y channel, border {scale}\n")
        print("| method | " + " | ".join(SETS) + " |\n|---|" + "---|" * len(SETS))
        bicubic = rows.pop("bicubic", {})
        print("| bicubic | " + " | ".join(bicubic.get(s, "-") for s in SETS) + " |")
        if scale == 4:
            print("| SRCNN (paper's table, PSNR only) | " + " | ".join(f"{SRCNN_X4[s]:.2f}" for s in SETS) + " |")
        for name, cells in sorted(rows.items()):
            print(f"| {name} | " + " | ".join(cells.get(s, "-") for s in SETS) + " |")


if __name__ == "__main__":
    main()
