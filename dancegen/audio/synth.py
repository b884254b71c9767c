"""Synthesized drum patterns with known beats: test fixtures and the demo's music.

A rock beat in 4/4: kick on beats 1 and 3, snare on 2 and 4, closed hi-hat on every eighth
note, over a bass line that changes note on every downbeat (A, F, C, G), all made with numpy
(decaying sines and filtered noise). The true beat times come back with the samples, so beat
trackers and feature alignment can be checked without any data.
"""

from __future__ import annotations

import numpy as np

from dancegen.errors import ArgumentError

BEATS_PER_BAR = 4
# Drum voices: (decay time constant s, level). Kick and snare carry the beat; hats fill eighths.
KICK = (0.12, 0.9)
SNARE = (0.08, 0.5)
HAT = (0.02, 0.15)
BASS = (0.6, 0.25)
# One bass note per bar, cycling: A1, F1, C2, G1 (Hz) — the chord changes that mark each bar.
BASS_NOTES_HZ = (55.0, 43.65, 65.41, 49.0)


def drum_pattern(
    bpm: float,
    seconds: float,
    sample_rate: int = 22050,
    seed: int = 0,
    start: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(samples float32 in [-1, 1], beat_times in s) of a 4/4 drum groove at `bpm`.

    Beats fall at `start + k * 60 / bpm`; beat 0 is a downbeat, so `beat_times[::4]` are the
    downbeats. `seed` varies the hit velocities and the noise, never the timing.
    """
    if not (np.isfinite(bpm) and 20 <= bpm <= 400):
        raise ArgumentError("bpm", f"must be between 20 and 400, got {bpm!r}")
    if not (np.isfinite(seconds) and seconds > 0):
        raise ArgumentError("seconds", f"must be positive, got {seconds!r}")
    if not 0 <= start < seconds:
        raise ArgumentError("start", f"must be in [0, {seconds:g}) s, got {start!r}")
    rng = np.random.default_rng(seed)
    total = int(round(seconds * sample_rate))
    out = np.zeros(total, np.float64)
    period = 60.0 / bpm
    beat_times = np.arange(start, seconds, period)

    for index, beat in enumerate(beat_times):
        if index % BEATS_PER_BAR == 0:
            note = BASS_NOTES_HZ[(index // BEATS_PER_BAR) % len(BASS_NOTES_HZ)]
            _add(out, _bass(sample_rate, note, BEATS_PER_BAR * period), beat, sample_rate, 1.0)
        velocity = rng.uniform(0.8, 1.0)
        if index % 2 == 0:
            _add(out, _kick(sample_rate, rng), beat, sample_rate, velocity)
        else:
            _add(out, _snare(sample_rate, rng), beat, sample_rate, velocity)
        for eighth in (beat, beat + period / 2):
            _add(out, _hat(sample_rate, rng), eighth, sample_rate, rng.uniform(0.6, 1.0))

    peak = np.max(np.abs(out))
    if peak > 0.99:
        out *= 0.99 / peak
    return out.astype(np.float32), beat_times


def _add(out: np.ndarray, hit: np.ndarray, time: float, sample_rate: int, gain: float) -> None:
    first = int(round(time * sample_rate))
    if first >= len(out):
        return
    stop = min(len(out), first + len(hit))
    out[first:stop] += gain * hit[: stop - first]


def _envelope(decay: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(exponential decay, time axis) lasting six time constants."""
    t = np.arange(int(decay * 6 * sample_rate)) / sample_rate
    return np.exp(-t / decay), t


def _kick(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    envelope, t = _envelope(KICK[0], sample_rate)
    # Pitch falls from ~150 Hz to ~50 Hz: the thump of a kick drum.
    frequency = 50 + 100 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(frequency) / sample_rate
    return KICK[1] * envelope * np.sin(phase)


def _snare(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    envelope, t = _envelope(SNARE[0], sample_rate)
    body = np.sin(2 * np.pi * 190 * t)
    noise = rng.standard_normal(len(t))
    return SNARE[1] * envelope * (0.4 * body + 0.6 * noise)


def _bass(sample_rate: int, frequency: float, length: float) -> np.ndarray:
    t = np.arange(int(length * sample_rate)) / sample_rate
    envelope = np.exp(-t / BASS[0]) * np.minimum(1.0, t / 0.005)  # 5 ms attack: no click
    # Fundamental plus two overtones, so chroma sees the note and small speakers hear it.
    tone = sum(np.sin(2 * np.pi * k * frequency * t) / k for k in (1, 2, 3))
    return BASS[1] * envelope * tone


def _hat(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    envelope, t = _envelope(HAT[0], sample_rate)
    noise = rng.standard_normal(len(t))
    bright = np.diff(noise, prepend=0.0)  # first difference: a crude high-pass
    return HAT[1] * envelope * bright
