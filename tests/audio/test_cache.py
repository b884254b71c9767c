"""The on-disk feature cache: keys, round trips, damaged entries, two processes at once."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from dancegen.audio import Audio
from dancegen.audio.cache import ArrayCache, FeatureCache, cache_key, cache_root
from dancegen.audio.features import extract_features

RATE = 22050


def test_cache_root_comes_from_argument_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DANCEGEN_CACHE", str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("DANCEGEN_CACHE")
    assert str(cache_root()).endswith(".cache/dancegen")


def test_keys_depend_on_content_extractor_and_parameters():
    a = Audio(np.ones(100, np.float32) * 0.1, RATE)
    b = Audio(np.ones(100, np.float32) * 0.2, RATE)
    cache = FeatureCache()
    key = cache.key(a, "lda3", {"fps": 30.0})
    assert key == cache.key(Audio(a.samples.copy(), RATE), "lda3", {"fps": 30.0})
    assert len({key, cache.key(b, "lda3", {"fps": 30.0}), cache.key(a, "stft", {"fps": 30.0}),
                cache.key(a, "lda3", {"fps": 60.0})}) == 4
    assert cache_key({"x": 1, "y": 2}) == cache_key({"y": 2, "x": 1})


def test_extract_features_reads_what_it_cached(tmp_path, groove, monkeypatch):
    cache = FeatureCache(tmp_path)
    first = extract_features(groove[0], "stft", fps=30, cache=cache)
    entries = list(cache.directory.rglob("*.npy"))
    assert len(entries) == 1 and not list(cache.directory.rglob("*.tmp*"))

    import dancegen.audio.features as features

    def fail(*args, **kwargs):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setitem(features.FEATURE_KINDS, "stft", features.FEATURE_KINDS["stft"].__class__("stft", 193, fail, ""))
    np.testing.assert_array_equal(extract_features(groove[0], "stft", fps=30, cache=cache), first)
    # cache=True uses $DANCEGEN_CACHE (set per test by conftest), not the user's home.
    monkeypatch.setenv("DANCEGEN_CACHE", str(tmp_path))
    np.testing.assert_array_equal(extract_features(groove[0], "stft", fps=30, cache=True), first)


def test_damaged_entry_is_recomputed(tmp_path):
    cache = ArrayCache("features", tmp_path)
    cache.put("ab" * 32, np.arange(5.0))
    cache.path("ab" * 32).write_bytes(b"\x93NUMPY garbage")
    assert cache.get("ab" * 32) is None
    assert cache.get_or_compute("ab" * 32, lambda: np.arange(3.0)).tolist() == [0.0, 1.0, 2.0]
    assert cache.get("ab" * 32).tolist() == [0.0, 1.0, 2.0]


def _hammer(directory: str, worker: int, rounds: int, queue) -> None:
    cache = ArrayCache("features", directory)
    bad = 0
    for round_ in range(rounds):
        key = cache_key("shared", round_ % 5)
        value = np.full(20000, round_ % 5, np.float64)  # same key, same value, from both processes
        cache.put(key, value)
        got = cache.get(key)
        if got is None or not np.array_equal(got, value):
            bad += 1
    queue.put(bad)


def test_two_processes_writing_and_reading_the_same_keys(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_hammer, args=(str(tmp_path), w, 60, queue)) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    assert [queue.get(timeout=5), queue.get(timeout=5)] == [0, 0]  # never a partial or missing entry
    assert len(list(tmp_path.rglob("*.npy"))) == 5 and not list(tmp_path.rglob("*.tmp*"))


def test_unwritable_cache_is_a_clear_error(tmp_path):
    from dancegen.errors import ArgumentError

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(ArgumentError, match="DANCEGEN_CACHE") as caught:
        ArrayCache("features", not_a_folder).put("cd" * 32, np.zeros(2))
    assert "\n" not in str(caught.value)
