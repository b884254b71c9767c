"""The self-contained HTML page that plays one dance, or compares several on one song, in 3D.

One file holds everything, so a page opens offline from disk or from any static server:
- the viewer's JavaScript, three.js included, bundled once at build time by esbuild
  (`npm ci --prefix dancegen/viewer` installs the pinned packages and builds `build/viewer.js`);
- per dance: its world joint positions, float32 little-endian, base64 (T x J x 3), parents and
  fps (the page draws exactly the numbers dancegen computed, with no FK of its own), the body
  to draw on its rig (`body.py`), the way it faces, its label, its style text and timed spans,
  and the files its download buttons save (gzip, base64: the BVH, plus what the caller adds);
- the music as a base64 data URL when it is at most `MAX_EMBEDDED_MUSIC_BYTES`; a larger song
  is copied beside the page as `<page stem>.music<ext>` and referenced by that relative name
  (keep the two files together);
- the beat times of the song, drawn on the timeline.

The page reads its URL's query: `?autoplay` plays at once (and loops, unless `loop=0`), `?loop`,
`?layout=side|overlay` (several dances), `?t=SECONDS`, `?speed=X`.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from dancegen.errors import (
    ArgumentError,
    DanceGenError,
    InputFileError,
    MissingResourceError,
)
from dancegen.fileio import atomic_path, atomic_write_text
from dancegen.motion.facing import front_direction
from dancegen.motion.motion import Motion
from dancegen.viewer.body import body_plan

VIEWER_DIR = Path(__file__).resolve().parent
TEMPLATE_PATH = VIEWER_DIR / "template.html"
BUNDLE_PATH = VIEWER_DIR / "build" / "viewer.js"
BUILD_COMMAND = "npm ci --prefix dancegen/viewer"
PAGE_FORMAT_VERSION = 2  # 2: a list of dances, each with its body, texts and downloads
LAYOUTS = ("side", "overlay")  # several dances: next to each other, or on one spot
MAX_DANCES = 8  # more figures than this no longer fit a screen side by side

# Songs up to this size go inside the page (base64 adds a third); a 5-minute MP3 is ~5-10 MB.
MAX_EMBEDDED_MUSIC_BYTES = 16 * 1024 * 1024
# What Chromium, Firefox and Safari play in an <audio> element, by extension.
MUSIC_TYPES = {
    ".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg", ".oga": "audio/ogg",
    ".opus": "audio/ogg", ".flac": "audio/flac", ".m4a": "audio/mp4", ".aac": "audio/aac",
    ".webm": "audio/webm",
}
DOWNLOAD_TYPES = {".bvh": "text/plain", ".glb": "model/gltf-binary", ".npz": "application/octet-stream"}
_SLOT = re.compile(r"<!--DANCEGEN:(DATA|SCRIPT)-->")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class PromptSpan:
    """Text shown over the stage from `start` to `end` seconds."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Dance:
    """One dance on a page, with what the page shows beside it.

    label: its name on the page and of its downloads (default: see `as_dances`);
    annotation / prompt: its texts, as for `prompt_texts` (absent: the page's own, if any);
    files: more downloads, extension (".glb") -> bytes, saved under the dance's label (the
        page makes the ".bvh" itself unless one is given).
    """

    motion: Motion
    label: str = ""
    annotation: Any = None
    prompt: str | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)


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


def _bvh_bytes(motion: Motion) -> bytes | None:
    """The motion as BVH, or None when its rig cannot be written as one (the page still plays)."""
    from dancegen.motion.bvh import write_bvh

    with tempfile.TemporaryDirectory(prefix="dancegen-page-") as folder:
        path = Path(folder) / "dance.bvh"
        try:
            write_bvh(motion, path)
        except DanceGenError:
            return None
        return path.read_bytes()


def download_name(label: str, ext: str) -> str:
    """A file name for a download: the label with anything unsafe in a file name replaced."""
    stem = _UNSAFE_NAME.sub("_", label).strip("._") or "dance"
    return f"{stem}{ext}"


def _download(name: str, content: bytes) -> dict[str, str]:
    # gzip: BVH text shrinks about 3x; the page inflates it with the browser's DecompressionStream.
    packed = gzip.compress(content, compresslevel=9, mtime=0)
    return {
        "name": name,
        "type": DOWNLOAD_TYPES.get(Path(name).suffix.lower(), "application/octet-stream"),
        "gzip": base64.b64encode(packed).decode("ascii"),
    }


def dance_data(dance: Dance, label: str, *, bvh: bool = True) -> dict[str, Any]:
    """One entry of the page's `dances` list (see the module docstring)."""
    motion = dance.motion
    style, spans = prompt_texts(dance.annotation, dance.prompt)
    files = {ext.lower(): content for ext, content in dance.files.items()}
    if bvh and ".bvh" not in files:
        content = _bvh_bytes(motion)
        if content is not None:
            files = {".bvh": content, **files}
    positions = motion.joint_positions().astype("<f4")
    return {
        "label": label,
        "fps": float(motion.fps),
        "num_frames": motion.num_frames,
        "joint_names": list(motion.skeleton.joint_names),
        "parents": list(motion.skeleton.parents),
        "positions": base64.b64encode(positions.tobytes()).decode("ascii"),
        "front": [round(float(v), 4) for v in front_direction(motion)],
        "body": body_plan(motion.skeleton).to_json(),
        "style": style,
        "spans": [{"start": s.start, "end": s.end, "text": s.text} for s in spans],
        "downloads": [_download(download_name(label, ext), content) for ext, content in files.items()],
    }


def as_dances(motions: "Motion | Dance | Sequence[Motion | Dance]", labels: Sequence[str] | None = None,
              annotation: Any = None, prompt: str | None = None, default_label: str = "") -> list[Dance]:
    """`Dance`s for `write_page`'s arguments: bare motions become dances; `labels` replace the
    labels; `annotation`/`prompt` go to each dance that has none of its own. A missing label
    becomes, for a lone dance, its motion's `name` metadata, else `default_label`; otherwise
    "dance N". Labels are made unique."""
    items = [motions] if isinstance(motions, (Motion, Dance)) else list(motions)
    if not items:
        raise ArgumentError("motions", "no dance to show")
    if len(items) > MAX_DANCES:
        raise ArgumentError("motions", f"{len(items)} dances are too many for one page", f"compare at most {MAX_DANCES}")
    if labels is not None and len(labels) != len(items):
        raise ArgumentError("labels", f"{len(labels)} labels for {len(items)} dances")
    dances, seen = [], set()
    for i, item in enumerate(items):
        dance = item if isinstance(item, Dance) else Dance(item)
        label = labels[i] if labels is not None else dance.label
        if not label:
            if len(items) == 1:
                label = str(dance.motion.metadata.get("name") or "") or default_label
            label = label or f"dance {i + 1}"
        while label in seen:  # two takes both called "dance": the page tells them apart
            label = f"{label} ({i + 1})"
        seen.add(label)
        dances.append(Dance(
            dance.motion, label,
            dance.annotation if dance.annotation is not None else annotation,
            dance.prompt if dance.prompt is not None else prompt,
            dance.files,
        ))
    return dances


def page_data(
    motions: "Motion | Dance | Sequence[Motion | Dance]",
    *,
    music_src: str | None = None,
    music_start: float = 0.0,
    beats: Iterable[float] = (),
    title: str = "",
    layout: str = "side",
    bvh: bool = True,
) -> dict[str, Any]:
    """The JSON the page's script reads (see the module docstring)."""
    if layout not in LAYOUTS:
        raise ArgumentError("layout", f"unknown layout {layout!r}", f"use one of {', '.join(LAYOUTS)}")
    return {
        "version": PAGE_FORMAT_VERSION,
        "title": title,
        "layout": layout,
        "beats": [round(float(t), 4) for t in beats],
        "music": None if music_src is None else {"src": music_src, "start": float(music_start)},
        "dances": [dance_data(d, d.label, bvh=bvh) for d in as_dances(motions)],
    }


def render_page(data: dict[str, Any]) -> str:
    """Fill the template with the data and the bundled script."""
    # "<" escaped keeps any "</script>" or "<!--" inside strings from ending the JSON block.
    slots = {"DATA": json.dumps(data, separators=(",", ":")).replace("<", "\\u003c"), "SCRIPT": _bundle()}
    return _SLOT.sub(lambda match: slots[match[1]], TEMPLATE_PATH.read_text(encoding="utf-8"))


def write_page(
    motions: "Motion | Dance | Sequence[Motion | Dance]",
    path: str | Path,
    *,
    labels: Sequence[str] | None = None,
    music: str | Path | None = None,
    music_start: float = 0.0,
    beats: Iterable[float] = (),
    annotation: Any = None,
    prompt: str | None = None,
    title: str | None = None,
    layout: str = "side",
    bvh: bool = True,
) -> Path:
    """Write the viewer page for one dance, or for several on one song, to `path` (atomically).

    motions: a `Motion`, a `Dance`, or a list of them (at most MAX_DANCES), shown together;
    labels: one per dance (default: see `as_dances`);
    music: song to play along (its first `music_start` seconds are skipped);
    beats: beat times in seconds, drawn on the timeline;
    annotation/prompt: see `prompt_texts`, for every dance without texts of its own;
    title: defaults to the label (one dance) or "A vs B";
    layout: "side" (side by side) or "overlay", the page's toggle switches it;
    bvh: offer each dance's BVH for download (made here; `Dance.files` add more formats).
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ArgumentError(str(path), "a viewer page must end in .html")
    if not (math.isfinite(music_start) and music_start >= 0):
        raise ArgumentError("--music-start", f"must be a number of seconds >= 0, got {music_start}")
    if layout not in LAYOUTS:
        raise ArgumentError("layout", f"unknown layout {layout!r}", f"use one of {', '.join(LAYOUTS)}")
    dances = as_dances(motions, labels, annotation, prompt, default_label=path.stem)
    require_bundle()
    if title is None:
        title = dances[0].label if len(dances) == 1 else " vs ".join(d.label for d in dances)
    music_src = None if music is None else _music_source(Path(music), path)
    data = page_data(
        dances,
        music_src=music_src,
        music_start=music_start,
        beats=np.asarray(list(beats), dtype=np.float64),
        title=title,
        layout=layout,
        bvh=bvh,
    )
    atomic_write_text(path, render_page(data))
    return path
