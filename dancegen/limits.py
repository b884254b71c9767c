"""Named limits on what dancegen reads: sizes past them are one-line errors, not a 179 GiB
allocation, a RecursionError or an hour of silence.

Every limit is a field of `Limits` (a typed config): the defaults fit any real dance, song or
rig with a wide margin. Raise one for a special job with the environment, e.g.
`DANCEGEN_LIMITS="max_frames=5000000,max_joints=2000"`; `limits()` reads it once per value.
Errors say which limit was hit and how to raise it (`exceeded`).
"""

from __future__ import annotations

import os

from pydantic import Field, ValidationError

from dancegen.config import StrictConfig
from dancegen.errors import ArgumentError, LimitError

LIMITS_ENV = "DANCEGEN_LIMITS"


class Limits(StrictConfig):
    """The largest inputs dancegen accepts."""

    # Motion: a million frames is 4.6 hours at 60 fps (the benchmarks read one).
    max_frames: int = Field(2_000_000, ge=1, description="frames in one motion (read, generated or resampled)")
    max_joints: int = Field(1024, ge=1, description="joints of one skeleton (SMPL-X has 55, game rigs a few hundred)")
    max_hierarchy_depth: int = Field(256, ge=1, description="joints from the root to the deepest leaf")
    max_fps: float = Field(1000.0, gt=0, description="frame rate of a motion, read or asked for")
    max_joint_name_chars: int = Field(256, ge=1, description="characters in one joint name")
    # Audio: an hour-long DJ set fits, a day of recording does not.
    max_audio_seconds: float = Field(4 * 3600.0, gt=0, description="length of a song")
    max_audio_channels: int = Field(64, ge=1, description="channels of an audio file")
    max_sample_rate: int = Field(768_000, ge=1, description="sample rate of an audio file (Hz)")
    # Text.
    max_prompt_chars: int = Field(500, ge=1, description="characters of a prompt or a text description")
    max_text_file_bytes: int = Field(4 * 2**20, ge=1, description="size of an annotation, keyframe or beats file")
    max_json_depth: int = Field(64, ge=1, description="nesting of arrays and objects in a JSON input")
    # Generation.
    max_seed: int = Field(2**63 - 1, ge=0, description="largest --seed (torch generators take 64-bit seeds)")
    max_steps: int = Field(10_000, ge=1, description="denoising steps")


_cache: tuple[str, Limits] | None = None


def limits() -> Limits:
    """The limits in force: the defaults, with DANCEGEN_LIMITS's `name=value` pairs applied."""
    global _cache
    setting = os.environ.get(LIMITS_ENV, "")
    if _cache is None or _cache[0] != setting:
        _cache = (setting, _parse(setting))
    return _cache[1]


def _parse(setting: str) -> Limits:
    values: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in setting.split(","))):
        name, equals, value = item.partition("=")
        if not equals:
            raise ArgumentError(LIMITS_ENV, f"{item!r} is not name=value", f"e.g. {LIMITS_ENV}=max_frames=5000000")
        values[name.strip()] = value.strip()
    try:
        return Limits(**values)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ArgumentError(LIMITS_ENV, f"{where}: {first['msg']}", f"known limits: {', '.join(Limits.model_fields)}") from None


def exceeded(what: str, value: float, name: str) -> LimitError:
    """'WHAT: VALUE is more than the limit of N (raise it with DANCEGEN_LIMITS=NAME=...)'."""
    limit = getattr(limits(), name)
    return LimitError(f"{what}: {_number(value)} is more than the limit of {_number(limit)} ({name}; "
                      f"raise it with {LIMITS_ENV}={name}=...)")


def _number(value: float) -> str:
    # Whole numbers in full (2000000, not 2e+06): the user types them back into DANCEGEN_LIMITS.
    try:
        if float(value).is_integer() and abs(value) < 1e18:
            return str(int(value))
    except OverflowError:
        return "a number too large to represent"
    return f"{value:g}"


def check_at_most(what: str, value: float, name: str) -> None:
    """Raise `exceeded(...)` when `value` is past the limit called `name`."""
    if value > getattr(limits(), name):
        raise exceeded(what, value, name)


# --- JSON inputs ----------------------------------------------------------------------------

# An integer literal past this many digits is no time, angle or length anyone meant.
_MAX_NUMBER_CHARS = 400


def _bounded_int(text: str) -> int:
    if len(text) > _MAX_NUMBER_CHARS:
        raise ValueError(f"number {text[:24]}... is too large")
    value = int(text)
    if abs(value) > 1e308:  # past float range: NumPy and math.isfinite would overflow on it
        raise ValueError(f"number {text[:24]} is too large")
    return value


def _depth(value) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def load_json_file(path, what: str = "JSON file"):
    """A JSON input read strictly: within max_text_file_bytes, UTF-8, no integer past float range
    (NumPy and `math` overflow on those), nesting within max_json_depth. Any problem is one
    `InputFileError`. NaN, Infinity and 1e400 come back as float NaN / inf, as Python's json
    gives them, for the reader's own checks to name the entry ("keyframe 0 needs a finite time")."""
    import json
    from pathlib import Path

    from dancegen.errors import InputFileError

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, f"{what} not found" if not path.exists() else "is not a file")
    size = path.stat().st_size
    if size > limits().max_text_file_bytes:
        raise exceeded(f"{path}: size in bytes", size, "max_text_file_bytes")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputFileError(path, f"is not UTF-8 text (byte {error.start})", "save it as UTF-8 JSON") from None
    except OSError as error:
        raise InputFileError(path, f"cannot read: {error.strerror}") from None
    try:
        data = json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as error:
        raise InputFileError(path, f"not valid JSON: {error.msg}", line=error.lineno) from None
    except RecursionError:
        raise InputFileError(path, "JSON nested too deeply", f"at most {limits().max_json_depth} levels") from None
    except ValueError as error:
        raise InputFileError(path, f"not valid JSON: {error}") from None
    if _depth(data) > limits().max_json_depth:
        raise InputFileError(path, "JSON nested too deeply", f"at most {limits().max_json_depth} levels")
    return data
