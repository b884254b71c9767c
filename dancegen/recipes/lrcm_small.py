"""Build the shipped LRCM model, lrcm-small, from the shared data kit.

    python -m dancegen.recipes.lrcm_small --kit ../shared/data      # pair → annotate → train → evaluate → ship
    python -m dancegen.recipes.lrcm_small --stage evaluate --model out/lrcm_model/model.pt

The kit is paired and split as for every shipped model (`recipes/kit.py`: no Bandai, held-out
clips and songs). LRCM needs the decoupled text of each clip: the pairs are assembled into their
own folder, `out/kit_paired/dataset_lrcm/`, where `data.autoannotate` adds the timed local moves
it detects in each warped clip (spin, jump, kick, arm raise, travel, freeze, ...) to the pair's
sidecar, keeping its genre and the CMU description as global style. `configs/lrcm_small.yaml`
then trains the three phases (global text + audio → local text → motion memory).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dancegen.fileio import atomic_write_text
from dancegen.recipes.kit import REPO_ROOT, ShippedModel, assemble, prepare_kit, recipe_main, train_family

CONFIG = REPO_ROOT / "configs" / "lrcm_small.yaml"
SHIPPED = ShippedModel(
    "lrcm-small",
    "LRCM small: residual denoiser with audio Conformer, text cross-Conformer (global style + timed moves) and "
    "bidirectional Mamba memory, trained on the data kit's commercially usable dance (no Bandai); see MODEL_CARD.md",
    command="make lrcm-model",
)
DEFAULT_RUN = Path("out") / "lrcm_model"
DATASET = "dataset_lrcm"


def annotated_dataset(kit: Path | None, work: Path) -> Path:
    """The paired kit with every clip's timed moves detected; reused when already annotated."""
    from dancegen.data.autoannotate import annotate_folder

    dataset_dir = work / DATASET
    report = dataset_dir / "annotate_report.json"
    if kit is None and report.is_file():
        return dataset_dir
    if kit is not None:
        prepare_kit(kit, work)
    assemble(work / "pairs", dataset_dir)
    run = annotate_folder(dataset_dir, progress=print)
    summary = {"clips": len(run.written), "skipped": run.skipped, "tokens": dict(run.counts())}
    atomic_write_text(report, json.dumps(summary, indent=1) + "\n")
    print(f"annotated {len(run.written)} clips: {summary['tokens']}", flush=True)
    return dataset_dir


def train_model(dataset_dir: Path, run_dir: Path, overrides: list[str], minutes: float | None = None) -> Path:
    return train_family(CONFIG, dataset_dir, run_dir, SHIPPED.name, overrides)


def main(argv: list[str] | None = None) -> int:
    return recipe_main(argv, "python -m dancegen.recipes.lrcm_small", __doc__, SHIPPED, DEFAULT_RUN, train_model,
                       dataset=annotated_dataset)


if __name__ == "__main__":
    sys.exit(main())
