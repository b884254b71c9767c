"""The text -> genre head: the description set, the shipped head and its held-out accuracy, a
tiny head that learns, and predictions through real MiniLM embeddings."""

from __future__ import annotations

import pytest
import torch

from dancegen.data.genre_classifier import (
    HEAD_PATH, MIN_DESCRIPTIONS, DescriptionSet, GenreClassifier, GenreClassifierConfig, heldout_split,
    load_descriptions, predict_genre, text_encoder, train_genre_classifier,
)
from dancegen.data.genres import GENRES
from dancegen.errors import ArgumentError, InputFileError, MissingResourceError

# The target for held-out accuracy, per dataset vocabulary.
TARGET_ACCURACY = 0.9


def test_description_set_covers_every_genre_and_splits_deterministically():
    descriptions = load_descriptions()
    assert set(descriptions.descriptions) == set(GENRES) == set(descriptions.terms)
    assert min(len(texts) for texts in descriptions.descriptions.values()) >= MIN_DESCRIPTIONS
    train, heldout = heldout_split(descriptions.descriptions, 0.25)
    assert heldout_split(descriptions.descriptions, 0.25) == (train, heldout)
    per_genre = {g: sum(1 for _, h in heldout if h == g) for g in GENRES}
    assert set(per_genre.values()) <= {5, 6} and not {t for t, _ in train} & {t for t, _ in heldout}


def test_bad_description_files_are_refused(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text("descriptions:\n  salsa: [a, b]\nterms:\n  salsa: [c]\n")
    with pytest.raises(InputFileError, match="genres missing"):
        load_descriptions(path)
    path.write_text("- just a list\n")
    with pytest.raises(InputFileError, match="expected 'descriptions' and 'terms'"):
        load_descriptions(path)


def test_shipped_head_is_small_loads_safely_and_met_the_target():
    assert HEAD_PATH.stat().st_size < 400_000
    payload = torch.load(HEAD_PATH, weights_only=True)
    assert payload["format"] == "dancegen.genre_head" and payload["genres"] == list(GENRES)
    classifier = GenreClassifier.load(HEAD_PATH)
    accuracy = classifier.metrics["heldout"]["accuracy"]
    for vocabulary in ("aistpp", "finedance", "motorica", "kit"):
        assert accuracy[vocabulary] >= TARGET_ACCURACY, (vocabulary, accuracy)
    assert classifier.metrics["heldout"]["examples"] == 174


def test_missing_or_foreign_head_files(tmp_path):
    with pytest.raises(MissingResourceError, match="train-genre-classifier"):
        GenreClassifier.load(tmp_path / "none.pt")
    torch.save({"something": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(InputFileError, match="not a dancegen genre head"):
        GenreClassifier.load(tmp_path / "other.pt")


@pytest.fixture(scope="module")
def minilm():
    return text_encoder("minilm")


def test_shipped_head_reproduces_its_heldout_accuracy(minilm):
    classifier = GenreClassifier.load(HEAD_PATH)
    _, heldout = heldout_split(load_descriptions().descriptions, classifier.config.heldout_fraction)
    genres, probs = classifier.probabilities(minilm.encode([t for t, _ in heldout]), "aistpp")
    rows = [i for i, (_, g) in enumerate(heldout) if g in genres]
    correct = sum(genres[probs[i].argmax()] == heldout[i][1] for i in rows)
    assert correct / len(rows) == pytest.approx(classifier.metrics["heldout"]["accuracy"]["aistpp"], abs=0.02)


def test_predict_genre_with_real_embeddings():
    genre, probability = predict_genre("b-boys spinning on their heads and freezing on one hand")
    assert genre == "breaking" and 0.5 < probability <= 1.0
    assert predict_genre("long silk water sleeves in a Tang palace", vocabulary="finedance")[0] == "hantang"
    # Restricted to AIST++, a FineDance-only description still maps to an AIST++ genre.
    assert predict_genre("peacock dance from Yunnan", vocabulary="aistpp")[0] in GENRES
    with pytest.raises(ArgumentError, match="is empty"):
        predict_genre("  ")


def test_a_tiny_head_learns_and_round_trips(minilm, tmp_path):
    full = load_descriptions()
    keep = ("breaking", "tap", "salsa", "dai")
    subset = DescriptionSet({g: full.descriptions[g] for g in keep}, {g: full.terms[g] for g in keep})
    config = GenreClassifierConfig(hidden=32, members=2, steps=80, term_combinations=4)
    classifier = train_genre_classifier(config, subset, minilm)
    metrics = classifier.metrics
    assert metrics["loss_last"] < 0.5 * metrics["loss_first"]
    assert classifier.genres == keep and metrics["heldout"]["accuracy"]["all"] >= 0.8
    classifier.save(tmp_path / "tiny.pt")
    loaded = GenreClassifier.load(tmp_path / "tiny.pt")
    probe = minilm.encode(["windmills on a cardboard mat", "a peacock dance"])
    assert loaded.genres == keep and loaded.config == config
    assert abs(loaded.logits(probe) - classifier.logits(probe)).max() < 0.05  # weights stored in fp16
