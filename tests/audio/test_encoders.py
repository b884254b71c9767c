"""The audio-encoder registry: hand-crafted kinds, foundation models from local weights only."""

from __future__ import annotations

import numpy as np
import pytest

from dancegen.audio import Audio
from dancegen.audio.encoders import (
    AudioEncoder,
    _REGISTRY,
    available_encoders,
    get_encoder,
    register_audio_encoder,
)
from dancegen.audio.features import extract_features
from dancegen.errors import ArgumentError, MissingResourceError

RATE = 24000
FOUNDATION = ("jukebox", "wav2clip", "mert", "clap")


@pytest.fixture(scope="module")
def clip_audio() -> Audio:
    rng = np.random.default_rng(7)
    return Audio((0.1 * rng.standard_normal(int(2.5 * RATE))).astype(np.float32), RATE)


def test_registry_lists_handcrafted_and_foundation_encoders():
    assert {"baseline35", "lda3", "lda14", "stft", *FOUNDATION} <= set(available_encoders())
    with pytest.raises(ArgumentError, match="unknown audio encoder 'nope'"):
        get_encoder("nope")


def test_handcrafted_encoder_equals_extract_features(clip_audio):
    encoder = get_encoder("stft")
    assert encoder.dim == 193
    np.testing.assert_array_equal(encoder.encode(clip_audio, fps=25), extract_features(clip_audio, "stft", fps=25))
    with pytest.raises(ArgumentError, match="takes no weights"):
        get_encoder("stft", weights="/some/file")


def test_register_a_new_encoder(clip_audio):
    @register_audio_encoder("loudness-test")
    class Loudness(AudioEncoder):
        dim = 1

        def __init__(self, weights=None, scale: float = 1.0):
            self.scale = scale

        def encode(self, audio, fps=30):
            frames = int(np.ceil(audio.duration * fps))
            hop = audio.sample_rate / fps
            return np.array([[self.scale * np.abs(audio.samples[int(i * hop) : int((i + 1) * hop)]).mean()] for i in range(frames)], np.float32)

    try:
        encoder = get_encoder("loudness-test", scale=2.0)
        assert encoder.encode(clip_audio, fps=10).shape == (25, 1)
        with pytest.raises(ArgumentError, match="bad option"):
            get_encoder("loudness-test", colour="red")
        with pytest.raises(ValueError, match="twice"):
            register_audio_encoder("loudness-test")(Loudness)
    finally:
        _REGISTRY.pop("loudness-test")


@pytest.mark.parametrize("name", FOUNDATION)
def test_missing_weights_name_the_path_in_one_line(name, tmp_path):
    with pytest.raises(MissingResourceError, match="no weights path is set") as unset:
        get_encoder(name)
    missing = tmp_path / "weights" / name
    with pytest.raises(MissingResourceError) as absent:
        get_encoder(name, weights=missing)
    for caught in (unset, absent):
        assert f"'{name}'" in str(caught.value) and "\n" not in str(caught.value)
    assert str(missing) in str(absent.value) and "should be" in str(absent.value)


def test_folder_without_required_files_is_named(tmp_path):
    (tmp_path / "mert").mkdir()
    with pytest.raises(MissingResourceError, match="lacks config.json, preprocessor_config.json"):
        get_encoder("mert", weights=tmp_path / "mert")


def test_mert_path_runs_a_local_hubert_style_model(tmp_path, clip_audio):
    """MERT is HuBERT-shaped: a tiny random HuBERT saved locally exercises the same code path."""
    transformers = pytest.importorskip("transformers")
    config = transformers.HubertConfig(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
    )
    transformers.HubertModel(config).save_pretrained(tmp_path)
    transformers.Wav2Vec2FeatureExtractor(sampling_rate=RATE).save_pretrained(tmp_path)
    encoder = get_encoder("mert", weights=tmp_path)
    features = encoder.encode(clip_audio, fps=30)
    assert encoder.dim == 16 and features.shape == (75, 16) and np.all(np.isfinite(features))
    np.testing.assert_allclose(encoder.encode(clip_audio, fps=30), features, atol=1e-5)  # deterministic


def test_clap_path_runs_a_local_model(tmp_path, clip_audio):
    transformers = pytest.importorskip("transformers")
    config = transformers.ClapConfig(
        text_config=dict(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=32),
        audio_config=dict(hidden_size=128, patch_embeds_hidden_size=16, depths=[1, 1, 1, 1],
                          num_attention_heads=[1, 1, 2, 2], window_size=8, spec_size=256, num_mel_bins=64),
        projection_dim=8,
    )
    transformers.ClapModel(config).save_pretrained(tmp_path)
    transformers.ClapFeatureExtractor(feature_size=64).save_pretrained(tmp_path)
    encoder = get_encoder("clap", weights=tmp_path)
    features = encoder.encode(clip_audio, fps=20)
    assert encoder.dim == 8 and features.shape == (50, 8) and np.all(np.isfinite(features))
    assert np.ptp(features, axis=0).max() > 0  # windows hear different music


def test_wav2clip_needs_its_package_or_a_tensor_checkpoint(tmp_path):
    import torch

    checkpoint = tmp_path / "ResNet_CX.ckpt"
    torch.save({"state_dict": {}}, checkpoint)
    try:
        import wav2clip  # noqa: F401
    except Exception:
        with pytest.raises(MissingResourceError, match="needs the wav2clip.model.encoder package"):
            get_encoder("wav2clip", weights=tmp_path)
    else:
        pytest.skip("wav2clip is installed: its weights are not available offline to test further")
