"""Video clips through ``percept stylize`` / ``percept upscale``: frames, rate, size and audio kept; an
interrupted clip leaves no output and resumes from its finished segments; outputs beyond H.264 are refused up
front; ``--temporal`` flickers less than per-frame processing."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from process_helpers import clip_facts, make_clip, photo, save_sr_model, save_style_model
from typer.testing import CliRunner

import percept.pipeline.video as video
from percept.cli.app import app

pytest.importorskip("av")
runner = CliRunner()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return SimpleNamespace(style=save_style_model(d / "style.safetensors"),
                           sr=save_sr_model(d / "sr.safetensors", bicubic=True),
                           sr8=save_sr_model(d / "sr8.safetensors", scale=8, bicubic=True))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4")


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args] + ["--backend", "torch"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def test_a_24_frame_clip_with_audio_stylises_to_24_frames_at_24_fps_with_its_audio(tmp_path, models, clip):
    result = cli("stylize", clip, "--style", models.style, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "clip_test-style.mp4"
    src, got = clip_facts(clip), clip_facts(out)
    assert got["frames"] == 24 and got["rate"] == 24 and got["size"] == (64, 48)
    assert [name for name, _ in got["audio"]] == ["aac"]
    assert got["audio"][0][1] == pytest.approx(src["audio"][0][1], abs=0.05)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".clip")]  # parts removed
    rerun = cli("stylize", clip, "--style", models.style, "--out", tmp_path / "out")
    assert "skipped 1" in rerun.output


def test_upscale_x4_clip_and_a_bad_clip_fails_alone(tmp_path, models, clip):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    Image.fromarray(photo(16, 16)).save(tmp_path / "in" / "photo.png")
    clip_copy = tmp_path / "in" / "clip.mp4"
    clip_copy.write_bytes(clip.read_bytes())
    result = cli("upscale", tmp_path / "in", "--model", models.sr, "--out", tmp_path / "hr")
    assert result.exit_code == 1, result.output
    assert "failed: " in result.output and "broken.mp4" in result.output
    got = clip_facts(tmp_path / "hr" / "clip_x4.mp4")
    assert got["frames"] == 24 and got["size"] == (256, 192)
    # the model is exactly bicubic: frames match a bicubic upscale of the source frames (codec noise aside)
    src = clip_facts(clip)["pixels"][5]
    ref = np.asarray(Image.fromarray(src).resize((256, 192), Image.BICUBIC), np.float32)
    assert np.abs(got["pixels"][5].astype(np.float32) - ref).mean() < 4.0
    assert (tmp_path / "hr" / "photo_x4.png").is_file()
    assert not (tmp_path / "hr" / "broken_x4.mp4").exists()


def test_an_interrupted_clip_leaves_no_output_and_the_rerun_resumes_its_segments(tmp_path, models, clip,
                                                                                  monkeypatch):
    monkeypatch.setattr(video.VideoProcessor.__init__, "__defaults__",
                        (video.DEFAULT_CRF, True, 0.25, None))  # segments of 6 frames
    closed = []
    real_close = video.VideoWriter.close

    def close_then_interrupt(self):
        real_close(self)
        closed.append(self.path.name)
        if len(closed) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(video.VideoWriter, "close", close_then_interrupt)
    out = tmp_path / "out"
    result = cli("stylize", clip, "--style", models.style, "--out", out)
    assert result.exit_code == 130, result.output
    assert not (out / "clip_test-style.mp4").exists()
    parts = [p for p in out.iterdir() if p.name.startswith(".clip_test-style.mp4.parts")]
    assert len(parts) == 1 and sorted(p.name for p in parts[0].iterdir()) == ["seg-00000.ts", "seg-00001.ts"]

    monkeypatch.setattr(video.VideoWriter, "close", real_close)
    encoded = []
    real_write = video.VideoWriter.write
    monkeypatch.setattr(video.VideoWriter, "write", lambda self, rgb, pts: (encoded.append(pts),
                                                                            real_write(self, rgb, pts)))
    result = cli("stylize", clip, "--style", models.style, "--out", out)
    assert result.exit_code == 0, result.output
    assert "resumed" in result.output
    assert len(encoded) == 12  # only the two unfinished segments were computed again
    got = clip_facts(out / "clip_test-style.mp4")
    assert got["frames"] == 24 and got["rate"] == 24 and [a for a, _ in got["audio"]] == ["aac"]
    assert not parts[0].exists()


def test_a_phone_clip_recorded_sideways_keeps_its_display_rotation(tmp_path, models):
    phone = make_clip(tmp_path / "phone.mp4", frames=3, audio=False, rotation=90)
    assert clip_facts(phone)["rotation"] == 90
    result = cli("stylize", phone, "--style", models.style, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    got = clip_facts(tmp_path / "out" / "phone_test-style.mp4")
    assert got["rotation"] == 90 and got["size"] == (64, 48)


def test_an_output_beyond_h264_is_refused_up_front_in_one_line(tmp_path, models):
    big = make_clip(tmp_path / "wide.mp4", frames=2, size=(1040, 64), audio=False)  # ×8 → 8320 px wide
    result = cli("upscale", big, "--model", models.sr8, "--out", tmp_path / "out")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(big) in lines[0] and "8320×512" in lines[0] and "H.264" in lines[0], result.output
    assert not (tmp_path / "out").exists()


def test_temporal_flickers_less_than_per_frame_on_a_steady_noisy_clip(tmp_path):
    steady = make_clip(tmp_path / "steady.mp4", frames=12, size=(96, 64), audio=False, noise=3.0)
    flicker = {}
    for mode in ("--per-frame", "--temporal"):
        out = tmp_path / mode.strip("-")
        result = cli("stylize", steady, "--style", "wave", "--out", out, mode)
        assert result.exit_code == 0, result.output
        frames = clip_facts(out / "steady_wave.mp4")["pixels"].astype(np.float32)
        flicker[mode] = np.abs(np.diff(frames, axis=0)).mean()
    assert flicker["--temporal"] < 0.8 * flicker["--per-frame"], flicker


def test_opening_video_leaves_ffmpegs_log_callback_off():
    """With PyAV's Python log callback installed, closing a threaded decoder could deadlock (the interrupted-clip
    test hung about one run in ten); percept must not install it."""
    av = video._av()
    assert av.logging.get_level() is None
