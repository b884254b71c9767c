"""Reproduce dancegen's shipped default model, gcdance-small, from the shared data kit.

    python -m dancegen.recipes.gcdance_small --kit ../shared/data     # pair → train → evaluate → ship
    python -m dancegen.recipes.gcdance_small --kit ../shared/data --stage evaluate --model out/kit_model/model.pt

1. pair: every clip of the four commercially usable motion folders (cmu05, cmu_salsa,
   deepmimic, isaacgym_amp; never bandai, which is non-commercial) is retargeted to SMPL-24 and
   warped onto its two best-matching kit songs (`data.pairing.pair_folders`), one folder of
   pairs per motion folder under `out/kit_paired/pairs/` (a folder already paired is reused).
2. assemble: the pairs become one generic-folder dataset, `out/kit_paired/dataset/`, with a
   fixed split: the clips in HELD_OUT (all their pairs) are the test set, the rest train;
   the songs in HELD_OUT_SONGS are never paired (`recipes/kit.py`).
3. train: `configs/gcdance_small.yaml` on the train split (the CMU move descriptions reach the
   model as per-clip text, see `trainer.clip_prompt`).
4. evaluate: the model dances to each held-out pair's music (its move labels as prompt) and
   is scored against the real held-out clips: BAS, FID_k/Div_k, PFC, foot skating.
5. ship: the EMA inference bundle, with its name, description and licence in the header, is
   written to `dancegen/models/weights/gcdance-small.pt`.

Everything is deterministic given the kit (seeded training, fixed split, seeded sampling).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from dancegen.fileio import atomic_write_text
from dancegen.recipes.kit import REPO_ROOT, ShippedModel, recipe_main

CONFIG = REPO_ROOT / "configs" / "gcdance_small.yaml"
SHIPPED = ShippedModel(
    "gcdance-small",
    "dancegen's default model: GCDance small (1.6 M parameters) trained on the data kit's commercially "
    "usable dance (no Bandai); see MODEL_CARD.md",
    command="make default-model",
)
MODEL_NAME = SHIPPED.name
DEFAULT_RUN = Path("out") / "kit_model"


def train_model(dataset_dir: Path, run_dir: Path, overrides: list[str], minutes: float | None = None) -> Path:
    """Train the small config; with `minutes`, stop at the first checkpoint past that budget.

    The run goes in chunks of `train.checkpoint_every` steps, each resuming `last.ckpt`
    exactly, so stopping after N steps gives the same model as `train.max_steps=N` would.
    """
    from dancegen.families import load_family_config
    from dancegen.models.gcdance.task import GCDanceTask
    from dancegen.train.loop import train

    settings = [f"data.root={dataset_dir}", "data.split=train", f"train.out_dir={run_dir}",
                f"train.model_name={MODEL_NAME}", *overrides]
    config = load_family_config(CONFIG, settings)
    started = time.perf_counter()
    data = GCDanceTask(config)
    data.prepare(None, progress=True)
    chunk, step = config.train.checkpoint_every, 0
    while step < config.train.max_steps:
        target = min(step + chunk, config.train.max_steps)
        part = config.model_copy(update={"train": config.train.model_copy(update={"max_steps": target})})
        result = train(part, task=GCDanceTask(part, data=data.data), resume=run_dir / "last.ckpt" if step else None)
        step = result.step
        elapsed = (time.perf_counter() - started) / 60
        print(f"step {step}: loss {result.history[-1]['total']:.4f}, {elapsed:.1f} min", flush=True)
        if minutes is not None and elapsed * (step + chunk) / step > minutes:
            break  # the next chunk would overrun the budget
    minutes_used = (time.perf_counter() - started) / 60
    print(f"trained {step} steps in {minutes_used:.1f} min", flush=True)
    record = {"steps": step, "minutes": round(minutes_used, 2), "batch_size": config.train.batch_size,
              "windows": len(data.dataset(data.stages()[0])), "clips": len(data.data.motion),
              "clips_with_move_labels": sum(p >= 0 for p in data.data.prompts)}
    atomic_write_text(run_dir / "train_time.json", json.dumps(record) + "\n")
    return run_dir / "model.pt"


def main(argv: list[str] | None = None) -> int:
    return recipe_main(argv, "python -m dancegen.recipes.gcdance_small", __doc__, SHIPPED, DEFAULT_RUN, train_model)


if __name__ == "__main__":
    sys.exit(main())
