"""The music section of a family's config: which feature kind conditions the model, and its width.

    class MusicConfig(MusicFeatures):      # in a family's config, with its own defaults
        features: str = "lda3"
        dim: int = 3

`dim` is checked against the kind (`audio.features.feature_dim`), so a config whose network
width disagrees with its features fails when it is read, naming both keys.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from dancegen.config import StrictConfig


class MusicFeatures(StrictConfig):
    features: str = "baseline35"  # a kind of dancegen.audio.features, or kinds joined by "+"
    dim: int = Field(35, ge=1)  # columns of `features`

    @model_validator(mode="after")
    def _dim_matches_the_features(self) -> "MusicFeatures":
        from dancegen.audio.features import feature_dim
        from dancegen.errors import DanceGenError

        try:
            columns = feature_dim(self.features)
        except DanceGenError as error:
            raise ValueError(f"music.features: {error}") from None
        if columns != self.dim:
            raise ValueError(f"music.dim: is {self.dim} but {self.features} has {columns} columns")
        return self
