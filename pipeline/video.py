"""Video clips through the same Inferencer as photos, streamed from decoder to encoder with PyAV (FFmpeg).

Why this shape:
  * **Streaming.** Frames go decoder → model → encoder one batch at a time; no folder of frames, so memory
    and disk stay bounded on a long 4K clip.
  * **Resumable, never partial.** The stylised frames are encoded in segments of ``segment_seconds``
    (MPEG-TS files in a hidden ``.NAME.parts-SETTINGS`` folder beside the output, each renamed into place
    when complete). An interrupted run keeps its finished segments, and the rerun starts at the first
    missing one. At the end the segments' packets are joined (no re-encode) with the source's audio and
    subtitles, copied, into the output, written atomically; then the parts go.
  * **Timestamps kept.** Every frame keeps its source timestamp (variable frame rate survives). Segments
    carry them shifted by ``LEAD_SECONDS``, because MPEG-TS cannot store the negative decode timestamps
    that B-frames give the first frames, and its muxer would otherwise move the first segment alone.
  * **Temporal stability** (``temporal``, style models): instance-norm statistics are measured on each
    frame (downscaled to ``TEMPORAL_STATS_SIDE``) and smoothed over time (exponential moving average,
    reset at scene cuts), then imposed on the frame. Per-frame statistics jump with every small change of
    content, one cause of the flicker of instance-normalised style networks (docs/VIDEO.md measures it).
"""

from __future__ import annotations

import heapq
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from percept.core.atomic import atomic_path
from percept.core.extras import install_hint
from percept.pipeline.array_ops import as_float, box_blur, enlarge_nearest, luminance
from percept.pipeline.imageio import Picture
from percept.pipeline.inputs import VIDEO_SUFFIXES

if TYPE_CHECKING:
    from percept.pipeline.inference import Inferencer

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}  # kept; others become .mp4
# Audio and subtitle codecs each output container takes as they are (others: audio → AAC, subtitles dropped).
AUDIO_COPY = {"mp4": {"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"},
              "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
              "matroska": None}  # None: any
SUBTITLE_COPY = {"mp4": {"mov_text"}, "mov": {"mov_text"}, "matroska": {"subrip", "ass", "ssa", "webvtt",
                                                                         "dvd_subtitle", "hdmv_pgs_subtitle"}}
# H.264's largest frame (level 6.2: 139,264 macroblocks; 8192 on a side in practice): 8K DCI.
MAX_SIDE, MAX_PIXELS = 8192, 8192 * 4320
LEAD_SECONDS = 10
TEMPORAL_STATS_SIDE = 512
STATS_MOMENTUM = 0.5  # weight of the past in the moving average of the statistics (per measurement)
STATS_EVERY = 12  # frames between measurements: each costs a forward pass at TEMPORAL_STATS_SIDE
SCENE_CUT = 0.12  # mean |Δ| between frames (0..1) above which the statistics start afresh
DEFAULT_CRF = 18  # x264's "visually lossless" end; 23 is its default
BLEND_STRENGTH = 0.6  # share of the previous output kept where the source stood still
MOTION_THRESHOLD = 2 / 255  # blurred-luma change at which a pixel counts as moving (no blending): above
# sensor noise after the 5×5 blur, low enough that a 1-px pan of a smooth area barely lags (docs/VIDEO.md)


class VideoError(Exception):
    """A clip cannot be read or written (one line, naming the file)."""


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def output_extension(source: Path) -> str:
    """The output keeps an .mp4/.m4v/.mov/.mkv container; every other clip becomes .mp4."""
    suffix = source.suffix.lower()
    return suffix[1:] if suffix in CONTAINERS else "mp4"


def _av():
    try:
        import av
    except ImportError:
        raise VideoError(f"video needs PyAV (FFmpeg's libraries): {install_hint('video')}") from None
    # FFmpeg's log stays off, as PyAV leaves it: av.logging.set_level(any level) routes every message of
    # FFmpeg's decoder threads through a Python callback that takes the GIL, and a thread that holds the GIL
    # while it waits for those threads (closing a threaded decoder) then deadlocks (PyAV issue #751).
    return av


@dataclass
class ClipInfo:
    """What planning needs to know about a clip before any frame is decoded."""

    width: int
    height: int
    frames: int          # from the container (or duration × rate): the progress total
    rate: Fraction       # average frame rate
    time_base: Fraction
    audio: list[str] = field(default_factory=list)      # codec names
    subtitles: list[str] = field(default_factory=list)
    rotation: float = 0.0  # display rotation (phones record sideways and say so): copied to the output


def probe(path: Path) -> ClipInfo:
    av = _av()
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise VideoError(f"{path}: has no video stream")
            v = c.streams.video[0]
            rate = v.average_rate or v.guessed_rate or Fraction(25)
            frames = int(v.frames or 0)
            if not frames and v.duration and v.time_base:
                frames = int(round(float(v.duration * v.time_base * rate)))
            if not frames and c.duration:
                frames = int(round(c.duration / 1_000_000 * float(rate)))
            first = next(c.decode(v), None)
            if first is None:
                raise VideoError(f"{path}: has no decodable frame")
            return ClipInfo(int(v.codec_context.width), int(v.codec_context.height), max(1, frames), Fraction(rate),
                            Fraction(v.time_base), [s.codec_context.name for s in c.streams.audio],
                            [s.codec_context.name for s in c.streams.subtitles], float(first.rotation or 0.0))
    except VideoError:
        raise
    except Exception as exc:
        raise VideoError(f"{path}: cannot read as a video ({type(exc).__name__}: {str(exc)[:120]})") from None


def check_output_size(path: Path, info: ClipInfo, scale: int) -> None:
    """Refuse, before any work, an output larger than H.264 can encode (e.g. 4K ×4)."""
    w, h = info.width * scale, info.height * scale
    if max(w, h) > MAX_SIDE or w * h > MAX_PIXELS:
        raise VideoError(f"{path}: the output would be {w}×{h}, beyond H.264's largest frame (8192×4320); "
                         f"use a smaller scale or a smaller clip")


class TemporalStats:
    """Instance-norm statistics smoothed over frames, restarted at scene cuts."""

    def __init__(self, inferencer: Inferencer, momentum: float = STATS_MOMENTUM):
        self.inferencer, self.momentum = inferencer, momentum
        self.current = None
        self.previous: np.ndarray | None = None
        self.count = 0

    def update(self, frame: np.ndarray):
        from percept.pipeline.inference import Inferencer

        small = frame[::8, ::8].astype(np.float32)
        cut = self.previous is not None and float(np.abs(small - self.previous).mean()) / 255.0 > SCENE_CUT
        self.previous = small
        self.count += 1
        if self.current is not None and not cut and (self.count - 1) % STATS_EVERY:
            return self.current  # statistics move slowly: measured every few frames (and at every cut)
        measured = self.inferencer.measure(Inferencer.prepare(Picture(rgb=frame)), TEMPORAL_STATS_SIDE)
        if self.current is None or cut:
            self.current = measured
        else:
            m = self.momentum
            self.current = [(m * pm + (1 - m) * nm, m * pv + (1 - m) * nv)
                            for (pm, pv), (nm, nv) in zip(self.current, measured)]
        return self.current


class TemporalBlend:
    """Motion-aware smoothing of the output: where the source did not change between frames (measured on
    a blurred luma, so sensor noise does not count as motion), the output keeps ``strength`` of the
    previous output; where it moved, the new output is taken as it is. Steadies static regions, in which
    a style network otherwise repaints the noise differently every frame, without ghosting moving ones."""

    def __init__(self, scale: int = 1, strength: float = BLEND_STRENGTH, threshold: float = MOTION_THRESHOLD):
        self.scale, self.strength, self.threshold = scale, strength, threshold
        self.previous_luma: np.ndarray | None = None
        self.previous_out: np.ndarray | None = None

    def __call__(self, source: np.ndarray, output: np.ndarray) -> np.ndarray:
        src = as_float(np.ascontiguousarray(source.transpose(2, 0, 1)))
        luma = box_blur(luminance(src)[0], 5)
        out = output.astype(np.float32)
        if self.previous_luma is None or self.previous_luma.shape != luma.shape:
            blended = out
        else:
            still = np.clip(1.0 - np.abs(luma - self.previous_luma) / self.threshold, 0.0, 1.0)
            if self.scale > 1:
                still = enlarge_nearest(still, self.scale)
            w = (self.strength * still)[:, :, None]
            blended = out + w * (self.previous_out - out)
        self.previous_luma, self.previous_out = luma, blended
        return np.clip(np.round(blended), 0, 255).astype(np.uint8)


@dataclass
class VideoResult:
    frames: int
    notes: list[str]
    segments_reused: int


class VideoWriter:
    """Encodes one segment's frames (H.264 in MPEG-TS) to a temporary file, renamed when complete."""

    def __init__(self, path: Path, width: int, height: int, rate: Fraction, time_base: Fraction, crf: int):
        av = _av()
        self.path, self.time_base = path, time_base
        self.tmp = path.with_name(f".{path.name}.part")
        self.container = av.open(str(self.tmp), "w", format="mpegts")
        s = self.container.add_stream("libx264", rate=rate)
        s.width, s.height = width, height
        s.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        s.time_base = time_base
        s.codec_context.time_base = time_base
        s.options = {"crf": str(crf), "preset": "medium"}
        self.stream = s
        self.lead = int(round(LEAD_SECONDS / time_base))

    def write(self, rgb: np.ndarray, pts: int) -> None:
        av = _av()
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = pts + self.lead, self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        try:
            self.container.close()
        except Exception:
            pass
        self.tmp.unlink(missing_ok=True)


def _frames(path: Path, stop: threading.Event, out: queue.Queue) -> None:
    """Decoder thread: (index, pts, H×W×3 uint8) into ``out``, then None (or the exception)."""
    av = _av()
    try:
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            stream.thread_type = "AUTO"
            for i, frame in enumerate(c.decode(stream)):
                if stop.is_set():
                    return
                item = (i, frame.pts if frame.pts is not None else i, frame.to_ndarray(format="rgb24"))
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        out.put(None)
    except Exception as exc:
        out.put(exc)


def _stop_decoder(decoder: threading.Thread, stop: threading.Event, frames: queue.Queue,
                  timeout: float = 10.0) -> None:
    """Stop the decoder thread and wait for it, so no PyAV call of this clip is still running when the caller
    goes on (joins the segments, or opens the clip again on a rerun): FFmpeg calls left running in a stray
    thread beside new ones can deadlock."""
    stop.set()
    deadline = time.monotonic() + timeout
    while decoder.is_alive() and time.monotonic() < deadline:
        try:
            while True:
                frames.get_nowait()  # free a put() that waits for room
        except queue.Empty:
            pass
        decoder.join(0.05)


def parts_dir(output: Path, settings: str) -> Path:
    return output.parent / f".{output.name}.parts-{settings[:12]}"


class VideoProcessor:
    """Runs one clip through an Inferencer: decode, batch frames, (temporal statistics), encode segments, join."""

    def __init__(self, inferencer: Inferencer, crf: int = DEFAULT_CRF, temporal: bool = True,
                 segment_seconds: float = 10.0, blend: float | None = None):
        self.inferencer, self.crf, self.segment_seconds = inferencer, int(crf), float(segment_seconds)
        style = temporal and inferencer.kind == "style"
        self.temporal = style and inferencer.runtime.shared_stats
        self.blend = (BLEND_STRENGTH if blend is None else float(blend)) if style else 0.0
        self.notes: list[str] = []
        if temporal and inferencer.kind == "style" and not inferencer.runtime.shared_stats:
            self.notes.append(f"{inferencer.runtime.name} ({inferencer.runtime.precision}) cannot impose "
                              "normalisation statistics: frames use their own (more flicker; --backend torch, "
                              "onnxruntime fp32 or openvino can)")

    def run(self, source: Path, output: Path, settings: str, progress: Callable[[int], None] | None = None,
            stop: threading.Event | None = None) -> VideoResult:
        info = probe(source)
        check_output_size(source, info, self.inferencer.scale)
        parts = parts_dir(output, settings)
        for old in output.parent.glob(f".{output.name}.parts-*"):
            if old != parts:
                shutil.rmtree(old, ignore_errors=True)  # made with other settings
        parts.mkdir(parents=True, exist_ok=True)
        done_segments = {int(p.stem.split("-")[1]) for p in parts.glob("seg-*.ts")}
        notes = list(self.notes)
        if done_segments:
            notes.append(f"resumed: {len(done_segments)} finished segment(s) of an interrupted run kept")
        frames_q: queue.Queue = queue.Queue(maxsize=max(4, 2 * self.inferencer.batch_size))
        decoder_stop = threading.Event()
        decoder = threading.Thread(target=_frames, args=(source, decoder_stop, frames_q), daemon=True)
        decoder.start()
        try:
            count = self._segments(source, info, frames_q, parts, done_segments, progress, stop or threading.Event())
        finally:
            _stop_decoder(decoder, decoder_stop, frames_q)
        segments = sorted(parts.glob("seg-*.ts"))
        if not segments:
            raise VideoError(f"{source}: no frames decoded")
        notes += join(segments, source, output, info)
        shutil.rmtree(parts, ignore_errors=True)
        return VideoResult(count, notes, len(done_segments))

    def _segments(self, source: Path, info: ClipInfo, frames_q: queue.Queue, parts: Path, done: set[int],
                  progress: Callable[[int], None] | None, stop: threading.Event) -> int:
        """Decoded frames through the model in batches, into one encoded file per segment (segments already in
        ``done`` are skipped); returns the frames counted. A failure abandons the open segment."""
        per_segment = max(1, int(round(self.segment_seconds * float(info.rate))))
        temporal = TemporalStats(self.inferencer) if self.temporal else None
        self._smooth = TemporalBlend(self.inferencer.scale, self.blend) if self.blend > 0 else None
        ow, oh = info.width * self.inferencer.scale, info.height * self.inferencer.scale
        writer: VideoWriter | None = None
        segment, count = -1, 0
        batch: list[tuple[int, int, np.ndarray]] = []
        try:
            while True:
                if stop.is_set():
                    raise KeyboardInterrupt
                item = frames_q.get()
                if isinstance(item, Exception):
                    raise VideoError(f"{source}: cannot decode frame {count + 1} ({type(item).__name__}: "
                                     f"{str(item)[:100]})")
                end = item is None
                if not end:
                    index, pts, rgb = item
                    seg = index // per_segment
                    if seg in done:
                        count += 1
                        if progress:
                            progress(count)
                        continue
                    if seg != segment:
                        writer = self._flush(batch, writer, temporal)
                        batch = []
                        if writer is not None:
                            writer.close()
                        segment = seg
                        writer = VideoWriter(parts / f"seg-{seg:05d}.ts", ow, oh, info.rate, info.time_base, self.crf)
                    batch.append((index, pts, rgb))
                if len(batch) >= self.inferencer.batch_size or (end and batch):
                    writer = self._flush(batch, writer, temporal)
                    count += len(batch)
                    batch = []
                    if progress:
                        progress(count)
                if end:
                    break
            if writer is not None:
                writer.close()
        except BaseException:
            if writer is not None:
                writer.abandon()
            raise
        return count

    def _flush(self, batch, writer: VideoWriter | None, temporal: TemporalStats | None):
        """Run a batch of frames through the model and encode them, in order."""
        from percept.pipeline.inference import Inferencer, Job, PieceFailed

        if not batch:
            return writer
        inf = self.inferencer
        jobs = []
        pending = []
        for _, _, rgb in batch:
            job = Job(key=None, picture=Picture(rgb=rgb), image=Inferencer.prepare(Picture(rgb=rgb)))
            stats = temporal.update(rgb) if temporal is not None else None
            pending += inf.plan(job, stats=stats)
            jobs.append(job)
        inf.drain(pending)
        for (_, pts, rgb), job in zip(batch, jobs):
            if job.error:
                raise PieceFailed(job.error)
            out = inf.finish(job).rgb
            writer.write(self._smooth(rgb, out) if self._smooth is not None else out, pts)
        return writer


def _packets(container, stream, shift: int = 0) -> Iterator:
    for packet in container.demux(stream):
        if packet.dts is None and packet.pts is None:
            continue  # the demuxer's end-of-stream marker
        if shift:
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        yield packet


def join(segments: list[Path], source: Path, output: Path, info: ClipInfo) -> list[str]:
    """Join the encoded segments with the source's audio and subtitles (copied, or audio re-encoded to AAC
    where the container cannot hold it) into ``output``, atomically. Returns notes for the user."""
    av = _av()
    fmt = CONTAINERS.get(output.suffix.lower(), "mp4")
    notes: list[str] = []
    with atomic_path(output) as tmp, av.open(str(source)) as src:
        opened = [av.open(str(p)) for p in segments]
        try:
            out = av.open(str(tmp), "w", format=fmt)
            video_out = out.add_stream_from_template(opened[0].streams.video[0])
            video_out.time_base = info.time_base
            if info.rotation:
                video_out.set_display_rotation(info.rotation)  # frames stay as coded, players turn them
            copies, transcode = _side_streams(src, out, fmt, notes)
            merged = heapq.merge(_video_packets(opened, video_out, info), _source_packets(src, copies, transcode),
                                 key=_packet_time)
            for packet, target in merged:
                if packet.stream is not target:
                    packet.stream = target
                out.mux(packet)
            for enc in transcode.values():
                for q in enc.encode():
                    out.mux(q)
            out.close()
        finally:
            for c in opened:
                c.close()
    return notes


def _side_streams(src, out, fmt: str, notes: list[str]) -> tuple[dict[int, object], dict[int, object]]:
    """The source's audio and subtitle streams in ``out``: {source index: stream} copied as they are, and
    audio re-encoded to AAC where the container cannot hold it (each such choice is noted)."""
    copies: dict[int, object] = {}
    transcode: dict[int, object] = {}
    for s in src.streams.audio:
        name = s.codec_context.name
        allowed = AUDIO_COPY[fmt]
        if allowed is None or name in allowed:
            copies[s.index] = out.add_stream_from_template(s)
        else:
            transcode[s.index] = out.add_stream("aac", rate=s.codec_context.sample_rate or 48000)
            notes.append(f"audio ({name}) re-encoded as AAC: {fmt} cannot hold {name}")
    for s in src.streams.subtitles:
        name = s.codec_context.name
        if name in SUBTITLE_COPY.get(fmt, set()):
            copies[s.index] = out.add_stream_from_template(s)
        else:
            notes.append(f"subtitles ({name}) not copied: {fmt} cannot hold them")
    return copies, transcode


def _video_packets(opened: list, video_out, info: ClipInfo):
    """The segments' video packets in order (each segment's lead-in dropped), bound for ``video_out``."""
    frame_ticks = int(round(1 / (info.rate * info.time_base))) if info.rate else 0
    for c in opened:
        v = c.streams.video[0]
        lead = int(round(LEAD_SECONDS / v.time_base))
        for p in _packets(c, v, lead):
            if not p.duration and frame_ticks:
                p.duration = int(round(frame_ticks * info.time_base / v.time_base))
            yield p, video_out


def _source_packets(src, copies: dict[int, object], transcode: dict[int, object]):
    """The source's side-stream packets, copied or re-encoded, each with the stream it goes to."""
    wanted = [src.streams[i] for i in list(copies) + list(transcode)]
    if not wanted:
        return
    for p in _packets(src, wanted):
        target = copies.get(p.stream.index)
        if target is not None:
            yield p, target
        elif p.stream.index in transcode:
            enc = transcode[p.stream.index]
            for frame in p.decode():
                frame.pts = None
                for q in enc.encode(frame):
                    yield q, enc


def _packet_time(item) -> float:
    """A (packet, stream) pair's decoding time in seconds, for merging streams in order."""
    p, _ = item
    t = p.dts if p.dts is not None else p.pts
    return float(t * p.time_base) if t is not None and p.time_base else 0.0
