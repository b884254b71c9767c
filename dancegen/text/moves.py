"""The local move vocabulary: the timed tokens a prompt, an annotator or a detector may use.

LRCM (Duan et al. 2026) writes local moves as short phrases ("walk out", "spin", "foot
movement"). dancegen keeps one shared list of canonical move tokens so that prompts normalised
offline, inline `--moves` and `dancegen data annotate` speak the same words. Each `Move` has

- `token`: the canonical phrase written into annotations;
- `synonyms`: words and phrases that name it in free text (matched whole-word, longest first);
- `description`: one sentence used for embedding nearest neighbours (MiniLM), which catches
  wordings the synonym list misses ("whip around on one leg" -> spin);
- `detectable`: whether `dancegen.data.autoannotate` finds it in motion.

Pure text: nothing here knows about `Annotation` (that lives in `dancegen.data`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

# Cosine similarity (unit MiniLM embeddings) a phrase needs to its nearest move description
# to be read as that move; below it the phrase names no move. Set on a handful of paraphrases:
# "put my hands together loudly" -> clap 0.33, "stay totally motionless" -> freeze 0.38,
# "bang the floor with my heel" -> stomp 0.45; "the chorus" 0.22, "a nice cup of tea" 0.10.
DEFAULT_MIN_SIMILARITY = 0.3


@dataclass(frozen=True)
class Move:
    token: str
    synonyms: tuple[str, ...]
    description: str
    detectable: bool = False


MOVES: tuple[Move, ...] = (
    Move("spin", ("spin", "spins", "spinning", "spun", "pirouette", "pirouettes", "twirl", "twirls", "twirling",
                  "whirl", "whirls", "whirling", "full turn", "360", "fouette", "fouettes", "tourner"),
         "the dancer spins around a full turn on the spot", True),
    Move("turn", ("turn", "turns", "turning", "half turn", "quarter turn", "rotate", "rotates", "rotation",
                  "pivot", "pivots", "tour", "en tourant"),
         "the dancer turns the body to face another direction", True),
    Move("jump", ("jump", "jumps", "jumping", "leap", "leaps", "leaping", "jete", "jetes", "jeté", "jetés",
                  "grand jete", "airborne", "spring", "springs", "sauté", "saute"),
         "the dancer jumps up off the floor with both feet", True),
    Move("hop", ("hop", "hops", "hopping"), "the dancer hops on one foot", False),
    Move("kick", ("kick", "kicks", "kicking", "high kick", "battement", "grand battement"),
         "the dancer kicks one leg up fast", True),
    Move("arm raise", ("arm raise", "arms raised", "raise arms", "raises arms", "raise the arms", "raise his arms",
                       "raise her arms", "raise their arms", "raise your arms", "arms up", "hands up", "arms held high",
                       "arms high", "hands in the air", "reach up", "reaches up", "reaching up", "arms overhead"),
         "the dancer raises both arms above the head", True),
    Move("floor work", ("floor work", "floorwork", "on the floor", "to the floor", "drop to the floor", "get down",
                        "gets down", "go low", "goes low", "down low", "crouch", "crouches", "squat", "squats",
                        "kneel", "kneels", "roll on the floor", "windmill", "footwork on the floor"),
         "the dancer goes down low to the floor, hands touching the ground", True),
    Move("travel", ("travel", "travels", "traveling", "travelling", "walk", "walks", "walking", "run", "runs",
                    "running", "move across", "moves across", "cross the stage", "crosses the stage",
                    "across the stage", "walk out", "chasse", "chassé", "glissade", "locomotion"),
         "the dancer travels across the floor, walking or running to a new place", True),
    Move("freeze", ("freeze", "freezes", "frozen", "hold", "holds", "hold still", "pose", "poses", "pause",
                    "pauses", "stop", "stops", "stand still", "strike a pose", "strikes a pose"),
         "the dancer holds completely still in a pose", True),
    Move("stomp", ("stomp", "stomps", "stomping", "stamp", "stamps", "stamping"),
         "the dancer stomps a foot hard on the floor", True),
    Move("clap", ("clap", "claps", "clapping", "hand clap", "handclap"), "the dancer claps both hands together", True),
    Move("wave", ("wave", "waves", "waving", "arm wave", "body wave", "body roll", "body rolls"),
         "the dancer makes a flowing wave through the arms or body", False),
    Move("sway", ("sway", "sways", "swaying", "rock", "rocks", "rocking"),
         "the dancer sways gently from side to side", False),
    Move("step", ("step", "steps", "stepping", "step touch", "side step", "side steps", "sideways steps"),
         "the dancer steps from one foot to the other in place", False),
    Move("slide", ("slide", "slides", "sliding", "glide", "glides", "gliding", "moonwalk", "moonwalks"),
         "the dancer slides a foot smoothly along the floor", False),
    Move("bounce", ("bounce", "bounces", "bouncing", "groove", "grooves", "bop", "bops"),
         "the dancer bounces up and down on the beat with bent knees", False),
    Move("shimmy", ("shimmy", "shimmies", "shimmying", "shake", "shakes", "shaking"),
         "the dancer shakes the shoulders quickly back and forth", False),
    Move("isolation", ("isolation", "isolations", "isolate", "pop", "pops", "popping", "hit", "hits", "tut",
                       "tutting"),
         "the dancer moves one body part alone, popping or isolating the chest, head or arms", False),
    Move("arabesque", ("arabesque", "arabesques", "attitude", "raised leg", "leg extension", "developpe",
                       "développé"),
         "the dancer balances on one leg with the other leg extended behind", False),
    Move("bend back", ("bend back", "bending back", "bends back", "back bend", "backbend", "arch back"),
         "the dancer arches and bends the upper body backwards", False),
    Move("cartwheel", ("cartwheel", "cartwheels", "cartwheel-like"),
         "the dancer turns sideways over the hands like a wheel", False),
)

_WORD_CHARS = r"[\w'-]"


@dataclass(frozen=True)
class MoveMatch:
    token: str
    start: int  # character offsets of the matched words in the searched text
    end: int


class MoveVocabulary:
    """A list of `Move`s with a lexical matcher and an embedding nearest-neighbour lookup."""

    def __init__(self, moves: Sequence[Move] = MOVES, min_similarity: float = DEFAULT_MIN_SIMILARITY):
        self.moves = tuple(moves)
        self.min_similarity = min_similarity
        self._by_token = {move.token: move for move in self.moves}
        # Longest synonyms first so "full turn" wins over "turn" and "grand jete" over "jete".
        pairs = sorted(((s.lower(), m.token) for m in self.moves for s in (m.token, *m.synonyms)),
                       key=lambda pair: -len(pair[0]))
        self._synonyms = dict(pairs)
        alternation = "|".join(re.escape(s) for s, _ in pairs)
        self._pattern = re.compile(rf"(?<!{_WORD_CHARS})(?:{alternation})(?!{_WORD_CHARS})", re.IGNORECASE)
        self._table: np.ndarray | None = None
        self._table_encoder: Any = None  # the encoder the table was embedded with

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(move.token for move in self.moves)

    @property
    def detectable(self) -> tuple[str, ...]:
        return tuple(move.token for move in self.moves if move.detectable)

    def __contains__(self, token: str) -> bool:
        return token in self._by_token

    def order(self, tokens: Sequence[str]) -> tuple[str, ...]:
        """`tokens` without repeats, in vocabulary order (unknown tokens last, as given)."""
        known = [t for t in self.tokens if t in tokens]
        return tuple(known + [t for t in dict.fromkeys(tokens) if t not in self._by_token])

    def find_all(self, text: str) -> list[MoveMatch]:
        """Every move named in `text`, left to right, by its synonyms (whole words)."""
        return [MoveMatch(self._synonyms[m.group(0).lower()], m.start(), m.end()) for m in self._pattern.finditer(text)]

    def lookup(self, phrase: str) -> str | None:
        """The move a short phrase names (its first lexical match), else None."""
        found = self.find_all(phrase)
        return found[0].token if found else None

    def canonical(self, phrase: str) -> str:
        """A token as the vocabulary spells it: a known move's token, else the phrase, tidied."""
        tidy = " ".join(phrase.strip().lower().split())
        return self._synonyms.get(tidy, tidy)

    def nearest(self, phrases: Sequence[str], encoder: Any) -> list[tuple[str | None, float]]:
        """For each phrase, the move whose description its embedding is closest to (cosine) and
        the similarity; None where the best is below `min_similarity`. `encoder` is anything
        with `.encode(list[str]) -> (N, D)` unit vectors (a `dancegen.text` encoder)."""
        if not phrases:
            return []
        if self._table is None or self._table_encoder is not encoder:
            self._table = np.asarray(encoder.encode([m.description for m in self.moves]), dtype=np.float32)
            self._table_encoder = encoder
        queries = np.asarray(encoder.encode(list(phrases)), dtype=np.float32)
        similarity = queries @ self._table.T
        best = similarity.argmax(axis=1)
        return [(self.moves[b].token if similarity[i, b] >= self.min_similarity else None, float(similarity[i, b]))
                for i, b in enumerate(best)]


DEFAULT_VOCABULARY = MoveVocabulary()
