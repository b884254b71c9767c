"""`audio.onsets` (numpy) gives librosa's onset envelope, onset peaks, tempo and beats, and
`baseline35` the same 35 columns as EDGE's librosa calls, on drum grooves, noise, fades,
silence and short clips — and, with the kit, on real songs."""

from __future__ import annotations

import numpy as np
import pytest

from dancegen.audio import onsets
from dancegen.audio.features import EDGE_BEAT_TIGHTNESS, EDGE_TEMPO_RATE, baseline35
from dancegen.audio.io import Audio, load_audio
from dancegen.audio.synth import drum_pattern

librosa = pytest.importorskip("librosa")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # librosa on near-silent/short clips

HOP = 512
N_FFT = 2048


def clips():
    """(name, samples, rate): grooves at tempi inside and outside the prior's octave, noise,
    a slow fade-in (weak leading beats get trimmed), silence, clips shorter than a beat."""
    rng = np.random.default_rng(0)
    for bpm, seconds, seed in [(120, 8, 0), (97, 6, 1), (140, 12, 2), (75, 5, 3), (180, 6, 4), (128, 2.5, 5)]:
        for rate in (15360, 22050):
            yield f"drums{bpm}@{rate}", drum_pattern(bpm, seconds, rate, seed)[0], rate
    for rate in (15360, 22050):
        yield f"noise@{rate}", (0.1 * rng.standard_normal(4 * rate)).astype(np.float32), rate
        groove = drum_pattern(110, 6, rate, 7)[0]
        yield f"fade@{rate}", (groove * np.linspace(0, 1, len(groove)) ** 3).astype(np.float32), rate
        yield f"silence@{rate}", np.zeros(3 * rate, np.float32), rate
        yield f"short@{rate}", (0.1 * rng.standard_normal(rate // 2)).astype(np.float32), rate


CLIPS = list(clips())


def reference_envelope(samples, rate):
    return librosa.onset.onset_strength(y=samples, sr=rate, hop_length=HOP)


def envelope(samples, rate):
    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=samples, sr=rate, n_fft=N_FFT, hop_length=HOP))
    return onsets.onset_strength(mel, N_FFT, HOP)


@pytest.mark.parametrize("name,samples,rate", CLIPS, ids=[clip[0] for clip in CLIPS])
def test_envelope_peaks_tempo_and_beats_equal_librosa(name, samples, rate):
    expected = reference_envelope(samples, rate)
    got = envelope(samples, rate)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-6
    np.testing.assert_array_equal(
        onsets.onset_detect(got, rate, HOP), librosa.onset.onset_detect(onset_envelope=expected, sr=rate, hop_length=HOP)
    )
    for start_bpm in (120.0, 87.5):
        reference_bpm = librosa.feature.tempo(onset_envelope=expected, sr=rate, hop_length=HOP, start_bpm=start_bpm)[0]
        assert onsets.tempo(got, rate, HOP, start_bpm) == reference_bpm
        _, reference_beats = librosa.beat.beat_track(
            onset_envelope=expected, sr=rate, hop_length=HOP, start_bpm=start_bpm, tightness=EDGE_BEAT_TIGHTNESS
        )
        beats = onsets.beat_track(got, rate, HOP, start_bpm=start_bpm, tightness=EDGE_BEAT_TIGHTNESS)
        np.testing.assert_array_equal(beats, reference_beats)
    if name.startswith("drums"):
        assert len(beats) >= 3  # the fixture really has beats to compare


def test_peak_pick_equals_librosa_on_random_envelopes():
    rng = np.random.default_rng(4)
    for trial in range(20):
        x = rng.random(int(rng.integers(5, 300))).astype(np.float32 if trial % 2 else np.float64)
        options = dict(pre_max=int(rng.integers(0, 5)), post_max=int(rng.integers(1, 5)), pre_avg=int(rng.integers(0, 8)),
                       post_avg=int(rng.integers(1, 8)), delta=float(rng.uniform(0, 0.3)), wait=int(rng.integers(0, 6)))
        np.testing.assert_array_equal(onsets.peak_pick(x, **options), librosa.util.peak_pick(x, **options))


def edge_baseline35(audio: Audio, fps: float = 30) -> np.ndarray:
    """EDGE's extract() with librosa, as features.baseline35 was written before audio.onsets."""
    rate = int(fps * HOP)
    data = audio.resampled(rate).samples
    envelope = librosa.onset.onset_strength(y=data, sr=rate, hop_length=HOP)
    mfcc = librosa.feature.mfcc(y=data, sr=rate, n_mfcc=20, hop_length=HOP).T
    chroma = librosa.feature.chroma_cens(y=data, sr=rate, hop_length=HOP, n_chroma=12).T
    peaks = librosa.onset.onset_detect(onset_envelope=envelope, sr=rate, hop_length=HOP)
    start_bpm = 120.0
    if not audio.is_silent:
        start_bpm = librosa.feature.tempo(y=audio.resampled(EDGE_TEMPO_RATE).samples, sr=EDGE_TEMPO_RATE)[0]
    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=rate, hop_length=HOP, start_bpm=start_bpm,
                                       tightness=EDGE_BEAT_TIGHTNESS)
    frames = min(len(envelope), len(mfcc), len(chroma))
    one_hot = np.zeros((frames, 2), np.float32)
    one_hot[peaks[peaks < frames], 0] = one_hot[beats[beats < frames], 1] = 1.0
    return np.concatenate([envelope[:frames, None], mfcc[:frames], chroma[:frames], one_hot], axis=1)


def assert_same_features(audio: Audio):
    got = baseline35(audio, 30)
    expected = edge_baseline35(audio)
    frames = min(len(got), len(expected))
    assert got.shape[1] == 35 and abs(len(got) - len(expected)) <= 1
    assert np.abs(got[:frames] - expected[:frames]).max() <= 1e-6
    return got


def test_baseline35_equals_edges_librosa_features():
    groove = assert_same_features(Audio(drum_pattern(123, 6, 44100, 8)[0], 44100))
    assert groove[:, 34].sum() >= 8  # beats found: the beat column was compared, not only zeros
    assert_same_features(Audio(np.zeros(22050, np.float32), 22050))


def test_generation_features_do_not_import_librosas_onset_and_beat_modules():
    import subprocess
    import sys

    code = ("import sys, numpy as np; from dancegen.audio.io import Audio; from dancegen.audio.synth import drum_pattern;"
            "from dancegen.audio.features import extract_features;"
            "f = extract_features(Audio(drum_pattern(120, 2, 22050)[0], 22050), 'baseline35');"
            "print(f.shape, 'librosa.onset' in sys.modules, 'librosa.beat' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["(60,", "35)", "False", "False"]


@pytest.mark.kit
def test_baseline35_equals_librosa_on_kit_songs(kit):
    songs = sorted(path for path in (kit / "music").rglob("*.ogg"))[:3]
    if not songs:
        pytest.skip("no .ogg songs in the kit")
    for song in songs:
        assert_same_features(load_audio(song, start=0.0, end=20.0))
