"""`dancegen view`: write the offline 3D viewer page for a dance, or for several compared on one
song, then open or serve it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from dancegen.cli.options import JsonOption, Output, QuietOption, quietable

# Arguments `view` and `render` share.
MotionFile = Annotated[Path, typer.Argument(help="motion file: .bvh, .npz, .pkl, .npy, .glb or DeepMimic .txt")]
MusicOption = Annotated[Optional[Path], typer.Option("--music", help="song to play along")]
MusicStartOption = Annotated[float, typer.Option("--music-start", help="seconds of the song to skip")]
BeatsOption = Annotated[Optional[Path], typer.Option("--beats", help="beats.json (default: detected in --music)")]
AnnotationOption = Annotated[Optional[Path], typer.Option("--annotation", help="text annotation (.json or LRCM text)")]
PromptOption = Annotated[Optional[str], typer.Option("--prompt", help="text shown for the whole dance")]
FpsOption = Annotated[Optional[float], typer.Option("--fps", help="frame rate of FILE, when its header is wrong")]

MotionFiles = Annotated[List[Path], typer.Argument(
    help="motion files (.bvh, .npz, .pkl, .npy, .glb or DeepMimic .txt); several are compared on one song")]
LABEL_MAX = 40  # characters of a label that fit above a figure


def default_labels(files: list[Path]) -> list[str]:
    """File stems, or `folder/stem` where two files share a stem (out1/dance.npz, out2/dance.npz)."""
    stems = [f.stem for f in files]
    return [f"{f.parent.name}/{f.stem}" if stems.count(f.stem) > 1 and f.parent.name else f.stem for f in files]


def default_page(files: list[Path]) -> Path:
    """./A.html for one file, ./A-vs-B.html for several (the first three named)."""
    stems = [f.stem for f in files]
    name = "-vs-".join(stems[:3]) + (f"-and-{len(stems) - 3}-more" if len(stems) > 3 else "")
    return Path.cwd() / f"{name}.html"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command()
    @quietable
    def view(
        files: MotionFiles,
        music: MusicOption = None,
        music_start: MusicStartOption = 0.0,
        beats: BeatsOption = None,
        annotation: AnnotationOption = None,
        prompt: PromptOption = None,
        labels: Annotated[Optional[List[str]], typer.Option(
            "--label", help="name shown for each FILE, in order (repeat it; default: the file names)")] = None,
        layout: Annotated[str, typer.Option(
            "--layout", help="several files: side (by side) or overlay; the page has a toggle")] = "side",
        output: Annotated[Optional[Path], typer.Option(
            "-o", "--output", help="page to write (default: ./FILE-NAME.html, or ./A-vs-B.html)")] = None,
        fps: FpsOption = None,
        open_page: Annotated[bool, typer.Option("--open/--no-open", help="open the page in the browser")] = True,
        serve: Annotated[bool, typer.Option("--serve", help="serve the page on localhost until Ctrl+C")] = False,
        port: Annotated[int, typer.Option("--port", help="port for --serve (0: any free port)")] = 0,
        quiet: QuietOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """Write a self-contained HTML page that plays FILE in 3D with its music (works offline).

        Several FILEs are compared on one song: side by side or overlaid, each labelled.
        Open the page with ?autoplay to have it play (and loop) on its own.
        """
        from dancegen.errors import ArgumentError
        from dancegen.export.viewer_page import write_viewer_page
        from dancegen.motion.io import load_motion
        from dancegen.viewer.page import LAYOUTS
        from dancegen.viewer.serve import open_in_browser, serve_forever

        out = Output(quiet, as_json)
        if labels and len(labels) != len(files):
            raise ArgumentError("--label", f"{len(labels)} labels for {len(files)} files", "give one --label per file")
        if layout not in LAYOUTS:
            raise ArgumentError("--layout", f"unknown layout {layout!r}", f"use one of {', '.join(LAYOUTS)}")
        from dancegen.text.clean import strip_control

        names = [strip_control(label)[:LABEL_MAX] for label in labels] if labels else default_labels(files)
        if not all(names):  # nothing left once escape codes and control characters are out
            raise ArgumentError("--label", "is empty or only control characters", "name each dance, e.g. --label 'take 2'")
        motions = [load_motion(file, fps=fps) for file in files]
        page = output or default_page(files)
        write_viewer_page(motions, page, labels=names, music=music, music_start=music_start, beats=beats,
                          annotation=annotation, prompt=prompt, layout=layout)
        dances = [{"file": str(f), "label": n, "frames": m.num_frames, "fps": m.fps, "duration_s": m.duration}
                  for f, n, m in zip(files, names, motions)]
        result = {"page": str(page), "duration_s": max(m.duration for m in motions), "dances": dances}
        if len(motions) == 1:  # one dance: its numbers at the top, as before comparisons existed
            result.update(frames=motions[0].num_frames, fps=motions[0].fps)
        out.result(result, f"wrote {page}")
        if serve:
            serve_forever(page, port=port, open_browser=open_page, announce=out.say)
        elif open_page and not open_in_browser(page):
            out.say(f"no browser to open it here: open {page.resolve().as_uri()} where there is one, or use --serve")
