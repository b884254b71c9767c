"""Build the shipped DanceMosaic model, mosaic-small, from the shared data kit.

    python -m dancegen.recipes.mosaic_small --kit ../shared/data      # pair → train → evaluate → ship
    python -m dancegen.recipes.mosaic_small --stage evaluate --model out/mosaic_model/model.pt

The kit is paired and split as for every shipped model (`recipes/kit.py`: no Bandai, held-out
clips and songs). `configs/mosaic_small.yaml` trains its five stages in order (tokenizer → T2M
on the clips' genre prompts and CMU descriptions → music adapter → pose adapter → residual
transformer); an interrupted run resumes from its last checkpoint.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dancegen.recipes.kit import REPO_ROOT, ShippedModel, recipe_main, train_family

CONFIG = REPO_ROOT / "configs" / "mosaic_small.yaml"
SHIPPED = ShippedModel(
    "mosaic-small",
    "DanceMosaic small: residual VQ tokens + masked transformers with music and pose adapters, trained on the "
    "data kit's commercially usable dance (no Bandai); see MODEL_CARD.md",
    command="make mosaic-model",
)
DEFAULT_RUN = Path("out") / "mosaic_model"


def train_model(dataset_dir: Path, run_dir: Path, overrides: list[str], minutes: float | None = None) -> Path:
    return train_family(CONFIG, dataset_dir, run_dir, SHIPPED.name, overrides)


def main(argv: list[str] | None = None) -> int:
    return recipe_main(argv, "python -m dancegen.recipes.mosaic_small", __doc__, SHIPPED, DEFAULT_RUN, train_model)


if __name__ == "__main__":
    sys.exit(main())
