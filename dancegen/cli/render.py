"""`dancegen render`: a shareable .mp4 of a dance with its music, or a .png contact sheet of
frames spread over the dance. The video is encoded by the ffmpeg binary that the
`imageio-ffmpeg` wheel ships (`dancegen.export.video.find_ffmpeg`): no system ffmpeg needed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from dancegen.cli.options import JsonOption, Output, QuietOption, quietable
from dancegen.cli.view import (
    AnnotationOption,
    BeatsOption,
    FpsOption,
    MotionFile,
    MusicOption,
    MusicStartOption,
    PromptOption,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command()
    @quietable
    def render(
        file: MotionFile,
        music: MusicOption = None,
        music_start: MusicStartOption = 0.0,
        output: Annotated[Optional[Path], typer.Option(
            "-o", "--output", help="video (.mp4) or contact sheet (.png) to write (default: ./FILE-NAME.mp4)")] = None,
        frames: Annotated[int, typer.Option("--frames", min=1, max=200, help="tiles of a .png contact sheet")] = 12,
        beats: BeatsOption = None,
        annotation: AnnotationOption = None,
        prompt: PromptOption = None,
        size: Annotated[str, typer.Option("--size", help="WIDTHxHEIGHT, both even")] = "1280x720",
        video_fps: Annotated[Optional[float], typer.Option("--video-fps", help="video frame rate (default: the motion's)")] = None,
        fps: FpsOption = None,
        quiet: QuietOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """Render FILE as an H.264 .mp4 with the music, for sharing (or a .png contact sheet)."""
        from pydantic import ValidationError

        from dancegen.config import format_validation_error
        from dancegen.errors import ArgumentError
        from dancegen.export import export_motion
        from dancegen.export.video import VideoConfig, parse_size
        from dancegen.motion.io import load_motion

        width, height = parse_size(size)
        try:
            config = VideoConfig(width=width, height=height, fps=video_fps)
        except ValidationError as error:
            raise ArgumentError("--size/--video-fps", format_validation_error(error)) from None
        video = output or Path.cwd() / f"{file.stem}.mp4"
        if video.suffix.lower() not in (".mp4", ".png"):
            raise ArgumentError("--output", f"{video.name}: write a video (.mp4) or a contact sheet (.png)")
        output = Output(quiet, as_json)
        motion = load_motion(file, fps=fps)
        started = time.perf_counter()
        if video.suffix.lower() == ".png":
            from dancegen.export import resolve_texts
            from dancegen.export.video import contact_sheet

            texts, text = resolve_texts(motion, annotation, prompt)
            contact_sheet(motion, video, count=frames, annotation=texts, prompt=text)
            output.result({"sheet": str(video), "frames": frames, "duration_s": motion.duration},
                          f"wrote {video} ({frames} frames of {motion.duration:.1f} s)")
            return
        export_motion(motion, video, music=music, music_start=music_start, beats=beats, annotation=annotation,
                      prompt=prompt, video_config=config, quiet=not output.chatty)
        seconds = time.perf_counter() - started
        output.result({"video": str(video), "duration_s": motion.duration, "width": width, "height": height,
                       "render_s": round(seconds, 3)},
                      f"wrote {video} ({motion.duration:.1f} s of dance in {seconds:.1f} s)")
