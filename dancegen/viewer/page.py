"""The self-contained HTML page that plays a dance in 3D with its music.

One file holds everything, so a page opens offline from disk or from any static server:
- the viewer's JavaScript, three.js included, bundled once at build time by esbuild
  (`npm ci --prefix dancegen/viewer` installs the pinned packages and builds `build/viewer.js`);
- the motion as world joint positions, float32 little-endian, base64 (T x J x 3), plus parents
  and fps: the page draws exactly the numbers dancegen computed, with no FK of its own;
- the music as a base64 data URL when it is at most `MAX_EMBEDDED_MUSIC_BYTES`; a larger song
  is copied beside the page as `<page stem>.music<ext>` and referenced by that relative name
  (keep the two files together);
- beat times (drawn on the timeline) and the text prompt: the global style in the header and
  each timed local span over the stage while it lasts.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from dancegen.errors import ArgumentError, InputFileError, MissingResourceError
from dancegen.fileio import atomic_path, atomic_write_text
from dancegen.motion.facing import front_direction
from dancegen.motion.motion import Motion

VIEWER_DIR = Path(__file__).resolve().parent
TEMPLATE_PATH = VIEWER_DIR / "template.html"
BUNDLE_PATH = VIEWER_DIR / "build" / "viewer.js"
BUILD_COMMAND = "npm ci --prefix dancegen/viewer"
PAGE_FORMAT_VERSION = 1

# Songs up to this size go inside the page (base64 adds a third); a 5-minute MP3 is ~5-10 MB.
MAX_EMBEDDED_MUSIC_BYTES = 16 * 1024 * 1024
# What Chromium, Firefox and Safari play in an <audio> element, by extension.
MUSIC_TYPES = {
    ".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg", ".oga": "audio/ogg",
    ".opus": "audio/ogg", ".flac": "audio/flac", ".m4a": "audio/mp4", ".aac": "audio/aac",
    ".webm": "audio/webm",
}
_SLOT = re.compile(r"<!--DANCEGEN:(DATA|SCRIPT)-->")


@dataclass(frozen=True)
class PromptSpan:
    """Text shown over the stage from `start` to `end` seconds."""

    start: float
    end: float
    text: str


def prompt_texts(annotation: Any = None, prompt: str | None = None) -> tuple[str, list[PromptSpan]]:
    """The page's (global style text, timed spans) from an `Annotation` and/or a plain prompt.

    `annotation` is a `dancegen.data.annotations.Annotation` (global style + local spans) or a
    sequence of `PromptSpan`; `prompt` is free text for the whole dance, shown in the header.
    """
    style, spans = "", []
    if annotation is not None:
        if hasattr(annotation, "global_text"):
            style = annotation.global_text()
            spans = [PromptSpan(float(s.start), float(s.end), s.text) for s in annotation.spans]
        else:
            spans = [PromptSpan(float(s.start), float(s.end), str(s.text)) for s in annotation]
    if prompt:
        style = f"{prompt} · {style}" if style else prompt
    return style, spans


def _music_source(music: Path, page: Path) -> str:
    """A data URL for the song, or the relative name of a copy written beside `page`."""
    if not music.is_file():
        raise InputFileError(music, "music file not found")
    mime = MUSIC_TYPES.get(music.suffix.lower())
    if mime is None:
        raise InputFileError(
            music, f"browsers cannot play {music.suffix or 'extension-less'} audio",
            f"convert it to one of {', '.join(sorted(MUSIC_TYPES))}",
        )
    if music.stat().st_size <= MAX_EMBEDDED_MUSIC_BYTES:
        return f"data:{mime};base64,{base64.b64encode(music.read_bytes()).decode('ascii')}"
    beside = page.with_name(f"{page.stem}.music{music.suffix.lower()}")
    with atomic_path(beside) as tmp:
        shutil.copyfile(music, tmp)
    return beside.name


def require_bundle() -> Path:
    """The built viewer script, or a one-line error saying how to build it."""
    if not BUNDLE_PATH.is_file():
        raise MissingResourceError(
            f"{BUNDLE_PATH}: the viewer's JavaScript is not built (run `{BUILD_COMMAND}` in the repository)"
        )
    return BUNDLE_PATH


def _bundle() -> str:
    require_bundle()
    # Inline <script> text ends at the first "</script": keep the bundle from containing one.
    return re.sub(r"</(script)", r"<\\/\1", BUNDLE_PATH.read_text(encoding="utf-8"), flags=re.IGNORECASE)


def page_data(
    motion: Motion,
    *,
    music_src: str | None = None,
    music_start: float = 0.0,
    beats: Iterable[float] = (),
    style: str = "",
    spans: Sequence[PromptSpan] = (),
    title: str = "",
) -> dict[str, Any]:
    """The JSON the page's script reads (see the module docstring)."""
    positions = motion.joint_positions().astype("<f4")
    return {
        "version": PAGE_FORMAT_VERSION,
        "title": title,
        "fps": float(motion.fps),
        "num_frames": motion.num_frames,
        "joint_names": list(motion.skeleton.joint_names),
        "parents": list(motion.skeleton.parents),
        "positions": base64.b64encode(positions.tobytes()).decode("ascii"),
        "beats": [round(float(t), 4) for t in beats],
        "style": style,
        "spans": [{"start": s.start, "end": s.end, "text": s.text} for s in spans],
        "music": None if music_src is None else {"src": music_src, "start": float(music_start)},
        "front": [round(float(v), 4) for v in front_direction(motion)],
    }


def render_page(data: dict[str, Any]) -> str:
    """Fill the template with the data and the bundled script."""
    # "<" escaped keeps any "</script>" or "<!--" inside strings from ending the JSON block.
    slots = {"DATA": json.dumps(data, separators=(",", ":")).replace("<", "\\u003c"), "SCRIPT": _bundle()}
    return _SLOT.sub(lambda match: slots[match[1]], TEMPLATE_PATH.read_text(encoding="utf-8"))


def write_page(
    motion: Motion,
    path: str | Path,
    *,
    music: str | Path | None = None,
    music_start: float = 0.0,
    beats: Iterable[float] = (),
    annotation: Any = None,
    prompt: str | None = None,
    title: str | None = None,
) -> Path:
    """Write the viewer page for `motion` to `path` (atomically) and return the path.

    music: song to play along (its first `music_start` seconds are skipped);
    beats: beat times in seconds, drawn on the timeline;
    annotation/prompt: see `prompt_texts`; title: defaults to the motion's `name` metadata.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ArgumentError(str(path), "a viewer page must end in .html")
    if music_start < 0:
        raise ArgumentError("music_start", f"must be >= 0 seconds, got {music_start}")
    style, spans = prompt_texts(annotation, prompt)
    music_src = None if music is None else _music_source(Path(music), path)
    data = page_data(
        motion,
        music_src=music_src,
        music_start=music_start,
        beats=np.asarray(list(beats), dtype=np.float64),
        style=style,
        spans=spans,
        title=title if title is not None else str(motion.metadata.get("name", path.stem)),
    )
    atomic_write_text(path, render_page(data))
    return path

