"""Training: the per-step computation (`module`), the loop on Lightning Fabric (`trainer`),
EMA weights (`ema`) and checkpoints that load with `weights_only=True` (`checkpoint`)."""

from dancegen.train.checkpoint import ModelBundle, load_checkpoint, load_model_bundle, save_checkpoint
from dancegen.train.ema import EMA
from dancegen.train.module import GCDanceModule
from dancegen.train.trainer import TrainingData, TrainResult, build_training_data, train

__all__ = [
    "EMA",
    "GCDanceModule",
    "ModelBundle",
    "TrainResult",
    "TrainingData",
    "build_training_data",
    "load_checkpoint",
    "load_model_bundle",
    "save_checkpoint",
    "train",
]
