"""Image fidelity of percept.pipeline.imageio: orientation, ICC/EXIF, alpha, grey/palette/CMYK, 16-bit, animation,
bomb guard, and one-line reasons for unreadable files."""

from __future__ import annotations

import io
import os
import stat

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps
from process_helpers import photo

from percept.pipeline.imageio import ImageReadError, Picture, encode_png16, read_image, write_image

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_with(orientation: int | None = None, make: str = "PerceptCam") -> bytes:
    ex = Image.Exif()
    ex[0x010F] = make
    if orientation:
        ex[0x0112] = orientation
    return ex.tobytes()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_pillow(tmp_path, orientation):
    p = tmp_path / "o.png"
    Image.fromarray(photo(6, 10)).save(p, exif=exif_with(orientation))
    pic = read_image(p)
    ref = np.asarray(ImageOps.exif_transpose(Image.open(p)))
    assert pic.rgb.shape == ref.shape
    assert np.abs(pic.float_rgb() * 255 - ref).max() < 1e-3
    assert Image.Exif().__class__  # the carried EXIF has orientation reset
    ex = Image.Exif()
    ex.load(pic.exif)
    assert ex.get(0x0112, 1) == 1 and ex[0x010F] == "PerceptCam"


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"), ("TIFF", "tif")])
def test_icc_and_exif_carried_to_every_format(tmp_path, fmt, ext):
    src = tmp_path / "in.jpg"
    Image.fromarray(photo(12, 16)).save(src, quality=95, icc_profile=SRGB, exif=exif_with(6))
    pic = read_image(src)
    assert pic.icc == SRGB and pic.rgb.shape == (16, 12, 3)
    assert pic.rgb.dtype == np.uint8  # 8-bit photos stay uint8 (a quarter of float32) until the model
    out = tmp_path / f"out.{ext}"
    write_image(out, pic, fmt)
    im = Image.open(out)
    assert im.format == fmt and im.size == (12, 16)
    assert im.info.get("icc_profile") == SRGB
    ex = im.getexif()
    assert ex.get(0x0112, 1) == 1 and ex.get(0x010F) == "PerceptCam"
    assert stat.S_IMODE(os.stat(out).st_mode) & 0o044, "outputs get the usual mode, not mkstemp's 0600"


def test_rgba_alpha_kept_and_not_flattened(tmp_path):
    a = photo(10, 12)
    alpha = np.tile(np.linspace(0, 255, 12).astype(np.uint8), (10, 1))
    p = tmp_path / "a.png"
    Image.fromarray(np.dstack([a, alpha])).save(p)
    pic = read_image(p)
    assert pic.alpha is not None and np.abs(pic.float_alpha() * 255 - alpha).max() < 1e-3
    assert np.abs(pic.float_rgb() * 255 - a).max() < 1e-3  # colour under transparent pixels is not blackened
    write_image(tmp_path / "b.png", pic, "PNG")
    back = np.asarray(Image.open(tmp_path / "b.png"))
    assert back.shape == (10, 12, 4) and (back[..., 3] == alpha).all() and (back[..., :3] == a).all()
    notes = write_image(tmp_path / "c.jpg", pic, "JPEG")  # JPEG: onto white, never black
    assert "white" in notes[0]
    flat = np.asarray(Image.open(tmp_path / "c.jpg")).astype(int)
    assert flat[:, 0].mean() > 240  # fully transparent column became white


def test_palette_with_transparency_and_greyscale(tmp_path):
    pal = Image.fromarray(photo(8, 8)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    p = tmp_path / "p.png"
    pal.save(p, transparency=0)
    pic = read_image(p)
    ref = np.asarray(Image.open(p).convert("RGBA"))
    assert pic.alpha is not None and np.abs(pic.float_alpha() * 255 - ref[..., 3]).max() < 1e-3
    assert np.abs(pic.float_rgb() * 255 - ref[..., :3]).max() < 1e-3

    g = tmp_path / "g.png"
    Image.fromarray(photo(8, 9)[..., 0]).save(g)
    pic = read_image(g)
    assert pic.grey and pic.bits == 8
    assert np.array_equal(pic.rgb[..., 0], pic.rgb[..., 1]) and np.array_equal(pic.rgb[..., 1], pic.rgb[..., 2])
    write_image(tmp_path / "g2.png", pic, "PNG")
    assert Image.open(tmp_path / "g2.png").mode == "L"


def test_cmyk_jpeg_colours_match_rgb_conversion(tmp_path):
    p = tmp_path / "cmyk.jpg"
    Image.fromarray(photo(16, 20)).convert("CMYK").save(p, quality=95)
    assert Image.open(p).mode == "CMYK"
    pic = read_image(p)
    ref = np.asarray(Image.open(p).convert("RGB")).astype(np.float32)
    assert np.abs(pic.float_rgb() * 255 - ref).max() < 1e-3
    assert pic.icc is None  # no CMYK profile may travel with RGB pixels


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_png_read_and_written_without_quantising(tmp_path, channels):
    rng = np.random.default_rng(channels)
    a = rng.integers(0, 65536, size=(9, 7, channels), dtype=np.uint16)
    p = tmp_path / "in.png"
    p.write_bytes(encode_png16(a, icc=SRGB if channels >= 3 else None))
    pic = read_image(p)
    assert pic.bits == 16 and pic.grey == (channels <= 2) and (pic.alpha is not None) == (channels in (2, 4))
    assert pic.rgb.dtype == np.uint16  # kept in the source's depth, not as floats
    colour = pic.float_rgb()[..., :1] if pic.grey else pic.float_rgb()
    assert np.abs(colour * 65535 - a[..., : (1 if channels <= 2 else 3)]).max() < 0.02  # not 8-bit steps
    write_image(tmp_path / "out.png", pic, "PNG")
    data = (tmp_path / "out.png").read_bytes()
    back = imagecodecs.png_decode(data)
    assert back.dtype == np.uint16 and np.array_equal(back.reshape(a.shape), a)
    if channels >= 3:
        assert Image.open(tmp_path / "out.png").info.get("icc_profile") == SRGB
    if channels == 1:  # Pillow sees it as 16-bit greyscale too
        assert Image.open(io.BytesIO(data)).mode == "I;16"


def test_16bit_tiff_roundtrip_and_pillow_native_16bit_grey(tmp_path):
    a = np.random.default_rng(0).integers(0, 65536, size=(6, 5, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", a, photometric="rgb")
    pic = read_image(tmp_path / "in.tif")
    assert pic.bits == 16 and np.abs(pic.float_rgb() * 65535 - a).max() < 0.02
    write_image(tmp_path / "out.tif", pic, "TIFF")
    back = tifffile.imread(tmp_path / "out.tif")
    assert back.dtype == np.uint16 and np.array_equal(back, a)
    g = np.random.default_rng(1).integers(0, 65536, size=(5, 4), dtype=np.uint16)
    Image.fromarray(g).save(tmp_path / "g.png")
    pic = read_image(tmp_path / "g.png")
    assert pic.bits == 16 and pic.grey and np.abs(pic.float_rgb()[..., 0] * 65535 - g).max() < 0.02


def test_animated_gif_gives_first_frame_with_note(tmp_path):
    frames = [Image.new("RGB", (8, 6), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=50)
    pic = read_image(p)
    assert "animated (3 frames)" in pic.notes[0]
    assert pic.float_rgb()[..., 0].mean() > 0.9 and pic.float_rgb()[..., 1].mean() < 0.1  # the red first frame


def test_unreadable_files_give_one_line_reasons(tmp_path):
    good = tmp_path / "good.jpg"
    Image.fromarray(photo(64, 64)).save(good, quality=90)
    data = good.read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello, not a picture")
    cases = {"trunc.jpg": "truncated", "empty.png": "empty", "text.jpg": "not an image"}
    for name, word in cases.items():
        with pytest.raises(ImageReadError, match=word):
            read_image(tmp_path / name)
    with pytest.raises(ImageReadError, match="too large"):
        read_image(good, max_pixels=64 * 64 - 1)
    assert read_image(good, max_pixels=64 * 64).rgb.shape == (64, 64, 3)


def test_writes_are_atomic_on_failure(tmp_path):
    pic = Picture(rgb=np.zeros((4, 4, 3), np.float32))
    with pytest.raises(KeyError):
        write_image(tmp_path / "x.bmp", pic, "NOPE")
    assert list(tmp_path.iterdir()) == []


def test_the_numpy_png16_decoder_reads_what_libpng_writes_with_every_filter(monkeypatch):
    """The base install reads 16-bit PNGs without imagecodecs: percept's decoder undoes libpng's adaptive
    filters (None, Sub, Up, Average, Paeth) to the same samples, and the reader uses it when imagecodecs is
    missing."""
    import sys

    from percept.pipeline.imageio import _decode_png16
    from percept.pipeline.png16 import decode_png16

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:40, 0:56]
    smooth = np.stack([(x * 900) % 65536, (y * 1500) % 65536, (x * y * 37) % 65536], -1).astype(np.uint16)
    for a in (smooth, (rng.random((9, 13, 4)) * 65535).astype(np.uint16), np.ascontiguousarray(smooth[..., 0])):
        data = imagecodecs.png_encode(a)
        got = decode_png16(data)
        assert np.array_equal(got.reshape(a.shape), a)
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # as on the base install
    assert np.array_equal(_decode_png16(imagecodecs.png_encode(smooth)), smooth)
