"""Loading (formats, stems, trimming, resampling), errors, and atomic wav writing."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from dancegen.audio import Audio, load_audio, write_wav
from dancegen.audio.io import audio_duration
from dancegen.errors import ArgumentError, InputFileError

RATE = 22050


def tone(seconds: float, hz: float = 440.0, rate: int = RATE, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("suffix, fmt, tolerance", [(".wav", "WAV", 1e-4), (".flac", "FLAC", 1e-4), (".ogg", "OGG", 0.05), (".mp3", "MP3", 0.1)])
def test_formats_decode_to_the_same_mono_signal(tmp_path, suffix, fmt, tolerance):
    left, right = tone(1.0, 440), tone(1.0, 660)
    path = tmp_path / f"x{suffix}"
    soundfile.write(str(path), np.stack([left, right], axis=1), RATE, format=fmt)
    audio = load_audio(path)
    assert audio.sample_rate == RATE and audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.path == path
    # Lossy codecs add delay and padding: compare the RMS of the mono mix, not samples.
    mono = (left + right) / 2
    assert abs(audio.duration - 1.0) < 0.08
    rms = float(np.sqrt(np.mean(audio.samples**2)))
    assert rms == pytest.approx(float(np.sqrt(np.mean(mono**2))), rel=tolerance + 0.02)
    if fmt in ("WAV", "FLAC"):
        np.testing.assert_allclose(audio.samples, mono, atol=tolerance)


def test_stems_are_summed_and_trimmed_and_resampled(tmp_path):
    song, guitar = tone(2.0, 220, level=0.3), tone(1.5, 330, level=0.2)  # stems may differ in length
    soundfile.write(str(tmp_path / "song.wav"), song, RATE)
    soundfile.write(str(tmp_path / "guitar.wav"), guitar, RATE)
    # The kit's beats.json lists the main file among its stems: it is not added twice.
    mix = load_audio(tmp_path / "song.wav", stems=["song.wav", "guitar.wav"])
    expected = song.copy()
    expected[: len(guitar)] += guitar
    np.testing.assert_allclose(mix.samples, expected, atol=1e-4)

    part = load_audio(tmp_path / "song.wav", stems=["guitar.wav"], start=0.5, end=1.0)
    np.testing.assert_allclose(part.samples, expected[int(0.5 * RATE) : RATE], atol=1e-4)

    low = load_audio(tmp_path / "song.wav", sample_rate=16000)
    assert low.sample_rate == 16000 and abs(low.duration - 2.0) < 1e-3
    spectrum = np.abs(np.fft.rfft(low.samples))
    assert np.fft.rfftfreq(len(low.samples), 1 / 16000)[np.argmax(spectrum)] == pytest.approx(220, abs=1)


def test_user_errors_are_one_line(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk.ogg").write_bytes(b"this is not audio at all" * 10)
    soundfile.write(str(tmp_path / "ok.wav"), tone(1.0), RATE)
    cases = [
        (tmp_path / "missing.wav", {}, InputFileError, "not found"),
        (tmp_path / "empty.wav", {}, InputFileError, "empty"),
        (tmp_path / "junk.ogg", {}, InputFileError, "cannot decode"),
        (tmp_path, {}, InputFileError, "folder"),
        (tmp_path / "ok.wav", {"stems": ["missing.wav"]}, InputFileError, "not found"),
        (tmp_path / "ok.wav", {"start": 5.0}, ArgumentError, "past the end"),
        (tmp_path / "ok.wav", {"start": -1.0}, ArgumentError, "start"),
        (tmp_path / "ok.wav", {"start": 0.5, "end": 0.2}, ArgumentError, "end"),
        (tmp_path / "ok.wav", {"sample_rate": 0}, ArgumentError, "sample_rate"),
    ]
    for path, kwargs, error, words in cases:
        with pytest.raises(error) as caught:
            load_audio(path, **kwargs)
        message = str(caught.value)
        assert words in message and "\n" not in message


def test_silent_audio_is_valid(tmp_path):
    soundfile.write(str(tmp_path / "silence.wav"), np.zeros(RATE), RATE)
    audio = load_audio(tmp_path / "silence.wav")
    assert audio.is_silent and audio.duration == pytest.approx(1.0)
    assert not Audio(tone(0.1), RATE).is_silent


def test_write_wav_is_atomic_and_round_trips(tmp_path):
    audio = Audio(tone(0.5, level=0.9), RATE)
    out = write_wav(tmp_path / "sub" / "out.wav", audio)
    assert out.is_file() and [p.name for p in out.parent.iterdir()] == ["out.wav"]  # no temp files left
    back = load_audio(out)
    np.testing.assert_allclose(back.samples, audio.samples, atol=1 / 32768 + 1e-6)
    assert audio_duration(out) == pytest.approx(0.5)
    # Bare samples with a rate (the form the data pipeline uses); FLOAT keeps them exactly.
    write_wav(tmp_path / "f.wav", audio.samples * 2, RATE, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(tmp_path / "f.wav").samples, audio.samples * 2)
    with pytest.raises(ArgumentError):
        write_wav(tmp_path / "g.wav", audio.samples)


def test_fingerprint_follows_content():
    a = Audio(tone(0.2), RATE)
    assert a.fingerprint == Audio(tone(0.2), RATE).fingerprint
    assert a.fingerprint != Audio(tone(0.2, hz=441), RATE).fingerprint
    assert a.fingerprint != Audio(tone(0.2), RATE + 1).fingerprint
