"""Shareable `.mp4` of a dance: a software-rendered stick figure, piped into ffmpeg with the music.

Frames are drawn with Pillow (supersampled, then box-filtered down for smooth edges): a floor
grid and the figure's shadow, the bones (left side blue, right side orange) sorted far to near,
a timeline with beat ticks and the prompt text. The camera looks from the front-right, a little
above, and follows the dancer's smoothed floor position. Deterministic: the same motion gives the
same frames on any machine. ffmpeg encodes H.264 + AAC: the binary inside the `imageio-ffmpeg`
wheel (a core dependency, so nothing is needed from the system), else an `ffmpeg` on PATH.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from pydantic import Field, model_validator

from dancegen.config import StrictConfig
from dancegen.errors import (
    ArgumentError,
    DanceGenError,
    InputFileError,
    MissingResourceError,
)
from dancegen.fileio import atomic_path, interrupts_deferred
from dancegen.motion.facing import front_direction
from dancegen.motion.motion import Motion
from dancegen.viewer.page import PromptSpan, prompt_texts

BACKGROUND = (29, 33, 39)
GRID_COLOR = (58, 65, 77)
SHADOW_COLOR = (20, 23, 27)
LEFT_COLOR = (111, 183, 255)
RIGHT_COLOR = (240, 179, 94)
CENTER_COLOR = (226, 230, 236)
TEXT_COLOR = (232, 235, 240)
DIM_COLOR = (151, 160, 174)
UP = np.array([0.0, 1.0, 0.0])
NEAR_PLANE_M = 0.05
GRID_STEP_M = 0.5
GRID_RADIUS_M = 4.0
BONE_RADIUS_M = 0.022  # drawn limb thickness, as in the web viewer
FOLLOW_WINDOW_S = 1.0  # the camera follows the root averaged over this long, so it does not shake
FIGURE_HEIGHT_QUANTILE = 0.95  # robust figure height: jumps and raised arms do not zoom out the view
MIN_FIGURE_HEIGHT_M = 1.0


class VideoConfig(StrictConfig):
    """How `render_video` draws and encodes."""

    width: int = Field(1280, ge=16, le=7680)
    height: int = Field(720, ge=16, le=4320)
    fps: float | None = Field(None, gt=0, le=240)  # None: the motion's own frame rate
    supersample: int = Field(2, ge=1, le=4)  # drawn this many times larger, then filtered down
    fov_degrees: float = Field(40.0, gt=5, lt=120)
    azimuth_degrees: float = 25.0  # camera angle from the dancer's front (+z) toward +x
    elevation_degrees: float = Field(12.0, ge=-30, le=80)
    framing: float = Field(1.7, gt=0.5)  # frame height in figure heights
    crf: int = Field(20, ge=0, le=51)  # x264 quality (lower is better and larger)
    preset: str = "veryfast"
    audio_bitrate: str = "192k"

    @model_validator(mode="after")
    def _even_size(self) -> "VideoConfig":
        if self.width % 2 or self.height % 2:
            raise ValueError(f"video size {self.width}x{self.height} must be even (yuv420p needs it)")
        return self


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ArgumentError("--size", f"{text!r} is not WIDTHxHEIGHT", "e.g. 1280x720") from None
    return width, height


# --- camera -------------------------------------------------------------------------------

class _Camera:
    """Pinhole camera: world points -> pixels and depths (y-up world, image y down)."""

    def __init__(self, eye: np.ndarray, target: np.ndarray, focal: float, width: int, height: int):
        forward = target - eye
        self.forward = forward / np.linalg.norm(forward)
        right = np.cross(self.forward, UP)
        self.right = right / np.linalg.norm(right)
        self.up = np.cross(self.right, self.forward)
        self.eye, self.target, self.focal = eye, target, focal
        self.center = np.array([width / 2, height / 2])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        offset = points - self.eye
        return np.stack([offset @ self.right, offset @ self.up, offset @ self.forward], axis=-1)

    def project_camera(self, camera_points: np.ndarray) -> np.ndarray:
        depth = np.maximum(camera_points[..., 2:], NEAR_PLANE_M)
        pixels = self.focal * camera_points[..., :2] / depth
        return self.center + pixels * np.array([1.0, -1.0])

    def segments(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Project 3D segments clipped to the near plane; (K, 4) pixel x0 y0 x1 y1 of the visible ones."""
        a, b = self.to_camera(starts), self.to_camera(ends)
        keep = (a[:, 2] > NEAR_PLANE_M) | (b[:, 2] > NEAR_PLANE_M)
        a, b = a[keep], b[keep]
        # Move the endpoint behind the near plane onto it.
        t = np.clip((NEAR_PLANE_M - a[:, 2]) / np.where(np.abs(b[:, 2] - a[:, 2]) > 1e-12, b[:, 2] - a[:, 2], 1.0), 0, 1)
        a = np.where((a[:, 2] < NEAR_PLANE_M)[:, None], a + t[:, None] * (b - a), a)
        t = np.clip((NEAR_PLANE_M - b[:, 2]) / np.where(np.abs(a[:, 2] - b[:, 2]) > 1e-12, a[:, 2] - b[:, 2], 1.0), 0, 1)
        b = np.where((b[:, 2] < NEAR_PLANE_M)[:, None], b + t[:, None] * (a - b), b)
        return np.concatenate([self.project_camera(a), self.project_camera(b)], axis=1)


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return values
    padded = np.pad(values, ((window // 2, window - 1 - window // 2), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    return np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(values.shape[1])], axis=1)


def _cameras(positions: np.ndarray, fps: float, config: VideoConfig, scale: int,
             front: np.ndarray = np.array([0.0, 1.0])) -> tuple[list[_Camera], float]:
    """One camera per frame following the dancer, and the floor height; `front` is the unit
    (x, z) the dancer mostly faces, which `config.azimuth_degrees` is measured from."""
    floor = float(positions[..., 1].min())
    height = max(float(np.quantile(positions[..., 1].max(axis=1) - floor, FIGURE_HEIGHT_QUANTILE)), MIN_FIGURE_HEIGHT_M)
    fov = np.radians(config.fov_degrees)
    distance = config.framing * height / (2 * np.tan(fov / 2))
    front_yaw = np.arctan2(front[0], front[1])
    azimuth, elevation = front_yaw + np.radians(config.azimuth_degrees), np.radians(config.elevation_degrees)
    direction = np.array([np.sin(azimuth) * np.cos(elevation), np.sin(elevation), np.cos(azimuth) * np.cos(elevation)])
    follow = _moving_average(positions[:, 0, [0, 2]], int(round(FOLLOW_WINDOW_S * fps)))
    focal = scale * config.height / 2 / np.tan(fov / 2)
    cameras = []
    for x, z in follow:
        target = np.array([x, floor + 0.5 * height, z])
        cameras.append(_Camera(target + distance * direction, target, focal, scale * config.width, scale * config.height))
    return cameras, floor


# --- drawing ------------------------------------------------------------------------------

def _side_pattern(word: str) -> re.Pattern:
    # "left_hip" (SMPL), "LeftArm", "lThigh" (CMU), "UpperLeg_L" (Bandai), "CC_Base_L_Thigh" (iClone).
    letter = word[0]
    return re.compile(rf"(?i:{word})|^{letter}(?=[A-Z_])|(?i:(?:^|[_.]){letter}(?:[_.]|$))")


SIDE_COLORS = ((_side_pattern("left"), LEFT_COLOR), (_side_pattern("right"), RIGHT_COLOR))


def _joint_colors(names: Sequence[str]) -> list[tuple[int, int, int]]:
    """Left limbs blue, right limbs orange, the trunk light: the dance reads at a glance."""
    return [next((color for pattern, color in SIDE_COLORS if pattern.search(n)), CENTER_COLOR) for n in names]


def _grid_segments(center: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    origin = np.round(center / GRID_STEP_M) * GRID_STEP_M
    ticks = np.arange(-GRID_RADIUS_M, GRID_RADIUS_M + 1e-9, GRID_STEP_M)
    starts, ends = [], []
    for tick in ticks:
        starts += [(origin[0] + tick, floor, origin[1] - GRID_RADIUS_M), (origin[0] - GRID_RADIUS_M, floor, origin[1] + tick)]
        ends += [(origin[0] + tick, floor, origin[1] + GRID_RADIUS_M), (origin[0] + GRID_RADIUS_M, floor, origin[1] + tick)]
    return np.array(starts), np.array(ends)


class _FrameDrawer:
    """Draws frame i of one dance: floor grid, shadow, bones far to near, timeline and text."""

    def __init__(self, motion: Motion, config: VideoConfig, beats: Sequence[float], style: str,
                 spans: Sequence[PromptSpan]):
        from PIL import ImageFont

        self.config, self.scale = config, config.supersample
        self.positions = motion.joint_positions()
        self.fps, self.duration = motion.fps, motion.duration
        self.cameras, self.floor = _cameras(self.positions, motion.fps, config, self.scale, front_direction(motion))
        bones = [(p, j) for j, p in enumerate(motion.skeleton.parents) if p >= 0]
        self.parents = np.array([p for p, _ in bones], dtype=np.int64)
        self.children = np.array([c for _, c in bones], dtype=np.int64)
        self.colors = _joint_colors(motion.skeleton.joint_names)
        self.beats = [b for b in beats if 0 <= b <= self.duration]
        self.style, self.spans = style, spans
        self.font = ImageFont.load_default(size=max(10, round(self.scale * config.height / 36)))

    def frame(self, index: int) -> np.ndarray:
        from PIL import Image, ImageDraw

        s, config = self.scale, self.config
        image = Image.new("RGB", (s * config.width, s * config.height), BACKGROUND)
        draw = ImageDraw.Draw(image)
        camera, points = self.cameras[index], self.positions[index]

        for x0, y0, x1, y1 in camera.segments(*_grid_segments(camera.target[[0, 2]], self.floor)):
            draw.line((x0, y0, x1, y1), fill=GRID_COLOR, width=s)

        parents, children = self.parents, self.children
        shadow = points.copy()
        shadow[:, 1] = self.floor
        for x0, y0, x1, y1 in camera.segments(shadow[parents], shadow[children]):
            draw.line((x0, y0, x1, y1), fill=SHADOW_COLOR, width=3 * s)

        camera_points = camera.to_camera(points)
        pixels = camera.project_camera(camera_points)
        depth = np.maximum(camera_points[:, 2], NEAR_PLANE_M)
        order = np.argsort(-(depth[parents] + depth[children]))  # painter's: far bones first
        for k in order:
            parent, child = parents[k], children[k]
            if min(camera_points[parent, 2], camera_points[child, 2]) <= NEAR_PLANE_M:
                continue
            width = max(1, round(2 * BONE_RADIUS_M * camera.focal / (0.5 * (depth[parent] + depth[child]))))
            (x0, y0), (x1, y1) = pixels[parent], pixels[child]
            draw.line((x0, y0, x1, y1), fill=self.colors[child], width=width)
            radius = width / 2
            draw.ellipse((x1 - radius, y1 - radius, x1 + radius, y1 + radius), fill=self.colors[child])
        self._overlay(draw, index / self.fps)
        return np.asarray(image.reduce(s) if s > 1 else image)

    def _overlay(self, draw, t: float) -> None:
        s, config = self.scale, self.config
        width, height = s * config.width, s * config.height
        margin = round(0.03 * height)
        bar_y = height - margin
        draw.line((margin, bar_y, width - margin, bar_y), fill=GRID_COLOR, width=max(1, round(0.006 * height)))
        span_width = width - 2 * margin
        for beat in self.beats:
            x = margin + span_width * beat / self.duration
            draw.line((x, bar_y - 0.012 * height, x, bar_y + 0.012 * height), fill=LEFT_COLOR, width=s)
        x = margin + span_width * min(t / self.duration, 1.0)
        draw.line((margin, bar_y, x, bar_y), fill=RIGHT_COLOR, width=max(1, round(0.006 * height)))
        if self.style:
            draw.text((margin, margin), self.style, font=self.font, fill=DIM_COLOR)
        active = " · ".join(span.text for span in self.spans if span.start <= t < span.end)
        if active:
            draw.text((width / 2, bar_y - 2 * margin), active, font=self.font, fill=TEXT_COLOR, anchor="md")


def render_frames(motion: Motion, config: VideoConfig | None = None, beats: Iterable[float] = (),
                  annotation: Any = None, prompt: str | None = None) -> Iterator[np.ndarray]:
    """The video's frames, (height, width, 3) uint8 RGB, one per motion frame at `config.fps`."""
    config = config or VideoConfig()
    if config.fps is not None:
        motion = motion.resample(config.fps)
    style, spans = prompt_texts(annotation, prompt)
    drawer = _FrameDrawer(motion, config, list(beats), style, spans)
    for index in range(motion.num_frames):
        yield drawer.frame(index)


def contact_sheet(motion: Motion, out: str | Path, count: int = 12, columns: int = 4,
                  config: VideoConfig | None = None, beats: Iterable[float] = (), annotation: Any = None,
                  prompt: str | None = None) -> Path:
    """A PNG grid of `count` frames evenly spread over the dance (the video's drawing, each
    tile stamped with its time): a glance at a whole dance, for reviews and model cards."""
    from PIL import Image, ImageDraw

    config = config or VideoConfig(width=480, height=360)
    if config.fps is not None:
        motion = motion.resample(config.fps)
    style, spans = prompt_texts(annotation, prompt)
    drawer = _FrameDrawer(motion, config, list(beats), style, spans)
    indices = np.unique(np.linspace(0, motion.num_frames - 1, max(1, count)).round().astype(int))
    rows = -(-len(indices) // columns)
    sheet = Image.new("RGB", (columns * config.width, rows * config.height), BACKGROUND)
    for tile, index in enumerate(indices):
        image = Image.fromarray(drawer.frame(int(index)))
        ImageDraw.Draw(image).text((config.width - 8, 8), f"{index / motion.fps:.1f} s", fill=TEXT_COLOR, anchor="ra")
        sheet.paste(image, ((tile % columns) * config.width, (tile // columns) * config.height))
    out = Path(out)
    with atomic_path(out) as temporary:
        sheet.save(temporary, format="PNG")
    return out


# --- encoding -----------------------------------------------------------------------------

def find_ffmpeg() -> str:
    """The ffmpeg to encode with: `$IMAGEIO_FFMPEG_EXE` if set, else the binary bundled in the
    imageio-ffmpeg wheel (it has libx264 and aac), else the system's `ffmpeg` (platforms
    without a bundled binary, or imageio-ffmpeg uninstalled)."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()  # itself falls back to a system ffmpeg
    except (ImportError, RuntimeError):
        pass
    path = shutil.which("ffmpeg")
    if path is None:
        raise MissingResourceError("ffmpeg: not found (pip install imageio-ffmpeg, or install ffmpeg on the system)")
    return path


def _ffmpeg_command(ffmpeg: str, out: Path, config: VideoConfig, fps: float, duration: float,
                    music: Path | None, music_start: float) -> list[str]:
    command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{config.width}x{config.height}",
               "-framerate", f"{fps:.6g}", "-i", "pipe:0"]
    if music is not None:
        command += ["-ss", f"{music_start:.6f}", "-i", str(music), "-map", "0:v:0", "-map", "1:a:0",
                    "-c:a", "aac", "-b:a", config.audio_bitrate]
    command += ["-c:v", "libx264", "-preset", config.preset, "-crf", str(config.crf), "-pix_fmt", "yuv420p",
                "-t", f"{duration:.6f}", "-movflags", "+faststart", str(out)]
    return command


def render_video(
    motion: Motion,
    out: str | Path,
    *,
    music: str | Path | None = None,
    music_start: float = 0.0,
    beats: Iterable[float] = (),
    annotation: Any = None,
    prompt: str | None = None,
    config: VideoConfig | None = None,
    quiet: bool = True,
) -> Path:
    """Render `motion` to an H.264 `.mp4` at `out` (atomically), with `music` from `music_start` s."""
    from tqdm import tqdm

    out = Path(out)
    config = config or VideoConfig()
    if out.suffix.lower() != ".mp4":
        raise ArgumentError(str(out), "a video must end in .mp4")
    if music is not None and not Path(music).is_file():
        raise InputFileError(music, "music file not found")
    if music_start < 0:
        raise ArgumentError("music_start", f"must be >= 0 seconds, got {music_start}")
    ffmpeg = find_ffmpeg()
    fps = config.fps or motion.fps
    frames = max(1, int(round(motion.duration * fps))) if config.fps else motion.num_frames
    duration = frames / fps

    with atomic_path(out) as tmp, tempfile.TemporaryFile() as errors:
        command = _ffmpeg_command(ffmpeg, tmp, config, fps, duration, None if music is None else Path(music), music_start)
        process = None
        try:
            # Started whole or not at all: an interrupt half way through would leave an ffmpeg
            # nobody kills, writing the temporary after it is removed.
            with interrupts_deferred():
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
            for frame in tqdm(render_frames(motion, config, beats, annotation, prompt), total=frames,
                              desc="render", unit="frame", leave=False, disable=quiet):
                process.stdin.write(frame.tobytes())
            process.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg stopped early: its own message says why
        except BaseException:
            if process is not None:
                process.kill()
                process.wait()
            raise
        status = process.wait()
        if status != 0:
            errors.seek(0)
            lines = [line for line in errors.read().decode("utf-8", "replace").splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit status {status}"
            if music is not None and str(music) in " ".join(lines):
                raise InputFileError(music, f"ffmpeg cannot read it: {reason}", "convert it to .wav or .mp3")
            raise DanceGenError(f"{out}: ffmpeg failed: {reason}")
    return out
