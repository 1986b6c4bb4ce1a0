"""Give the shipped models their one-line descriptions (shown by ``percept models``).

Rewrites only the metadata of each zoo file (weights are re-saved bit-identically in float16).
Usage: python tools/describe_zoo.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from percept.core.zoo import list_models  # noqa: E402
from percept.train.checkpoint import load_model, save_model  # noqa: E402

DESCRIPTIONS = {
    "starry-night": "Van Gogh, The Starry Night (1889): swirling blue and yellow brushwork",
    "wave": "Hokusai, The Great Wave off Kanagawa: woodblock blues and foam",
    "the-scream": "Munch, The Scream (1893): swirling orange sky and dark flowing lines",
    "feathers": "Feathers: watercolour washes and fine feather lines in green, pink and lilac on pale paper",
    "udnie": "Picabia, Udnie (1913): cubist fragments in warm tones",
    "la-muse": "Picasso, La Muse (1935): bold outlines and flat colour",
    "rain-princess": "Afremov, Rain Princess: mosaic of glowing yellow, red and blue palette-knife strokes",
    "candy": "Candy: cherry red, gold and dusky pink with dark outlines (not its round flowers)",
    "mosaic": "Mosaic: stained-glass panes in pastel colours with dark lead lines",
    "sr-x2-pixel": "×2 upscaler (SubPixelSR: every convolution at the input resolution), pixel (MSE) loss: "
                   "the ×2 default for clean pictures",
    "sr-x2-real": "×2 upscaler for real photos (SubPixelSR 48), trained on one pass of phone and web damage "
                  "(blur, noise, JPEG): removes the JPEG grid sr-x2-pixel sharpens; the ×2 default for "
                  "JPEG-damaged pictures and clips",
    "sr-x4-pixel": "×4 upscaler (SubPixelSR, 64 channels, every convolution at the input resolution), pixel "
                   "(MSE) loss: highest PSNR on clean input (Set5 31.15 dB, BSD100 27.21), the ×4 default for "
                   "clean pictures",
    "sr-x4-real": "×4 upscaler for real photos (SubPixelSR 64), trained on synthetic photo damage (blur, resize, "
                  "noise, JPEG): removes the JPEG grid and ringing sr-x4-pixel sharpens; the ×4 default for "
                  "JPEG-damaged pictures and clips",
    "sr-x4-feature": "×4 upscaler (SubPixelSR, 64 channels), feature (perceptual) loss at relu2_2 with detail "
                     "and grid terms: sharper edges and texture than sr-x4-pixel, no cross-hatch",
    "sr-x8-pixel": "×8 upscaler, pixel (MSE) loss, the default for --scale 8",
}


def update_card(name: str, text: str) -> None:
    """The card's third line is the model's description (see tools/model_card.py)."""
    card = ROOT / "docs" / "models" / f"{name}.md"
    if card.is_file():
        lines = card.read_text().split("\n")
        if len(lines) > 2 and lines[2] != text:
            lines[2] = text
            card.write_text("\n".join(lines))


def main() -> None:
    for m in list_models():
        text = DESCRIPTIONS.get(m.name)
        if text is None:
            continue
        update_card(m.name, text)
        if m.info.description == text:
            continue
        net, info = load_model(m.path)
        info.description = text
        save_model(m.path, net, info, half=True)
        print(f"{m.name}: {text}")


if __name__ == "__main__":
    main()
