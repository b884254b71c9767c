"""`dancegen view`: write the offline 3D viewer page for a dance, then open or serve it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

# Arguments `view` and `render` share.
MotionFile = Annotated[Path, typer.Argument(help="motion file: .bvh, .npz, .pkl, .npy, .glb or DeepMimic .txt")]
MusicOption = Annotated[Optional[Path], typer.Option("--music", help="song to play along")]
MusicStartOption = Annotated[float, typer.Option("--music-start", help="seconds of the song to skip")]
BeatsOption = Annotated[Optional[Path], typer.Option("--beats", help="beats.json (default: detected in --music)")]
AnnotationOption = Annotated[Optional[Path], typer.Option("--annotation", help="text annotation (.json or LRCM text)")]
PromptOption = Annotated[Optional[str], typer.Option("--prompt", help="text shown for the whole dance")]
FpsOption = Annotated[Optional[float], typer.Option("--fps", help="frame rate of FILE, when its header is wrong")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars or messages")]
JsonOption = Annotated[bool, typer.Option("--json", help="print the result as JSON")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command()
    def view(
        file: MotionFile,
        music: MusicOption = None,
        music_start: MusicStartOption = 0.0,
        beats: BeatsOption = None,
        annotation: AnnotationOption = None,
        prompt: PromptOption = None,
        output: Annotated[Optional[Path], typer.Option("-o", "--output", help="page to write (default: ./FILE-NAME.html)")] = None,
        fps: FpsOption = None,
        open_page: Annotated[bool, typer.Option("--open/--no-open", help="open the page in the browser")] = True,
        serve: Annotated[bool, typer.Option("--serve", help="serve the page on localhost until Ctrl+C")] = False,
        port: Annotated[int, typer.Option("--port", help="port for --serve (0: any free port)")] = 0,
        quiet: QuietOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """Write a self-contained HTML page that plays FILE in 3D with its music (works offline)."""
        from dancegen.export import export_motion
        from dancegen.motion.io import load_motion
        from dancegen.viewer.serve import open_in_browser, serve_forever

        motion = load_motion(file, fps=fps)
        page = output or Path.cwd() / f"{file.stem}.html"
        export_motion(motion, page, music=music, music_start=music_start, beats=beats,
                      annotation=annotation, prompt=prompt, quiet=quiet)
        result = {"page": str(page), "frames": motion.num_frames, "fps": motion.fps, "duration_s": motion.duration}
        if as_json:
            print(json.dumps(result))
        elif not quiet:
            print(f"wrote {page}")
        if serve:
            serve_forever(page, port=port, open_browser=open_page, announce=(lambda _: None) if quiet else print)
        elif open_page and not open_in_browser(page) and not quiet and not as_json:
            print(f"no browser to open it here: open {page.resolve().as_uri()} where there is one, or use --serve")
