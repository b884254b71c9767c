"""Free text -> dance genre: a small head over the MiniLM sentence embedding (GCDance's text path).

GCDance maps a free-form description to a genre, then embeds "This is a {genre} type of music."
to drive FiLM. The head here is trained on `genre_descriptions.yaml`, hand-written descriptions
of every genre in `data.genres`; a deterministic quarter of each genre's list is held out and
the held-out accuracy is stored with the head. The shipped head, `genre_head.pt`, is what
`dancegen data train-genre-classifier` writes.

A model trained on one dataset knows only that dataset's genres, so predictions can be
restricted to a vocabulary (`aistpp`, `finedance`, `motorica`, `kit`): the softmax is taken
over that vocabulary's genres only.
"""

from __future__ import annotations

import hashlib
import pickle
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml

from dancegen.config import StrictConfig
from dancegen.data.genres import GENRES, VOCABULARIES, GenreVocabulary, get_vocabulary
from dancegen.errors import ArgumentError, InputFileError, MissingResourceError

DESCRIPTIONS_PATH = Path(__file__).with_name("genre_descriptions.yaml")
HEAD_PATH = Path(__file__).with_name("genre_head.pt")
HEAD_FORMAT = "dancegen.genre_head"
HEAD_VERSION = 1
ENCODER_NAME = "minilm"
MIN_DESCRIPTIONS = 20  # per genre (the floor)


class GenreClassifierConfig(StrictConfig):
    hidden: int = 256  # 0 = a linear head
    members: int = 1  # heads trained side by side from different inits; their logits are averaged
    dropout: float = 0.2
    steps: int = 400  # full-batch AdamW steps (the whole set fits in one batch)
    learning_rate: float = 3e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    heldout_fraction: float = 0.25
    term_combinations: int = 60  # per genre: random "a, b and c" phrases of its terms
    seed: int = 0


def build_head(dim: int, num_genres: int, hidden: int, dropout: float, members: int = 1):
    """`members` MLPs (LayerNorm first: MiniLM vectors are unit-length with tiny entries) whose
    logits are averaged; an ensemble smooths out the luck of one initialisation on a small set."""
    from torch import nn

    def member() -> nn.Module:
        if hidden <= 0:
            return nn.Sequential(nn.LayerNorm(dim), nn.Dropout(dropout), nn.Linear(dim, num_genres))
        return nn.Sequential(nn.LayerNorm(dim), nn.Dropout(dropout), nn.Linear(dim, hidden), nn.GELU(),
                             nn.Dropout(dropout), nn.Linear(hidden, num_genres))

    class MeanOfHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.heads = nn.ModuleList(member() for _ in range(members))

        def forward(self, x):
            return sum(head(x) for head in self.heads) / len(self.heads)

    return MeanOfHeads()


# --- the description set ------------------------------------------------------------------

@dataclass(frozen=True)
class DescriptionSet:
    descriptions: dict[str, list[str]]  # genre -> free-form descriptions
    terms: dict[str, list[str]]  # genre -> its moves, music, places, people, clothing


def load_descriptions(path: str | Path = DESCRIPTIONS_PATH) -> DescriptionSet:
    """The description set, checked: every genre of `data.genres` and no other, at least
    MIN_DESCRIPTIONS descriptions each, no description listed twice, terms for every genre."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise InputFileError(path, f"cannot read genre descriptions: {error}") from None
    if not isinstance(data, dict) or not {"descriptions", "terms"} <= set(data):
        raise InputFileError(path, "expected 'descriptions' and 'terms' sections, each genre -> list of texts")
    sections = {}
    for section in ("descriptions", "terms"):
        table = data[section]
        unknown, missing = sorted(set(table) - set(GENRES)), sorted(set(GENRES) - set(table))
        if unknown or missing:
            raise InputFileError(path, f"{section}: unknown genres {unknown}, genres missing {missing}",
                                 "keys must be the genre keys of dancegen/data/genres.py")
        sections[section] = {genre: [str(text) for text in table[genre] or ()] for genre in GENRES}
    seen: set[str] = set()
    for genre, texts in sections["descriptions"].items():
        if len(texts) < MIN_DESCRIPTIONS:
            raise InputFileError(path, f"descriptions: {genre} has {len(texts)}, needs at least {MIN_DESCRIPTIONS}")
        for text in texts:
            if text.lower() in seen:
                raise InputFileError(path, f"descriptions: {text!r} is listed twice")
            seen.add(text.lower())
    return DescriptionSet(sections["descriptions"], sections["terms"])


def heldout_split(descriptions: dict[str, list[str]], fraction: float) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, held-out) lists of (text, genre): per genre, the `fraction` of texts with the
    smallest hash is held out, so the split is balanced and never depends on file order."""
    train, heldout = [], []
    for genre, texts in descriptions.items():
        ranked = sorted(texts, key=lambda text: hashlib.sha256(text.encode()).hexdigest())
        cut = int(round(len(ranked) * fraction))
        heldout += [(text, genre) for text in ranked[:cut]]
        train += [(text, genre) for text in ranked[cut:]]
    return train, heldout


def training_examples(description_set: DescriptionSet, config: "GenreClassifierConfig"
                      ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, held-out) (text, genre) lists. Train: the descriptions not held out, every term,
    and `config.term_combinations` random phrases of two or three terms per genre."""
    train, heldout = heldout_split(description_set.descriptions, config.heldout_fraction)
    rng = random.Random(config.seed)
    for genre, terms in description_set.terms.items():
        train += [(term, genre) for term in terms]
        for _ in range(config.term_combinations if len(terms) >= 3 else 0):
            picked = rng.sample(terms, rng.choice((2, 3)))
            train.append((", ".join(picked[:-1]) + " and " + picked[-1], genre))
    return train, heldout


# --- the classifier -----------------------------------------------------------------------

@dataclass
class GenreClassifier:
    head: Any  # torch module: embedding (D,) -> logits over `genres`
    genres: tuple[str, ...]
    config: GenreClassifierConfig
    encoder_name: str = ENCODER_NAME
    metrics: dict[str, Any] | None = None

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        import torch

        self.head.eval()
        with torch.no_grad():
            return self.head(torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)).numpy()

    def probabilities(self, embeddings: np.ndarray, vocabulary: str | GenreVocabulary | None = None
                      ) -> tuple[tuple[str, ...], np.ndarray]:
        """(genres of the vocabulary, (N, V) softmax over just those genres)."""
        vocab = get_vocabulary(vocabulary)
        genres = tuple(g for g in vocab.genres if g in self.genres)
        if not genres:
            raise ArgumentError("--vocabulary", f"this head knows none of the {vocab.name} genres")
        logits = self.logits(embeddings)[:, [self.genres.index(g) for g in genres]]
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        return genres, probs / probs.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str], vocabulary: str | GenreVocabulary | None = None,
                encoder: Any = None) -> list[tuple[str, float]]:
        encoder = encoder or text_encoder(self.encoder_name)
        genres, probs = self.probabilities(encoder.encode(list(texts)), vocabulary)
        best = probs.argmax(axis=1)
        return [(genres[i], float(p[i])) for i, p in zip(best, probs)]

    # --- files --------------------------------------------------------------------------

    def save(self, path: str | Path = HEAD_PATH) -> None:
        import torch

        from dancegen.fileio import atomic_path

        payload = {
            "format": HEAD_FORMAT,
            "version": HEAD_VERSION,
            "encoder": self.encoder_name,
            "genres": list(self.genres),
            "config": self.config.model_dump(),
            "metrics": self.metrics or {},
            # fp16 halves the file; logits in fp32 after loading agree to ~1e-3.
            "state_dict": {k: v.detach().half() for k, v in self.head.state_dict().items()},
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path: str | Path = HEAD_PATH) -> "GenreClassifier":
        import torch

        path = Path(path)
        if not path.is_file():
            raise MissingResourceError(f"{path}: genre classifier weights not found (write them with "
                                       "`dancegen data train-genre-classifier`)")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, OSError) as error:
            raise InputFileError(path, f"not a readable genre head ({type(error).__name__})") from None
        if not isinstance(payload, dict) or payload.get("format") != HEAD_FORMAT:
            raise InputFileError(path, "not a dancegen genre head", "write one with `dancegen data train-genre-classifier`")
        config = GenreClassifierConfig.model_validate(payload["config"])
        state = {k: v.float() for k, v in payload["state_dict"].items()}
        dim = state["heads.0.0.weight"].shape[0]  # the first LayerNorm's width
        head = build_head(dim, len(payload["genres"]), config.hidden, config.dropout, config.members)
        head.load_state_dict(state)
        return cls(head, tuple(payload["genres"]), config, payload["encoder"], payload.get("metrics"))


# --- training and evaluation ----------------------------------------------------------------

def evaluate(classifier: GenreClassifier, embeddings: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy over the whole genre list and within each dataset vocabulary (only the
    examples whose genre that vocabulary has), plus per-genre accuracy and the mistakes."""
    labels = list(labels)
    report: dict[str, Any] = {"examples": len(labels), "accuracy": {}}
    for name, vocab in VOCABULARIES.items():
        rows = [i for i, g in enumerate(labels) if g in vocab]
        if not rows or not set(vocab.genres) & set(classifier.genres):
            continue
        genres, probs = classifier.probabilities(embeddings[rows], vocab)
        predicted = [genres[i] for i in probs.argmax(axis=1)]
        report["accuracy"][name] = round(float(np.mean([p == labels[r] for p, r in zip(predicted, rows)])), 4)
        if name == "all":
            report["per_genre"] = {g: round(float(np.mean([p == g for p, r in zip(predicted, rows) if labels[r] == g])), 3)
                                   for g in genres}
            report["mistakes"] = [f"{labels[r]} -> {p}" for p, r in zip(predicted, rows) if p != labels[r]]
    return report


def train_genre_classifier(
    config: GenreClassifierConfig | None = None,
    description_set: DescriptionSet | None = None,
    encoder: Any = None,
) -> GenreClassifier:
    """Train the head (full batch, AdamW); `metrics` holds the held-out evaluation."""
    import torch

    config = config or GenreClassifierConfig()
    if not 0 < config.heldout_fraction < 1:
        raise ArgumentError("heldout_fraction", f"must be in (0, 1), got {config.heldout_fraction}")
    description_set = description_set or load_descriptions()
    encoder = encoder or text_encoder(ENCODER_NAME)
    genres = tuple(description_set.descriptions)
    train, heldout = training_examples(description_set, config)
    x = torch.as_tensor(np.asarray(encoder.encode([t for t, _ in train])), dtype=torch.float32)
    y = torch.tensor([genres.index(g) for _, g in train])

    torch.manual_seed(config.seed)
    head = build_head(x.shape[1], len(genres), config.hidden, config.dropout, config.members)
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    losses = []
    head.train()
    for _ in range(config.steps):
        loss = torch.nn.functional.cross_entropy(head(x), y, label_smoothing=config.label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    classifier = GenreClassifier(head, genres, config, ENCODER_NAME)
    heldout_x = np.asarray(encoder.encode([t for t, _ in heldout]), dtype=np.float32)
    classifier.metrics = {
        "train_examples": len(train),
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
        "heldout": evaluate(classifier, heldout_x, [g for _, g in heldout]),
    }
    return classifier


# --- the shipped head ---------------------------------------------------------------------

def text_encoder(name: str = ENCODER_NAME):
    """The process-wide encoder (`text.shared_text_encoder`): the pipelines embed prompts with
    the same instance, so MiniLM loads once per process."""
    from dancegen.text import shared_text_encoder

    return shared_text_encoder(name)


@lru_cache(maxsize=1)
def default_classifier() -> GenreClassifier:
    return GenreClassifier.load(HEAD_PATH)


def predict_genre(text: str, vocabulary: str | GenreVocabulary | None = None) -> tuple[str, float]:
    """The genre a free-form description most likely means, and its probability, with the
    shipped head (restricted to a dataset vocabulary if given)."""
    if not text or not text.strip():
        raise ArgumentError("text", "is empty", "describe the dance, e.g. 'fast footwork and spins on the floor'")
    return default_classifier().predict([text], vocabulary)[0]
