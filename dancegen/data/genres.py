"""Dance genres: one canonical list, and the vocabularies of each data source mapped onto it.

A *genre* is a canonical key (`"middle_hiphop"`) with a display name used in prompts
("Middle Hip-hop"). A *vocabulary* is the label set of one data source in that source's own
class order (AIST++ `gMH`, FineDance `Hiphop`, Motorica `gLH`), each label mapped to a genre.
Where two sources name the same dance (AIST++ `gBR`, FineDance `Breaking`) they share a genre,
so a model trained on one source and a classifier trained on all speak the same keys.

Sources of the labels:
- AIST++ (Li et al. 2021; AIST Dance DB, Tsuchida et al. 2019): the 10 genre codes in the
  sequence names, in the order of EDGE/LODGE's `Genres_aist` table.
- FineDance (Li et al. 2023): the 16 classes of the `style2` field of `label_json/*.json` as
  LODGE's `Genres_fd` table groups them (its aliases `Tai`/`Wei`/`Hmong`/`jazz` included).
  "Korean" is read as Korean-ethnic folk dance (朝鲜族舞), one of the standard Chinese
  folk-dance curricula beside Dai, Miao and Uyghur; "Chinese" as Chinese-style (国风)
  choreography; "Choreography" as commercial studio choreography.
- Motorica Dance (Alexanderson et al. 2023): the 8 style codes of the LDA file names, in the
  order of LDA's `dance_styles.txt`. Motorica tags its hip-hop `gLH` but calls it "Hiphop", so
  it maps to the generic `hiphop`, not to AIST++'s LA-style hip-hop.
- The shared kit: a style for each motion folder (see its README).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dancegen.errors import ArgumentError

# GCDance's text prompt for a genre (Liu et al., "GCDance", section 3.2).
GENRE_PROMPT = "This is a {genre} type of music."


@dataclass(frozen=True)
class Genre:
    key: str  # canonical id: lowercase, underscores
    name: str  # display name, as it goes into the prompt
    aliases: tuple[str, ...] = ()  # other spellings a user or a file may use


_GENRE_LIST = (
    # AIST++ street-dance genres.
    Genre("breaking", "Break", ("break", "breakdance", "breakdancing", "b-boying", "bboy", "breaking")),
    Genre("popping", "Pop", ("pop", "popping", "popping dance")),
    Genre("locking", "Lock", ("lock", "locking")),
    Genre("middle_hiphop", "Middle Hip-hop", ("middle hip-hop", "middle hiphop", "middle school hip-hop", "old school hip-hop")),
    Genre("la_hiphop", "LA style Hip-hop", ("la hip-hop", "la hiphop", "la style hip-hop", "la-style hip-hop")),
    Genre("house", "House", ("house", "house dance")),
    Genre("waacking", "Waack", ("waack", "waacking", "whacking", "punking")),
    Genre("krump", "Krump", ("krump", "krumping")),
    Genre("street_jazz", "Street Jazz", ("street jazz", "jazz funk", "jazz")),
    Genre("ballet_jazz", "Ballet Jazz", ("ballet jazz",)),
    # FineDance adds these.
    Genre("hiphop", "Hip-hop", ("hip-hop", "hiphop", "hip hop")),
    Genre("urban", "Urban", ("urban", "urban dance", "urban choreography")),
    Genre("dai", "Dai", ("dai", "tai", "dai folk dance", "peacock dance")),
    Genre("uyghur", "Uyghur", ("uyghur", "uighur", "wei", "uyghur folk dance")),
    Genre("miao", "Miao", ("miao", "hmong", "miao folk dance")),
    Genre("hantang", "Han-Tang", ("hantang", "han-tang", "han tang", "han tang dance")),
    Genre("shenyun", "Shenyun", ("shenyun", "shen yun", "body rhyme")),
    Genre("kun", "Kun opera", ("kun", "kunqu", "kun opera")),
    Genre("dunhuang", "Dunhuang", ("dunhuang", "dun huang", "dunhuang dance")),
    Genre("korean", "Korean folk", ("korean", "korean folk", "korean folk dance")),
    Genre("choreography", "Choreography", ("choreography", "commercial choreography")),
    Genre("chinese", "Chinese style", ("chinese", "chinese style", "guofeng")),
    # Motorica adds these.
    Genre("vintage_jazz", "Vintage Jazz", ("vintage jazz", "swing", "lindy hop", "authentic jazz")),
    Genre("charleston", "Charleston", ("charleston",)),
    Genre("tap", "Tap", ("tap", "tapping", "tap dance")),
    Genre("casual", "Casual", ("casual", "casual dance", "party dance")),
    # The kit's styles.
    Genre("modern_ballet", "Modern Ballet", ("modern ballet", "ballet", "modern dance", "contemporary ballet")),
    Genre("salsa", "Salsa", ("salsa",)),
    Genre("whirl", "Whirl", ("whirl", "whirling", "spinning dance")),
)

GENRES: dict[str, Genre] = {genre.key: genre for genre in _GENRE_LIST}


def _normalise(text: str) -> str:
    return " ".join(text.strip().lower().replace("_", " ").split())


def _lookup_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for genre in _GENRE_LIST:
        for spelling in (genre.key, genre.name, *genre.aliases):
            table.setdefault(_normalise(spelling), genre.key)
    return table


_SPELLINGS = _lookup_table()


@dataclass(frozen=True)
class GenreVocabulary:
    """The genre labels of one data source, in its class-index order."""

    name: str
    labels: tuple[str, ...]  # the source's own labels, index = class id
    genres: tuple[str, ...]  # canonical genre key of each label
    aliases: dict[str, str] = field(default_factory=dict)  # other label spellings -> label

    def __post_init__(self) -> None:
        assert len(self.labels) == len(self.genres), self.name
        unknown = [g for g in self.genres if g not in GENRES]
        assert not unknown, f"{self.name}: unknown genres {unknown}"

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, genre: str) -> bool:
        return genre in self.genres

    def genre_of(self, label: str) -> str:
        """Canonical genre of one of this source's labels (`"gBR"` -> `"breaking"`)."""
        label = self.aliases.get(label, label)
        if label in self.labels:
            return self.genres[self.labels.index(label)]
        raise ArgumentError(
            f"genre label {label!r}", f"not a {self.name} label", f"use one of {', '.join(self.labels)}"
        )

    def label_of(self, genre: str) -> str:
        return self.labels[self.index(genre)]

    def index(self, genre: str) -> int:
        """Class index of a canonical genre in this vocabulary."""
        if genre not in self.genres:
            raise ArgumentError(
                f"genre {genre!r}", f"not in the {self.name} vocabulary", f"use one of {', '.join(self.genres)}"
            )
        return self.genres.index(genre)


AISTPP = GenreVocabulary(
    "aistpp",
    labels=("gBR", "gPO", "gLO", "gMH", "gLH", "gHO", "gWA", "gKR", "gJS", "gJB"),
    genres=("breaking", "popping", "locking", "middle_hiphop", "la_hiphop", "house", "waacking", "krump",
            "street_jazz", "ballet_jazz"),
)

FINEDANCE = GenreVocabulary(
    "finedance",
    labels=("Breaking", "Popping", "Locking", "Hiphop", "Urban", "Jazz", "Dai", "Uighur", "Miao", "HanTang",
            "ShenYun", "Kun", "DunHuang", "Korean", "Choreography", "Chinese"),
    # FineDance's "Jazz" is the commercial street-jazz style AIST++ calls gJS.
    genres=("breaking", "popping", "locking", "hiphop", "urban", "street_jazz", "dai", "uyghur", "miao",
            "hantang", "shenyun", "kun", "dunhuang", "korean", "choreography", "chinese"),
    aliases={"jazz": "Jazz", "Tai": "Dai", "Wei": "Uighur", "Hmong": "Miao"},
)

MOTORICA = GenreVocabulary(
    "motorica",
    labels=("gCA", "gCH", "gJZ", "gKR", "gLH", "gLO", "gPO", "gTP"),
    genres=("casual", "charleston", "vintage_jazz", "krump", "hiphop", "locking", "popping", "tap"),
)

# The kit's motion folders. DeepMimic's clips have no style upstream; they are short party-style
# loops, nearest to Motorica's "casual". Bandai's `dance-short_normal` is its "normal" style.
KIT_FOLDER_GENRES = {
    "cmu05": "modern_ballet",
    "cmu_salsa": "salsa",
    "deepmimic": "casual",
    "isaacgym_amp": "whirl",
    "bandai": "casual",
}
KIT = GenreVocabulary("kit", labels=("modern_ballet", "salsa", "whirl", "casual"),
                      genres=("modern_ballet", "salsa", "whirl", "casual"))

ALL = GenreVocabulary("all", labels=tuple(GENRES), genres=tuple(GENRES))

VOCABULARIES: dict[str, GenreVocabulary] = {v.name: v for v in (AISTPP, FINEDANCE, MOTORICA, KIT, ALL)}


def get_vocabulary(name: str | GenreVocabulary | None) -> GenreVocabulary:
    """A vocabulary by name (`aistpp`, `finedance`, `motorica`, `kit`, `all`); None means all."""
    if isinstance(name, GenreVocabulary):
        return name
    if name is None:
        return ALL
    try:
        return VOCABULARIES[name.lower()]
    except KeyError:
        raise ArgumentError("--vocabulary", f"unknown genre vocabulary {name!r}",
                            f"use one of {', '.join(VOCABULARIES)}") from None


def find_genre(text: str) -> str | None:
    """The canonical genre a label or name spells (`"gMH"`, `"Hip-hop"`, `"Tai"`), else None."""
    for vocabulary in (AISTPP, FINEDANCE, MOTORICA):
        label = vocabulary.aliases.get(text, text)
        if label in vocabulary.labels:
            return vocabulary.genres[vocabulary.labels.index(label)]
    return _SPELLINGS.get(_normalise(text))


def resolve_genre(text: str, vocabulary: str | GenreVocabulary | None = None) -> str:
    """`find_genre`, but an unknown genre (or one outside `vocabulary`) is a one-line error."""
    vocab = get_vocabulary(vocabulary)
    genre = find_genre(text)
    if genre is None or genre not in vocab:
        choices = ", ".join(vocab.genres)
        raise ArgumentError("--genre", f"unknown genre {text!r} for the {vocab.name} vocabulary", f"use one of {choices}")
    return genre


def genre_prompt(genre: str) -> str:
    """GCDance's prompt for a canonical genre: "This is a Middle Hip-hop type of music."."""
    return GENRE_PROMPT.format(genre=GENRES[genre].name)


def clip_prompt(genre: str | None, moves: str) -> str:
    """The text that conditions a clip labelled with `moves` ("expressive arms, pirouette"):
    its genre's prompt followed by the moves, so genre and moves share one embedding.
    Generation builds the same text from the user's prompt."""
    return f"{genre_prompt(genre)} {moves.strip()}" if genre else moves.strip()
