"""`dancegen render`: a shareable .mp4 of a dance with its music (needs ffmpeg)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from dancegen.cli.view import (
    AnnotationOption, BeatsOption, FpsOption, JsonOption, MotionFile, MusicOption, MusicStartOption, PromptOption,
    QuietOption,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command()
    def render(
        file: MotionFile,
        music: MusicOption = None,
        music_start: MusicStartOption = 0.0,
        output: Annotated[Optional[Path], typer.Option("-o", "--output", help="video to write (default: ./FILE-NAME.mp4)")] = None,
        beats: BeatsOption = None,
        annotation: AnnotationOption = None,
        prompt: PromptOption = None,
        size: Annotated[str, typer.Option("--size", help="WIDTHxHEIGHT, both even")] = "1280x720",
        video_fps: Annotated[Optional[float], typer.Option("--video-fps", help="video frame rate (default: the motion's)")] = None,
        fps: FpsOption = None,
        quiet: QuietOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """Render FILE as an H.264 .mp4 with the music, for sharing."""
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
        if video.suffix.lower() != ".mp4":
            raise ArgumentError(str(video), "the video must end in .mp4")
        motion = load_motion(file, fps=fps)
        started = time.perf_counter()
        export_motion(motion, video, music=music, music_start=music_start, beats=beats, annotation=annotation,
                      prompt=prompt, video_config=config, quiet=quiet or as_json)
        seconds = time.perf_counter() - started
        if as_json:
            print(json.dumps({"video": str(video), "duration_s": motion.duration, "width": width, "height": height,
                              "render_s": round(seconds, 3)}))
        elif not quiet:
            print(f"wrote {video} ({motion.duration:.1f} s of dance in {seconds:.1f} s)")
