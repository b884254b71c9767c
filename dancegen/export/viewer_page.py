"""The viewer page for one dance, or several on one song, as dancegen's commands write it.

`dancegen.viewer.write_page` draws what it is given; this adds what the layers above the viewer
know: each motion's own texts (the `annotation`/`prompt` metadata that `dancegen generate`
stores), beats detected in the song when none are given, and a glTF (.glb) download beside the
BVH for each dance. `dancegen view` uses it; so can a service showing its results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from dancegen.errors import InputFileError
from dancegen.motion.motion import Motion
from dancegen.viewer.page import Dance, require_bundle, write_page


def write_viewer_page(
    motions: Motion | Sequence[Motion],
    path: str | Path,
    *,
    labels: Sequence[str] | None = None,
    music: str | Path | None = None,
    music_start: float = 0.0,
    beats: Any = None,
    annotation: Any = None,
    prompt: str | None = None,
    title: str | None = None,
    layout: str = "side",
    glb: bool = True,
) -> Path:
    """Write the page for one motion, or several compared on one song, and return its path.

    labels: one per motion (default: a lone motion's `name` metadata or the page's stem; several
        are "dance 1", "dance 2", ...); layout: "side" or "overlay" (the page toggles it);
    music / music_start: the song, and how many of its seconds to skip;
    beats: times, a `BeatInfo` or a beats.json path (absent: detected in `music`);
    annotation / prompt: shown for every motion (absent: each motion's own, from its metadata);
    glb: offer each dance as .glb as well as .bvh (the page grows by about the size of the .glb).
    """
    from dancegen.export import resolve_beats, resolve_texts
    from dancegen.export.gltf import motion_to_glb
    from dancegen.fileio import check_file_target

    path = check_file_target(path)  # `-o page.html` that is a folder: refused, not filled
    if music is not None and not Path(music).is_file():
        raise InputFileError(music, "no such file")
    require_bundle()  # before detecting beats: that takes a while
    items = [motions] if isinstance(motions, Motion) else list(motions)
    dances = [Dance(m, "", *resolve_texts(m, annotation, prompt), files={".glb": motion_to_glb(m)} if glb else {})
              for m in items]
    return write_page(dances, path, labels=labels, music=music, music_start=music_start,
                      beats=resolve_beats(music, beats), title=title, layout=layout)
